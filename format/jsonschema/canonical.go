package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Parse reads a JSON Schema document: an object or a boolean (true accepts every value, false
// none), numbers kept as written. It checks the document is JSON and that the keywords the
// compatibility rules read have the JSON types they must have; it does not resolve $ref.
func Parse(text string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parsing JSON Schema: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("parsing JSON Schema: text after the schema")
	}
	if err := check(doc, "#"); err != nil {
		return nil, fmt.Errorf("parsing JSON Schema: %w", err)
	}
	return doc, nil
}

// check verifies the shape of the keywords that hold subschemas.
func check(s any, path string) error {
	switch v := s.(type) {
	case bool:
		return nil
	case map[string]any:
		for k, x := range v {
			switch k {
			case "properties", "definitions", "$defs", "patternProperties":
				m, ok := x.(map[string]any)
				if !ok {
					return fmt.Errorf("%s/%s is not an object", path, k)
				}
				for name, sub := range m {
					if err := check(sub, path+"/"+k+"/"+name); err != nil {
						return err
					}
				}
			case "items", "additionalProperties", "additionalItems", "not":
				if _, isArray := x.([]any); isArray && k == "items" {
					for i, sub := range x.([]any) {
						if err := check(sub, fmt.Sprintf("%s/items/%d", path, i)); err != nil {
							return err
						}
					}
					continue
				}
				if err := check(x, path+"/"+k); err != nil {
					return err
				}
			case "oneOf", "anyOf", "allOf":
				subs, ok := x.([]any)
				if !ok || len(subs) == 0 {
					return fmt.Errorf("%s/%s is not a non-empty array", path, k)
				}
				for i, sub := range subs {
					if err := check(sub, fmt.Sprintf("%s/%s/%d", path, k, i)); err != nil {
						return err
					}
				}
			case "type":
				if err := checkType(x); err != nil {
					return fmt.Errorf("%s/type: %w", path, err)
				}
			case "required":
				names, ok := x.([]any)
				if !ok {
					return fmt.Errorf("%s/required is not an array", path)
				}
				for _, n := range names {
					if _, ok := n.(string); !ok {
						return fmt.Errorf("%s/required holds a non-string", path)
					}
				}
			}
		}
		return nil
	}
	return fmt.Errorf("%s is not an object or a boolean", path)
}

var knownTypes = map[string]bool{"null": true, "boolean": true, "object": true, "array": true, "number": true, "integer": true, "string": true}

func checkType(t any) error {
	switch v := t.(type) {
	case string:
		if !knownTypes[v] {
			return fmt.Errorf("unknown type %q", v)
		}
		return nil
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok || !knownTypes[s] {
				return fmt.Errorf("unknown type %v", x)
			}
		}
		return nil
	}
	return errors.New("not a string or an array of strings")
}

// Canonicalize parses text (Parse) and returns it with its canonical text: compact JSON with
// every object's keys sorted and numbers as written. It is the schema's identity in a registry:
// two texts that differ only in spacing or key order are the same schema.
func Canonicalize(text string) (any, string, error) {
	doc, err := Parse(text)
	if err != nil {
		return nil, "", err
	}
	return doc, Canonical(doc), nil
}

// Canonical writes a parsed schema (or any JSON value of maps, slices, json.Number, strings,
// bools and nil) compactly, keys sorted (encoding/json sorts map keys), HTML left unescaped.
func Canonical(doc any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// A parsed document holds only JSON values: encoding cannot fail.
	_ = enc.Encode(doc)
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
