package decoder

import (
	"time"
	"unsafe"
)

// Op is the operation of a Change, spelled as Debezium spells it in the envelope's op field.
type Op byte

// The operations. OpRead is a row read by a snapshot; OpTruncate carries no row.
const (
	OpCreate   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r'
	OpTruncate Op = 't'
	// OpMessage is a logical decoding message (PostgreSQL's pg_logical_emit_message), a change
	// of a message table (NewMessageTable) whose After row is the prefix and the content.
	OpMessage Op = 'm'
)

// String returns the op's envelope letter.
func (o Op) String() string { return string(rune(o)) }

// Type is the logical type of a column: what its values are, which Value field holds them, and
// which Avro schema (with Debezium's connect.name) it maps to. It is chosen once per column from
// the source type; docs/postgres.md and docs/mysql.md hold the mapping tables.
type Type uint8

// The logical types. Each names the Value field that holds it and the Avro type it encodes as.
const (
	// TypeInvalid is the zero Type; no column has it.
	TypeInvalid Type = iota
	// TypeBool: Int 0 or 1; Avro boolean.
	TypeBool
	// TypeInt16: Int; Avro int (Kafka Connect INT16).
	TypeInt16
	// TypeInt32: Int; Avro int.
	TypeInt32
	// TypeInt64: Int; Avro long.
	TypeInt64
	// TypeFloat32: Float; Avro float.
	TypeFloat32
	// TypeFloat64: Float; Avro double.
	TypeFloat64
	// TypeDecimal: Bytes is the unscaled value, big-endian two's complement, at the column's
	// Scale; Avro bytes with logicalType decimal (org.apache.kafka.connect.data.Decimal).
	TypeDecimal
	// TypeVariableDecimal: a decimal without a declared scale (PostgreSQL's unconstrained
	// numeric). Bytes is the unscaled value as for TypeDecimal and Value.Scale its scale; Avro
	// record {scale: int, value: bytes} (io.debezium.data.VariableScaleDecimal).
	TypeVariableDecimal
	// TypeString: Bytes, UTF-8; Avro string.
	TypeString
	// TypeBytes: Bytes; Avro bytes.
	TypeBytes
	// TypeJSON: Bytes, the JSON text; Avro string (io.debezium.data.Json).
	TypeJSON
	// TypeUUID: Bytes, the 36-character canonical text; Avro string (io.debezium.data.Uuid).
	TypeUUID
	// TypeEnum: Bytes, the label; Avro string (io.debezium.data.Enum, with the allowed labels
	// from Column.EnumValues).
	TypeEnum
	// TypeDate: Int, days since 1970-01-01; Avro int (io.debezium.time.Date).
	TypeDate
	// TypeTimeMillis: Int, milliseconds since midnight, for time precision 0 to 3; Avro int
	// (io.debezium.time.Time).
	TypeTimeMillis
	// TypeTimeMicros: Int, microseconds since midnight; Avro long (io.debezium.time.MicroTime).
	TypeTimeMicros
	// TypeZonedTime: Bytes, ISO-8601 time with offset; Avro string (io.debezium.time.ZonedTime).
	TypeZonedTime
	// TypeTimestampMillis: Int, milliseconds since the epoch of a timestamp without zone, for
	// precision 0 to 3; Avro long (io.debezium.time.Timestamp).
	TypeTimestampMillis
	// TypeTimestampMicros: Int, microseconds since the epoch of a timestamp without zone; Avro
	// long (io.debezium.time.MicroTimestamp).
	TypeTimestampMicros
	// TypeZonedTimestamp: Bytes, ISO-8601 in UTC; Avro string (io.debezium.time.ZonedTimestamp).
	TypeZonedTimestamp
	// TypeIntervalMicros: Int, microseconds, months counted as Debezium counts them; Avro long
	// (io.debezium.time.MicroDuration).
	TypeIntervalMicros
	// TypeArray: Elems, each typed by Column.Elem; Avro array.
	TypeArray
	// TypeBits: Bytes, the bits little-endian in (n+7)/8 bytes for a column of n bits (its
	// Precision); Avro bytes (io.debezium.data.Bits, with the length parameter).
	TypeBits
	// TypeYear: Int, the year number; Avro int (io.debezium.time.Year).
	TypeYear
	// TypeEnumSet: Bytes, the labels set, comma-joined in the column's order; Avro string
	// (io.debezium.data.EnumSet, with the allowed labels from Column.EnumValues).
	TypeEnumSet
	// TypeXML: Bytes, the XML text; Avro string (io.debezium.data.Xml).
	TypeXML
	// TypeLtree: Bytes, the label path; Avro string (io.debezium.data.Ltree).
	TypeLtree
	// TypeGeometry: Bytes, the geometry in WKB (without EWKB's SRID); Int its SRID when Scale
	// is 1, none when 0; Avro record {wkb: bytes, srid: [null, int]}
	// (io.debezium.data.geometry.Geometry).
	TypeGeometry
	// TypeGeography: as TypeGeometry, for a geodetic value (PostGIS geography); Avro record
	// io.debezium.data.geometry.Geography.
	TypeGeography
	// TypeFloatVector: Elems, each a set Float (float32 precision); Avro array of float
	// (io.debezium.data.FloatVector): pgvector's halfvec.
	TypeFloatVector
	// TypeStringMap: Elems, alternately a key (a set Bytes) and its value (Bytes, or NULL);
	// Avro map of [null, string] (Kafka Connect MAP of string to optional string): PostgreSQL's
	// hstore with hstore.handling.mode map.
	TypeStringMap
	// TypeDoubleVector: Elems, each a set Float; Avro array of double
	// (io.debezium.data.DoubleVector): pgvector's vector, each element the double its decimal
	// text spells, as Debezium parses it.
	TypeDoubleVector
	// TypeSparseVector: Int, the dimension count; Elems, one per stored element, Int its index
	// (1-based, as the text form writes it) and Float its value (as TypeDoubleVector's); Avro
	// record {dimensions: int16, vector: array of {key: int16, value: double}}
	// (io.debezium.data.SparseVector, whose vector is a Connect MAP of INT16 to FLOAT64, which
	// AvroConverter writes as an array of MapEntry records): pgvector's sparsevec.
	TypeSparseVector
)

