package avro

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/internal/sanitize"
	"github.com/cdcd-dev/cdcd/transform"
)

// ErrSchema is wrapped by every error of schema derivation: the table cannot be described in
// Avro (an unknown type, a name clash after sanitising, a malformed column). It is of the kind
// format.ErrSchema.
var ErrSchema error = &kindError{"avro: cannot derive schema", format.ErrSchema}

// kindError is a sentinel error of one of the format's error kinds (format.ErrSchema, ...):
// errors.Is finds both the sentinel and its kind, so that the engine classifies the encoder's
// errors without knowing Avro.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }

// Is matches the error's kind.
func (e *kindError) Is(target error) bool { return target == e.kind }

// Naming is what schema and topic names are made of.
type Naming struct {
	// TopicPrefix is Debezium's topic.prefix: the first part of topics and record names.
	TopicPrefix string
	// Source is the source connector's kind of source block; it decides the source record.
	Source *decoder.SourceBlock
	// Modes are the handling modes that decide some columns' types (modes.go); zero:
	// Debezium's defaults.
	Modes format.Modes
}

// TableSchemas are the Avro schemas of one table version.
type TableSchemas struct {
	// Table is the table they describe.
	Table *decoder.Table
	// Topic is <prefix>.<namespace>.<table>, sanitised as Debezium names topics
	// (transform.DefaultTopic).
	Topic string
	// KeyName and ValueName are the full names of the key record and of the envelope.
	KeyName, ValueName string
	// KeyJSON and ValueJSON are the schema texts registered in the registry; KeyJSON is empty
	// when the table has no key column (the key is then null).
	KeyJSON, ValueJSON string
	// Key and Value are the parsed schemas; Key is nil when the table has no key column.
	Key, Value avro.Schema
}

// HasKey tells whether the table's records have a key.
func (s *TableSchemas) HasKey() bool { return s.Key != nil }

// DeriveSchemas builds the key and value schemas of t the way Debezium's AvroConverter writes
// them. The result depends only on n and t; callers cache it per *decoder.Table.
func DeriveSchemas(n Naming, t *decoder.Table) (*TableSchemas, error) {
	if err := n.Source.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	if t == nil {
		return nil, fmt.Errorf("%w: nil table", ErrSchema)
	}
	ns := recordNamespace(n.TopicPrefix, t)
	out := &TableSchemas{
		Table:     t,
		Topic:     transform.DefaultTopic(n.TopicPrefix, t.Namespace, t.Name),
		KeyName:   ns + ".Key",
		ValueName: ns + ".Envelope",
	}

	var keyCols []decoder.Column
	for _, c := range t.Columns {
		if c.Key {
			keyCols = append(keyCols, c)
		}
	}
	if len(keyCols) > 0 {
		b := &builder{defined: map[string]bool{}, modes: n.Modes}
		key, err := b.rowRecord(ns, "Key", keyCols, t)
		if err != nil {
			return nil, err
		}
		if out.KeyJSON, out.Key, err = marshalParse(key); err != nil {
			return nil, fmt.Errorf("%w: key of %s.%s: %w", ErrSchema, t.Namespace, t.Name, err)
		}
	}

	b := &builder{defined: map[string]bool{}, modes: n.Modes}
	row, err := b.rowRecord(ns, "Value", t.Columns, t)
	if err != nil {
		return nil, err
	}
	env := obj{
		{"type", "record"},
		{"name", "Envelope"},
		{"namespace", ns},
		{"fields", []any{
			optionalField("before", row),
			optionalField("after", ns+".Value"),
			obj{{"name", "source"}, {"type", sourceRecord(n.Source)}},
			optionalField("transaction", transactionRecord()),
			obj{{"name", "op"}, {"type", "string"}},
			optionalField("ts_ms", "long"),
			optionalField("ts_us", "long"),
			optionalField("ts_ns", "long"),
		}},
		{"connect.version", 2},
		{"connect.name", ns + ".Envelope"},
	}
	if out.ValueJSON, out.Value, err = marshalParse(env); err != nil {
		return nil, fmt.Errorf("%w: value of %s.%s: %w", ErrSchema, t.Namespace, t.Name, err)
	}
	return out, nil
}

