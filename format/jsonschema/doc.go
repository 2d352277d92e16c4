// Package jsonschema is the json-registry format of the format seam (package format): Debezium's
// change events as Confluent's JsonSchemaConverter writes them, each key and value in
// Confluent's wire format (a zero magic byte, the schema's registry id in four big-endian
// bytes, then the JSON document) with a JSON Schema registered as schemaType JSON.
//
// The document is the payload the json format (format/json) writes with schemas.enable false;
// the schema is the json format's Connect schema turned into JSON Schema as JsonSchemaConverter
// turns it (connect.index, connect.type, connect.name, connect.version and connect.parameters
// annotations, a struct's name as the object's title, an optional field as oneOf null and its
// type), once per table version, topic and shape. Every object is a closed content model
// (additionalProperties false, JsonSchemaConverter's object.additional.properties=false), so
// that a nullable column added to a table is a BACKWARD-compatible change (see compat.go).
//
// The package also holds what a registry needs of JSON Schema: Canonicalize (a schema's
// identity) and CheckCompatible (Confluent's compatibility rules), which the embedded registry
// (schemaregistry) uses.
package jsonschema