// Column describes one column of a table as of a point in the stream.
type Column struct {
	// Name is the column's name.
	Name string
	// Type is the logical type its values have.
	Type Type
	// SourceType is the source's name of the column type, e.g. "int4", "numeric", "_text", or
	// an enum's type name; it appears in error messages.
	SourceType string
	// SourceTypeID is the source's id of the type (the PostgreSQL type OID; 0 for MySQL).
	SourceTypeID uint32
	// Precision and Scale are a TypeDecimal's; Precision is 0 when the source declares none.
	// A TypeBits column's Precision is its length in bits, and its values have (Precision+7)/8
	// bytes, or fewer when its Scale is 1 (a bit varying: Debezium sizes the bytes by the
	// value).
	Precision, Scale int
	// Optional tells whether the column may hold NULL.
	Optional bool
	// Key tells whether the column is part of the record key.
	Key bool
	// EnumValues are a TypeEnum's or TypeEnumSet's allowed labels, in the source's order.
	EnumValues []string
	// Elem describes a TypeArray's elements (its Name is empty).
	Elem *Column
	// Unmapped tells that no mapping knows the source type (a user-defined base type, a
	// composite, an extension's type): the column is a TypeString holding the type's text
	// output, and its schema carries SourceType in the __debezium.source.column.type
	// parameter, so that a consumer can tell what the text is.
	Unmapped bool
	// TextForm tells that the values are the source type's text output, which a reader that
	// gets values in another form must ask for (PostgreSQL: a snapshot selects the column cast
	// to text). Unmapped columns and PostgreSQL ranges have it.
	TextForm bool
	// Default is the column's constant SQL default as a set Value of the column's Type, or nil
	// when the column has none, its default is NULL, or it is not a constant (now(),
	// nextval(...), CURRENT_TIMESTAMP): it becomes the Avro field's default, as Debezium
	// carries it, so that adding a NOT NULL column with a default is a compatible change.
	Default *Value
	// Generated tells that the source computes the column (PostgreSQL's stored generated
	// columns, published by PostgreSQL 18 with publish_generated_columns); the schemas say so
	// (GeneratedParameter).
	Generated bool
}

// GeneratedParameter is the schema parameter that marks a generated column: a property of
// the Avro field, a parameter of the JSON field's Connect schema; its value is
// GeneratedStored.
const (
	GeneratedParameter = "cdcd.column.generated"
	GeneratedStored    = "stored"
)

// Table describes a captured table as of a point in the stream. A Table is immutable once
// published: a changed description is a new Table with a higher Version, so a stage may cache
// work (schemas, encode plans) per *Table.
type Table struct {
	// ID is the source's id of the table (the PostgreSQL relation OID).
	ID uint32
	// Namespace is the PostgreSQL schema or the MySQL database.
	Namespace string
	// Name is the table's name.
	Name string
	// Columns are the table's columns in the source's order; Change values follow it.
	Columns []Column
	// Version counts the descriptions of this table seen in the stream, from 1.
	Version uint64
}