// marshalParse renders s and parses it with a cache of its own: versions of one table reuse
// record names, which must not leak from one version into another through a shared cache.
func marshalParse(s obj) (string, avro.Schema, error) {
	text, err := json.Marshal(s)
	if err != nil {
		return "", nil, err
	}
	parsed, err := avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return "", nil, err
	}
	return string(text), parsed, nil
}

// builder renders column schemas; defined remembers the named types already written in the
// schema, since Avro allows one definition per name and references after it.
type builder struct {
	defined map[string]bool
	modes   format.Modes
}

func (b *builder) rowRecord(ns, name string, cols []decoder.Column, t *decoder.Table) (obj, error) {
	fields := make([]any, 0, len(cols))
	seen := make(map[string]string, len(cols))
	for i := range cols {
		c := &cols[i]
		fname := sanitizeName(c.Name)
		if prev, ok := seen[fname]; ok {
			return nil, fmt.Errorf("%w: table %s.%s: columns %q and %q both become Avro field %q",
				ErrSchema, t.Namespace, t.Name, prev, c.Name, fname)
		}
		seen[fname] = c.Name
		typ, err := b.columnType(c)
		if err != nil {
			return nil, fmt.Errorf("%w: table %s.%s: column %q: %w", ErrSchema, t.Namespace, t.Name, c.Name, err)
		}
		def, hasDef := fieldDefaultModes(c, b.modes)
		var field obj
		switch {
		case c.Optional && hasDef:
			// AvroConverter puts the type first in the union of an optional field with a
			// default: a union's default must match its first branch.
			field = obj{{"name", fname}, {"type", []any{typ, "null"}}, {"default", def}}
		case c.Optional:
			field = optionalField(fname, typ)
		case hasDef:
			field = obj{{"name", fname}, {"type", typ}, {"default", def}}
		default:
			field = obj{{"name", fname}, {"type", typ}}
		}
		if c.Generated {
			field = append(field, kv{decoder.GeneratedParameter, decoder.GeneratedStored})
		}
		fields = append(fields, field)
	}
	return obj{
		{"type", "record"},
		{"name", name},
		{"namespace", ns},
		{"fields", fields},
		{"connect.name", ns + "." + name},
	}, nil
}

// connectType is a primitive carrying Debezium's semantic type, as AvroConverter writes it.
func connectType(avroType, connectName string) obj {
	return obj{{"type", avroType}, {"connect.version", 1}, {"connect.name", connectName}}
}

const variableScaleDecimalName = "io.debezium.data.VariableScaleDecimal"

// defaultDecimalPrecision is the precision Confluent's AvroConverter writes for a Kafka
// Connect Decimal whose precision is not declared.
const defaultDecimalPrecision = 64

