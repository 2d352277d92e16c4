// Package avro turns decoder Changes into Debezium-compatible Avro records in the
// Confluent wire format, and keeps the schema registry in step with the tables it sees.
//
// It is the avro format of the format seam (package format): it implements format.Encoder, its
// errors say their format-neutral kind (format.ErrValue, ErrSchema, ErrIncompatible,
// ErrRegistry), and it writes the envelope's format-neutral parts as package format states them,
// the source block from the connector kind's description (decoder.SourceBlock), knowing no
// source itself.
//
// The stages, for one *decoder.Table, the first time a Change of it arrives:
//
//  1. derive: the key schema (a record of the key columns, none when the table has no key) and
//     the value schema (Debezium's Envelope: before, after, source, transaction, op, ts_ms,
//     ts_us, ts_ns), with the Kafka Connect attributes (connect.name, connect.version,
//     connect.parameters) that Debezium's AvroConverter writes, so that tools written for
//     Debezium read our records unchanged (schema.go);
//  2. check: a schema the subject already holds, at any version, is found by asking the registry
//     (Registry.Lookup) and reused unchecked, since a restart may replay rows older than the
//     subject's latest version; a schema new to the subject is checked locally against its
//     existing versions under the subject's compatibility level, so that an incompatible DDL
//     change stops the connector with an error naming the table, the column and the rule,
//     before anything is registered (compat.go);
//  3. register: the schemas are registered under their subjects and their ids cached (registry.go);
//  4. plan: one small encode function is chosen per column from its decoder.Type (encode.go).
//
// After that the hot path (Encoder.Encode, Encoder.EncodeRecord) only appends Avro binary: no
// registry call, no reflection, no intermediate map. A Table is immutable, so everything is
// cached per *Table and, since a route changes the subjects and an unwrap the value schema
// (record.go), per topic and value shape of its records.
package avro
