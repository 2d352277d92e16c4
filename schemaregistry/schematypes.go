package schemaregistry

import (
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"

	avroformat "github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/format/jsonschema"
)

// schemaTypeJSON is JSON Schema (Confluent's JsonSchemaConverter and JSONSerializer register
// theirs under it). PROTOBUF, Confluent's third type, is not served.
const schemaTypeJSON = "JSON"

// schemaTypes are the types GET /schemas/types lists.
var schemaTypes = []string{schemaTypeAvro, schemaTypeJSON}

// normalType returns the type a client or a record names, "" (Confluent's spelling of Avro in
// its records and answers) read as AVRO, and whether it is served.
func normalType(t string) (string, bool) {
	switch t {
	case "", schemaTypeAvro:
		return schemaTypeAvro, true
	case schemaTypeJSON:
		return schemaTypeJSON, true
	}
	return t, false
}

// answeredType is how an answer and a record spell a type: Avro is omitted, as Confluent does.
func answeredType(t string) string {
	if t == schemaTypeAvro {
		return ""
	}
	return t
}

// parsedSchema is a schema parsed by its type: avro for AVRO, json (jsonschema.Parse's
// document) for JSON.
type parsedSchema struct {
	avro avro.Schema
	json any
}

// candidate is a schema of a request or a record, checked, parsed and canonical.
type candidate struct {
	schemaType string
	parsed     parsedSchema
	canonical  string
}

// identity is what makes two schemas the same schema (the same id): the type and the canonical
// text. An Avro schema's is its text alone, as the records of an older cdcd have it.
func identity(schemaType, canonical string) string {
	if schemaType == schemaTypeAvro {
		return canonical
	}
	return schemaType + "\x00" + canonical
}

// canonicalizeTyped parses text as a schema of schemaType (already normalType's).
func canonicalizeTyped(schemaType, text string) (parsedSchema, string, error) {
	switch schemaType {
	case schemaTypeAvro:
		p, canonical, err := canonicalize(text)
		return parsedSchema{avro: p}, canonical, err
	case schemaTypeJSON:
		doc, canonical, err := jsonschema.Canonicalize(text)
		return parsedSchema{json: doc}, canonical, err
	}
	return parsedSchema{}, "", fmt.Errorf("schema type %q is not served", schemaType)
}

// checkCompatibleTyped checks c against existing (oldest first) under level, each schema by its
// type's rules; a version of another type than c's is incompatible with it, as in Confluent's
// registry.
func checkCompatibleTyped(level avroformat.Compatibility, c candidate, existing []candidate) error {
	if level == avroformat.CompatNone || len(existing) == 0 {
		return nil
	}
	for i := len(existing) - 1; i >= 0; i-- {
		if existing[i].schemaType != c.schemaType {
			return &avroformat.IncompatibleError{Level: level, Reason: fmt.Sprintf(
				"the schema type changed from %s to %s", existing[i].schemaType, c.schemaType)}
		}
	}
	switch c.schemaType {
	case schemaTypeJSON:
		docs := make([]any, len(existing))
		for i, e := range existing {
			docs[i] = e.parsed.json
		}
		return jsonschema.CheckCompatible(level, c.parsed.json, docs)
	case schemaTypeAvro:
		schemas := make([]avro.Schema, len(existing))
		for i, e := range existing {
			schemas[i] = e.parsed.avro
		}
		return avroformat.CheckCompatible(level, c.parsed.avro, schemas)
	}
	return errors.New("unknown schema type")
}