// columnType returns the Avro type of a column's values (without the null of an optional
// column): a type name or a schema object.
func (b *builder) columnType(c *decoder.Column) (any, error) {
	if typ, ok := modeType(c, b.modes); ok {
		return typ, nil
	}
	switch c.Type {
	case decoder.TypeBool:
		return "boolean", nil
	case decoder.TypeInt16:
		return obj{{"type", "int"}, {"connect.type", "int16"}}, nil
	case decoder.TypeInt32:
		return "int", nil
	case decoder.TypeInt64:
		return "long", nil
	case decoder.TypeFloat32:
		return "float", nil
	case decoder.TypeFloat64:
		return "double", nil
	case decoder.TypeDecimal:
		if c.Scale < 0 || (c.Precision > 0 && c.Scale > c.Precision) {
			return nil, fmt.Errorf("decimal scale %d does not fit precision %d", c.Scale, c.Precision)
		}
		params := obj{{"scale", strconv.Itoa(c.Scale)}}
		precision := defaultDecimalPrecision
		if c.Precision > 0 {
			precision = c.Precision
			params = append(params, kv{"connect.decimal.precision", strconv.Itoa(c.Precision)})
		}
		if c.Scale > precision {
			return nil, fmt.Errorf("decimal scale %d exceeds precision %d", c.Scale, precision)
		}
		return obj{
			{"type", "bytes"},
			{"scale", c.Scale},
			{"precision", precision},
			{"connect.version", 1},
			{"connect.parameters", params},
			{"connect.name", "org.apache.kafka.connect.data.Decimal"},
			{"logicalType", "decimal"},
		}, nil
	case decoder.TypeVariableDecimal:
		if b.defined[variableScaleDecimalName] {
			return variableScaleDecimalName, nil
		}
		b.defined[variableScaleDecimalName] = true
		return obj{
			{"type", "record"},
			{"name", "VariableScaleDecimal"},
			{"namespace", "io.debezium.data"},
			{"fields", []any{
				obj{{"name", "scale"}, {"type", "int"}},
				obj{{"name", "value"}, {"type", "bytes"}},
			}},
			{"connect.doc", "Variable scaled decimal"},
			{"connect.version", 1},
			{"connect.name", variableScaleDecimalName},
		}, nil
	case decoder.TypeString:
		if c.Unmapped {
			// Debezium's parameter naming the source type of a column it has no mapping for.
			return obj{{"type", "string"}, {"connect.parameters", obj{{sourceColumnTypeParam, c.SourceType}}}}, nil
		}
		return "string", nil
	case decoder.TypeBytes:
		return "bytes", nil
	case decoder.TypeXML:
		return connectType("string", "io.debezium.data.Xml"), nil
	case decoder.TypeLtree:
		return connectType("string", "io.debezium.data.Ltree"), nil
	case decoder.TypeGeometry, decoder.TypeGeography:
		return b.geometryType(c.Type), nil
	case decoder.TypeFloatVector:
		return obj{{"type", "array"}, {"items", "float"}, {"connect.version", 1},
			{"connect.name", "io.debezium.data.FloatVector"}}, nil
	case decoder.TypeDoubleVector:
		return obj{{"type", "array"}, {"items", "double"}, {"connect.version", 1},
			{"connect.name", "io.debezium.data.DoubleVector"}}, nil
	case decoder.TypeSparseVector:
		return b.sparseVectorType(), nil
	case decoder.TypeStringMap:
		// A Connect MAP of string to optional string, as AvroConverter writes it.
		return obj{{"type", "map"}, {"values", []any{"null", "string"}}}, nil
	case decoder.TypeJSON:
		return connectType("string", "io.debezium.data.Json"), nil
	case decoder.TypeUUID:
		return connectType("string", "io.debezium.data.Uuid"), nil
	case decoder.TypeEnum:
		return obj{
			{"type", "string"},
			{"connect.version", 1},
			{"connect.parameters", obj{{"allowed", strings.Join(c.EnumValues, ",")}}},
			{"connect.name", "io.debezium.data.Enum"},
		}, nil
	case decoder.TypeDate:
		return connectType("int", "io.debezium.time.Date"), nil
	case decoder.TypeTimeMillis:
		return connectType("int", "io.debezium.time.Time"), nil
	case decoder.TypeTimeMicros:
		return connectType("long", "io.debezium.time.MicroTime"), nil
	case decoder.TypeZonedTime:
		return connectType("string", "io.debezium.time.ZonedTime"), nil
	case decoder.TypeTimestampMillis:
		return connectType("long", "io.debezium.time.Timestamp"), nil
	case decoder.TypeTimestampMicros:
		return connectType("long", "io.debezium.time.MicroTimestamp"), nil
	case decoder.TypeZonedTimestamp:
		return connectType("string", "io.debezium.time.ZonedTimestamp"), nil
	case decoder.TypeIntervalMicros:
		return connectType("long", "io.debezium.time.MicroDuration"), nil
	case decoder.TypeBits:
		if c.Precision < 1 {
			return nil, fmt.Errorf("bits length %d is not positive", c.Precision)
		}
		return obj{
			{"type", "bytes"},
			{"connect.version", 1},
			{"connect.parameters", obj{{"length", strconv.Itoa(c.Precision)}}},
			{"connect.name", "io.debezium.data.Bits"},
		}, nil
	case decoder.TypeYear:
		return connectType("int", "io.debezium.time.Year"), nil
	case decoder.TypeEnumSet:
		return obj{
			{"type", "string"},
			{"connect.version", 1},
			{"connect.parameters", obj{{"allowed", strings.Join(c.EnumValues, ",")}}},
			{"connect.name", "io.debezium.data.EnumSet"},
		}, nil
	case decoder.TypeArray:
		if c.Elem == nil {
			return nil, errors.New("array column without element description")
		}
		if c.Elem.Type == decoder.TypeArray {
			return nil, errors.New("arrays of arrays are not supported")
		}
		items, err := b.columnType(c.Elem)
		if err != nil {
			return nil, fmt.Errorf("array element: %w", err)
		}
		if c.Elem.Optional {
			items = []any{"null", items}
		}
		return obj{{"type", "array"}, {"items", items}}, nil
	default:
		return nil, fmt.Errorf("unsupported type %d (source type %q)", c.Type, c.SourceType)
	}
}