// ValueState tells whether a Value holds a value.
type ValueState uint8

// The value states. The zero Value is NULL.
const (
	// ValueNull is SQL NULL.
	ValueNull ValueState = iota
	// ValueSet holds a value in the field its column's Type names.
	ValueSet
	// ValueUnchanged is a value the source did not send because it did not change and is
	// stored out of line (a PostgreSQL unchanged TOASTed value). It is never emitted as NULL.
	ValueUnchanged
)

// Value is one column's value in a Change; the column's Type says which field holds it.
type Value struct {
	State ValueState
	// Int holds booleans, integers, dates, times, timestamps and intervals.
	Int int64
	// Float holds floating-point numbers.
	Float float64
	// Bytes holds strings, bytes and decimals (see Type). It may point into the source's
	// buffer: see the package documentation.
	Bytes []byte
	// Scale is a TypeVariableDecimal's scale.
	Scale int32
	// Elems holds a TypeArray's elements.
	Elems []Value
}

// Snapshot says whether a Change comes from a snapshot, with Debezium's values of
// source.snapshot.
type Snapshot uint8

// The snapshot markers.
const (
	SnapshotFalse Snapshot = iota
	SnapshotTrue
	SnapshotFirst
	SnapshotLast
	SnapshotIncremental
)

// String returns the marker as Debezium writes it in source.snapshot.
func (s Snapshot) String() string {
	switch s {
	case SnapshotTrue:
		return "true"
	case SnapshotFirst:
		return "first"
	case SnapshotLast:
		return "last"
	case SnapshotIncremental:
		return "incremental"
	default:
		return "false"
	}
}

// SourceInfo is where a Change happened: the fields of the envelope's source block that depend
// on the change (the connector's name and version are added by the encoder). The fields every
// source kind has are named; the kind's own (a PostgreSQL LSN, a MySQL binlog position) are in
// typed slots that its SourceBlock lays out and names: a kind fills them through its own
// helpers (connectors/postgres, connectors/mysql), never by slot number elsewhere.
type SourceInfo struct {
	// CommitTime is when the transaction committed in the source (source.ts_ms).
	CommitTime time.Time
	// Snapshot marks snapshot reads.
	Snapshot Snapshot
	// Block describes the kind's fields held in Ints and Strs. It points to the kind's one
	// SourceBlock, shared by all its changes; nil for a change of no kind.
	Block *SourceBlock
	// Ints and Strs are the kind's values, in the slots its Block names.
	Ints [SourceIntSlots]int64
	Strs [SourceStrSlots]string
}

// Change is one row change of one table.
type Change struct {
	Op    Op
	Table *Table
	// Before is the row before the change: for updates and deletes, as much of it as the source
	// sent (the key columns, or all with a full replica identity / row image); nil otherwise.
	Before []Value
	// After is the row after the change; nil for deletes and truncates.
	After  []Value
	Source SourceInfo
	// NewKey marks the create half of an update that changed the row's key (SplitKeyChange):
	// it shares its source position with the delete half, so a format that names events by
	// their position (CloudEvents' id) tells the two apart by it.
	NewKey bool
}

// Clone returns a deep copy of c that owns all its memory, for a stage that keeps a Change
// beyond the next message of the source. The Table is shared: it is immutable.
func (c *Change) Clone() *Change {
	out := *c
	out.Before = cloneValues(c.Before)
	out.After = cloneValues(c.After)
	return &out
}

// MemSize estimates the bytes c holds of its own: the Change, its values and their bytes (by
// length). The Table and the source strings, shared with other changes, are not counted. It
// weighs the changes in a byte-bounded queue.
func (c *Change) MemSize() int {
	return int(unsafe.Sizeof(*c)) + valuesSize(c.Before) + valuesSize(c.After)
}

// RowMemSize estimates the bytes a row of values holds: their Value structs and bytes, by the
// rule of MemSize. A snapshot weighs the rows of its chunks with it.
func RowMemSize(vs []Value) int { return valuesSize(vs) }

func valuesSize(vs []Value) int {
	n := len(vs) * int(unsafe.Sizeof(Value{}))
	for i := range vs {
		n += len(vs[i].Bytes)
		if vs[i].Elems != nil {
			n += valuesSize(vs[i].Elems)
		}
	}
	return n
}

func cloneValues(vs []Value) []Value {
	if vs == nil {
		return nil
	}
	out := make([]Value, len(vs))
	for i, v := range vs {
		out[i] = v
		if v.Bytes != nil {
			out[i].Bytes = append([]byte(nil), v.Bytes...)
		}
		out[i].Elems = cloneValues(v.Elems)
	}
	return out
}
