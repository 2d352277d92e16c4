// Package decoder holds the Change model that every stage of cdcd shares, and turns the raw
// messages of a source (pgoutput for PostgreSQL, binlog rows for MySQL/MariaDB) into Changes.
//
// A Change is one row change of one table: its operation, the row before and after, and where
// in the source it happened. Its values are typed by the column's logical Type, chosen once per
// column when the table's description arrives (a pgoutput Relation message, a binlog table map),
// never per row: the same Type decides the Avro schema of the column and how each value is
// encoded, the way Debezium maps the same source type.
//
// Buffer ownership: a Value's Bytes and a Change's slices may point into the source's receive
// buffer (the MySQL decoder's do). They are valid until the source is asked for its next
// message; a stage that keeps a Change longer copies it with Change.Clone. The Changes of
// PGDecoder.Decode (pgoutput) own their bytes; DecodeText's values (a snapshot's COPY rows)
// point into the fields it is given.
package decoder