// sourceColumnTypeParam is the schema parameter that names an unmapped column's source type,
// as Debezium's column.propagate.source.type names it.
const sourceColumnTypeParam = "__debezium.source.column.type"

// sparseVectorType is Debezium's SparseVector struct as AvroConverter writes it: the INT16
// dimension count, and the MAP of INT16 index to FLOAT64 value as an array of
// io.confluent.connect.avro.MapEntry records (AvroConverter's form of a map whose keys are not
// strings). Each record is defined at its first use in a schema, named after.
func (b *builder) sparseVectorType() any {
	const full, entry = "io.debezium.data.SparseVector", "io.confluent.connect.avro.MapEntry"
	if b.defined[full] {
		return full
	}
	b.defined[full] = true
	int16Type := obj{{"type", "int"}, {"connect.type", "int16"}}
	var items any = entry
	if !b.defined[entry] {
		b.defined[entry] = true
		items = obj{
			{"type", "record"},
			{"name", "MapEntry"},
			{"namespace", "io.confluent.connect.avro"},
			{"fields", []any{
				obj{{"name", "key"}, {"type", int16Type}},
				obj{{"name", "value"}, {"type", "double"}},
			}},
		}
	}
	return obj{
		{"type", "record"},
		{"name", "SparseVector"},
		{"namespace", "io.debezium.data"},
		{"fields", []any{
			obj{{"name", "dimensions"}, {"type", int16Type}},
			obj{{"name", "vector"}, {"type", obj{{"type", "array"}, {"items", items}}}},
		}},
		{"connect.version", 1},
		{"connect.name", full},
	}
}

// geometryType is Debezium's Geometry (or Geography) struct as AvroConverter writes it: the
// WKB and the optional SRID; the record is defined at its first use in a schema, named after.
func (b *builder) geometryType(t decoder.Type) any {
	name, doc := "Geometry", "Geometry"
	if t == decoder.TypeGeography {
		name, doc = "Geography", "Geography"
	}
	full := "io.debezium.data.geometry." + name
	if b.defined[full] {
		return full
	}
	b.defined[full] = true
	return obj{
		{"type", "record"},
		{"name", name},
		{"namespace", "io.debezium.data.geometry"},
		{"fields", []any{
			obj{{"name", "wkb"}, {"type", "bytes"}},
			optionalField("srid", "int"),
		}},
		{"connect.doc", doc},
		{"connect.version", 1},
		{"connect.name", full},
	}
}

// optionalField is an optional field as AvroConverter writes one: null first, default null.
func optionalField(name string, typ any) obj {
	return obj{{"name", name}, {"type", []any{"null", typ}}, {"default", nil}}
}

// snapshotAllowed is the allowed list Debezium declares for source.snapshot.
const snapshotAllowed = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"

