// Package format is the seam between the engine and its output formats. It holds what every
// format shares: the Debezium envelope's transaction metadata (the transaction block of each
// change event and the BEGIN/END records of the transaction topic), the interface a format's
// encoder implements, the error kinds the engine's error policy reads, the configuration every
// encoder is built from, a table of formats chosen by name, and a format-neutral text rendering
// of a change (the dead-letter records).
//
// A format (format/avro: Avro in the Confluent wire format, with its schema registry; format/json:
// Kafka Connect's JsonConverter's JSON, with or without schemas; format/cloudevents: Debezium's
// CloudEventsConverter's structured JSON) lives in a package of its own and is listed once, as a
// [Format], in the table the daemon builds its encoders from. The engine (pipeline/) imports
// this package, never a format.
//
// Debezium's handling modes (decimal.handling.mode, time.precision.mode, binary.handling.mode:
// [Modes]) are read here from a format's settings, and each format asks [Modes.ColumnMode] once
// per column, when it plans a table, how that column is written.
package format
