package json

import (
	"encoding/json"

	"github.com/cdcd-dev/cdcd/decoder"
)

// generatedSchema returns a column's Connect schema (one JSON object) with the parameter that
// marks a generated column (decoder.GeneratedParameter) added to its parameters, which some
// types' schemas already hold (a decimal's scale, an enum's allowed values). It runs once per
// generated column of a table description, not per row: decoding and encoding again is cheap
// there, and keeps the merge of the parameters right whatever the schema holds.
func generatedSchema(schema []byte) []byte {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(schema, &fields); err != nil {
		return schema // not an object: left unmarked rather than broken
	}
	params := map[string]string{}
	if raw, ok := fields["parameters"]; ok {
		if err := json.Unmarshal(raw, &params); err != nil {
			return schema
		}
	}
	params[decoder.GeneratedParameter] = decoder.GeneratedStored
	raw, err := json.Marshal(params)
	if err != nil {
		return schema
	}
	fields["parameters"] = raw
	out, err := json.Marshal(fields)
	if err != nil {
		return schema
	}
	return out
}