// sourceRecord is Debezium's source block for the kind b describes. Debezium declares snapshot
// optional with default "false", so AvroConverter puts the string first in its union (a
// union's default must match its first branch).
func sourceRecord(b *decoder.SourceBlock) obj {
	snapshot := obj{
		{"name", "snapshot"},
		{"type", []any{obj{
			{"type", "string"},
			{"connect.version", 1},
			{"connect.parameters", obj{{"allowed", snapshotAllowed}}},
			{"connect.default", "false"},
			{"connect.name", "io.debezium.data.Enum"},
		}, "null"}},
		{"default", "false"},
	}
	req := func(name, typ string) obj { return obj{{"name", name}, {"type", typ}} }
	fields := []any{
		req("version", "string"),
		req("connector", "string"),
		req("name", "string"),
		req("ts_ms", "long"),
		snapshot,
		req("db", "string"),
		optionalField("sequence", "string"),
		optionalField("ts_us", "long"),
		optionalField("ts_ns", "long"),
	}
	ns := "io.debezium.connector." + b.Connector
	for _, f := range b.Fields {
		typ := "string"
		switch f.Type {
		case decoder.SourceFieldLong:
			typ = "long"
		case decoder.SourceFieldInt:
			typ = "int"
		}
		if f.Optional {
			fields = append(fields, optionalField(f.Name, typ))
		} else {
			fields = append(fields, req(f.Name, typ))
		}
	}
	return obj{
		{"type", "record"},
		{"name", "Source"},
		{"namespace", ns},
		{"fields", fields},
		{"connect.version", 1},
		{"connect.name", ns + ".Source"},
	}
}

// transactionRecord is Debezium's event.block.
func transactionRecord() obj {
	return obj{
		{"type", "record"},
		{"name", "block"},
		{"namespace", "event"},
		{"fields", []any{
			obj{{"name", "id"}, {"type", "string"}},
			obj{{"name", "total_order"}, {"type", "long"}},
			obj{{"name", "data_collection_order"}, {"type", "long"}},
		}},
		{"connect.version", 1},
		{"connect.name", "event.block"},
	}
}

// sanitizeName makes s a valid Avro name the way Debezium's avro adjustment does: every
// character that Avro does not take there ([A-Za-z_] first, [A-Za-z0-9_] after) becomes '_',
// one '_' per UTF-16 unit as Debezium counts them (Java's char), not per UTF-8 byte: "Ümlaut"
// is "_mlaut", an emoji two '_'. The empty name is "_".
func sanitizeName(s string) string {
	if s == "" {
		return "_"
	}
	return sanitize.Replace(s, avroNameChars)
}

// avroNameChars is what Avro takes in a name: [A-Za-z_] first, [A-Za-z0-9_] after.
var avroNameChars = sanitize.NewCharset(
	func(c byte) bool { return avroNameByte(c, true) },
	func(c byte) bool { return avroNameByte(c, false) })

// avroNameByte tells whether c may stand in an Avro name, first or after.
func avroNameByte(c byte, first bool) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// sanitizeFullName sanitises each dot-separated part of a full name, so that every part
// starts as an Avro name must.
func sanitizeFullName(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = sanitizeName(p)
	}
	return strings.Join(parts, ".")
}

// recordNamespace is the namespace of t's records: <prefix>.<namespace>.<table> sanitised,
// each of the table's two names one Avro name part whatever it holds (a '.' in a quoted name
// becomes '_', so that "a.b"."c" and "a"."b.c" do not name alike by accident).
func recordNamespace(prefix string, t *decoder.Table) string {
	return sanitizeFullName(prefix) + "." + sanitizeName(t.Namespace) + "." + sanitizeName(t.Name)
}

// kv and obj are a JSON object that keeps its keys in order, so that schema texts are stable
// (golden files, registry look-ups by text) and read as AvroConverter writes them.
type kv struct {
	k string
	v any
}

type obj []kv

// MarshalJSON writes the object with its keys in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(e.k)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
