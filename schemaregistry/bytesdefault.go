package schemaregistry

import (
	"encoding/json"
	"strings"

	"github.com/hamba/avro/v2"
)

// hamba/avro writes the default of a bytes field (and the bytes inside a record's default,
// such as a VariableScaleDecimal's) as base64, as Go's JSON encoding writes a []byte; the Avro
// specification wants a string whose code points 0-255 are the bytes. A schema text so written
// would give every other reader (and hamba itself, reading it back) other bytes: a decimal
// column's default of 12.50 would read as garbage. fixBytesDefaults rewrites those defaults in
// the canonical text.

// fixBytesDefaults returns text (hamba's JSON of parsed) with each field default that holds
// bytes written as the specification wants.
func fixBytesDefaults(parsed avro.Schema, text string) (string, error) {
	seen := map[string]bool{}
	var walk func(s avro.Schema) error
	walk = func(s avro.Schema) error {
		switch t := s.(type) {
		case *avro.RecordSchema:
			if seen[t.FullName()] {
				return nil
			}
			seen[t.FullName()] = true
			for _, f := range t.Fields() {
				// The field's own default first: its text is then still hamba's.
				if f.HasDefault() && holdsBytes(f.Default()) {
					var err error
					if text, err = fixFieldDefault(f, text); err != nil {
						return err
					}
				}
				if err := walk(f.Type()); err != nil {
					return err
				}
			}
		case *avro.UnionSchema:
			for _, m := range t.Types() {
				if err := walk(m); err != nil {
					return err
				}
			}
		case *avro.ArraySchema:
			return walk(t.Items())
		case *avro.MapSchema:
			return walk(t.Values())
		}
		return nil
	}
	if err := walk(parsed); err != nil {
		return "", err
	}
	return text, nil
}

// fixFieldDefault replaces f's default in text. hamba writes a field as name, type, default,
// then properties, so the field's own default is the last "default" of its text (a nested
// record's fields come before it, inside the type).
func fixFieldDefault(f *avro.Field, text string) (string, error) {
	fieldJSON, err := f.MarshalJSON()
	if err != nil {
		return "", err
	}
	old, err := json.Marshal(f.Default())
	if err != nil {
		return "", err
	}
	right, err := json.Marshal(specBytes(f.Default()))
	if err != nil {
		return "", err
	}
	key := `"default":` + string(old)
	i := strings.LastIndex(string(fieldJSON), key)
	if i < 0 {
		return text, nil
	}
	fixed := string(fieldJSON[:i]) + `"default":` + string(right) + string(fieldJSON[i+len(key):])
	return strings.Replace(text, string(fieldJSON), fixed, 1), nil
}

func holdsBytes(v any) bool {
	switch t := v.(type) {
	case []byte:
		return true
	case map[string]any:
		for _, e := range t {
			if holdsBytes(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if holdsBytes(e) {
				return true
			}
		}
	}
	return false
}

// specBytes returns v with every []byte turned into the string of its bytes as code points.
func specBytes(v any) any {
	switch t := v.(type) {
	case []byte:
		var s strings.Builder
		for _, c := range t {
			s.WriteRune(rune(c))
		}
		return s.String()
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = specBytes(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = specBytes(e)
		}
		return out
	}
	return v
}
