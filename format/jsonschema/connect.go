package jsonschema

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// connectSchema is a Kafka Connect schema in JsonConverter's JSON (format/json writes them).
type connectSchema struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name"`
	Version    *int              `json:"version"`
	Doc        string            `json:"doc"`
	Parameters map[string]string `json:"parameters"`
	Default    json.RawMessage   `json:"default"`
	Field      string            `json:"field"`
	Fields     []connectSchema   `json:"fields"`
	Items      *connectSchema    `json:"items"`
	Keys       *connectSchema    `json:"keys"`
	Values     *connectSchema    `json:"values"`
}

// decimalName is the Connect logical type of a fixed-scale decimal.
const decimalName = "org.apache.kafka.connect.data.Decimal"

// FromConnect turns a Connect schema (JsonConverter's JSON) into the JSON Schema that describes
// the same payloads, as Confluent's JsonSchemaConverter does (its JsonSchemaData): a struct is
// an object titled with the struct's name whose properties carry their position in
// connect.index; an integer or float keeps its Connect type in connect.type; bytes are a
// base64 string with connect.type bytes; a decimal (org.apache.kafka.connect.data.Decimal) is
// a number when numeric (decimal.format numeric), else a base64 string; a map with string keys
// is an object of its values, any other map an array of {key, value}; an optional schema is
// oneOf null and itself; a name, version and parameters go in connect.name, connect.version and
// connect.parameters, a doc in description, a default in default. Every object is closed
// (additionalProperties false), as JsonSchemaConverter with object.additional.properties=false
// writes it, so that a nullable column added later is a BACKWARD-compatible change.
func FromConnect(connect []byte, numeric bool) (any, error) {
	var s connectSchema
	dec := json.NewDecoder(bytes.NewReader(connect))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("reading the Connect schema: %w", err)
	}
	return convert(&s, numeric, -1)
}

// convert turns s into JSON Schema; index is its position in its struct, or -1.
func convert(s *connectSchema, numeric bool, index int) (any, error) {
	out := map[string]any{}
	connectType := ""
	switch s.Type {
	case "int8", "int16", "int32", "int64":
		out["type"], connectType = "integer", s.Type
	case "float", "float32":
		out["type"], connectType = "number", "float32"
	case "double", "float64":
		out["type"], connectType = "number", "float64"
	case "boolean":
		out["type"] = "boolean"
	case "string":
		out["type"] = "string"
	case "bytes":
		connectType = "bytes"
		out["type"] = "string"
		if s.Name == decimalName && numeric {
			out["type"] = "number"
		}
	case "array":
		if s.Items == nil {
			return nil, fmt.Errorf("array %q without items", s.Field)
		}
		items, err := convert(s.Items, numeric, -1)
		if err != nil {
			return nil, err
		}
		out["type"], out["items"] = "array", items
	case "map":
		if s.Keys == nil || s.Values == nil {
			return nil, fmt.Errorf("map %q without keys or values", s.Field)
		}
		values, err := convert(s.Values, numeric, -1)
		if err != nil {
			return nil, err
		}
		connectType = "map"
		if s.Keys.Type == "string" && !s.Keys.Optional {
			out["type"], out["additionalProperties"] = "object", values
			break
		}
		keys, err := convert(s.Keys, numeric, 0)
		if err != nil {
			return nil, err
		}
		// The document is the json format's, which writes such a map as JsonConverter does:
		// [key, value] pairs (JsonSchemaConverter's own {"key", "value"} objects would not
		// validate it). Each pair is an array of two items, each of the key's or the value's
		// schema: a form every JSON Schema draft reads alike.
		out["type"] = "array"
		out["items"] = map[string]any{"type": "array", "minItems": 2, "maxItems": 2,
			"items": map[string]any{"anyOf": []any{keys, values}}}
	case "struct":
		props := map[string]any{}
		for i := range s.Fields {
			f := &s.Fields[i]
			if _, dup := props[f.Field]; dup {
				return nil, fmt.Errorf("struct %q has the field %q twice", s.Name, f.Field)
			}
			p, err := convert(f, numeric, i)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Field, err)
			}
			props[f.Field] = p
		}
		out["type"], out["properties"], out["additionalProperties"] = "object", props, false
		if s.Name != "" {
			out["title"] = s.Name
		}
	default:
		return nil, fmt.Errorf("unknown Connect type %q", s.Type)
	}
	if connectType != "" {
		out["connect.type"] = connectType
	}
	if s.Name != "" {
		out["connect.name"] = s.Name
	}
	if s.Version != nil {
		out["connect.version"] = *s.Version
	}
	if len(s.Parameters) > 0 {
		params := map[string]any{}
		for k, v := range s.Parameters {
			params[k] = v
		}
		out["connect.parameters"] = params
	}
	if s.Doc != "" {
		out["description"] = s.Doc
	}
	outer := out
	if s.Optional {
		outer = map[string]any{"oneOf": []any{map[string]any{"type": "null"}, out}}
	}
	if len(s.Default) > 0 && string(s.Default) != "null" {
		dec := json.NewDecoder(bytes.NewReader(s.Default))
		dec.UseNumber()
		var d any
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("default of %q: %w", s.Field, err)
		}
		outer["default"] = d
	}
	if index >= 0 {
		outer["connect.index"] = index
	}
	return outer, nil
}
