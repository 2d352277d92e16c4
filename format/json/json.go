// Package json is the json format of the format seam (package format): Debezium's change
// events as Kafka Connect's JsonConverter writes them. With schemas enabled (Connect's
// schemas.enable, its default) each key and value is {"schema": ..., "payload": ...}, the schema
// in Connect's JSON shape with Debezium's semantic type names (io.debezium.time.Date,
// org.apache.kafka.connect.data.Decimal, ...); without, the payload alone. It needs no schema
// registry.
//
// Each decoder type writes the same logical value as the avro format (format/avro): integers,
// dates, times and timestamps as numbers, strings as strings, bytes and bits as base64, a
// decimal as base64 of its unscaled two's complement (or, with decimal.format numeric, a JSON
// number), floats as numbers (NaN and the infinities as the strings Jackson writes).
//
// As in the avro format, everything that depends on the table (the schema texts, the plan of
// each column) is built once per table version, topic and value shape; the hot path appends
// bytes only.
package json

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

// Name is the json format's name in a connector's configuration.
const Name = "json"

// The keys of format.Config.Settings the json format reads, Kafka Connect's names.
const (
	// SettingKeySchemas is key.converter.schemas.enable: "true" (the default) or "false".
	SettingKeySchemas = "key.converter.schemas.enable"
	// SettingValueSchemas is value.converter.schemas.enable: "true" (the default) or "false".
	SettingValueSchemas = "value.converter.schemas.enable"
	// SettingDecimalFormat is JsonConverter's decimal.format: "base64" (the default) or
	// "numeric", case-insensitive.
	SettingDecimalFormat = "decimal.format"
)

// DefaultPlaceholder is what Debezium writes for a value the source did not send:
// unavailable.value.placeholder's default.
const DefaultPlaceholder = "__debezium_unavailable_value"

var _ format.Encoder = (*Encoder)(nil)

// ErrConfig is wrapped by every error of a json encoder's settings.
var ErrConfig = errors.New("json: invalid encoder configuration")

// Options are a json encoder's settings beyond format.Config.
type Options struct {
	// KeySchemas and ValueSchemas write {"schema", "payload"} rather than the payload alone.
	KeySchemas, ValueSchemas bool
	// DecimalNumeric writes a fixed-scale decimal as a JSON number rather than base64.
	DecimalNumeric bool
	// Modes are the connector's handling modes (format.Modes; zero: Debezium's defaults).
	Modes format.Modes
	// Now is the processing-time clock (the envelope's ts_ms); nil: time.Now.
	Now func() time.Time
	// Reserve is how many bytes each key and value (but a tombstone's, and an outbox event's)
	// starts with, left zero for a caller's header: the json-registry format writes the wire
	// format's there, without copying the document.
	Reserve int
}

// ParseSettings reads the json format's settings (the Setting* keys; absent: Connect's
// defaults, schemas enabled and base64 decimals). An unknown key or value is an error.
func ParseSettings(s map[string]string) (Options, error) {
	o := Options{KeySchemas: true, ValueSchemas: true}
	for k, v := range s {
		var err error
		switch k {
		case SettingKeySchemas:
			o.KeySchemas, err = strconv.ParseBool(v)
		case SettingValueSchemas:
			o.ValueSchemas, err = strconv.ParseBool(v)
		case SettingDecimalFormat:
			switch strings.ToLower(v) {
			case "", "base64":
			case "numeric":
				o.DecimalNumeric = true
			default:
				err = errors.New("not base64 or numeric")
			}
		default:
			var known bool
			if known, err = o.Modes.ParseModeSetting(k, v); !known {
				err = errors.New("unknown setting")
			}
		}
		if err != nil {
			return Options{}, fmt.Errorf("%w: %s=%q: %w", ErrConfig, k, v, err)
		}
	}
	return o, nil
}

// Format is the json format of a daemon's format table: its settings come from each
// connector's format.Config.Settings.
func Format() format.Format {
	return format.Format{Name: Name, New: func(c format.Config) (format.Encoder, error) {
		o, err := ParseSettings(c.Settings)
		if err != nil {
			return nil, err
		}
		return NewEncoder(c, o)
	}}
}

// Encoder writes change events and transaction records as JsonConverter does. It is safe for
// concurrent use.
type Encoder struct {
	cfg  format.Config
	opts Options
	now  func() time.Time
	// sourceHead is the source block's first fields (version, connector, name), the same for
	// every record.
	sourceHead []byte

	mu     sync.RWMutex
	codecs map[codecKey]*codec
	// topics maps each default topic given out to its table {namespace, name}, so that two
	// tables whose names sanitise alike do not share one topic (as the avro format refuses).
	topics map[string][2]string
	// outbox holds the codecs of outbox events (outbox.go).
	outbox outboxCodecs
}

// NewEncoder returns the encoder of one connector.
func NewEncoder(c format.Config, o Options) (*Encoder, error) {
	if c.TopicPrefix == "" {
		return nil, fmt.Errorf("%w: a topic prefix is required", ErrConfig)
	}
	if err := c.Source.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.ConnectorName == "" {
		c.ConnectorName = c.TopicPrefix
	}
	if c.Version == "" {
		c.Version = "cdcd"
	}
	if c.Placeholder == "" {
		c.Placeholder = DefaultPlaceholder
	}
	e := &Encoder{cfg: c, opts: o, now: o.Now, codecs: map[codecKey]*codec{}, topics: map[string][2]string{}}
	if e.now == nil {
		e.now = time.Now
	}
	h := append([]byte(`"version":`), quote(c.Version)...)
	h = append(append(h, `,"connector":`...), quote(c.Source.Connector)...)
	e.sourceHead = append(append(h, `,"name":`...), quote(c.ConnectorName)...)
	return e, nil
}

// codecKey says which codec a record needs, as the avro format's: a route and an unwrap change
// the topic or the value's shape.
type codecKey struct {
	table  *decoder.Table
	topic  string
	shape  transform.Shape
	fields transform.FlatFields
}

// codec is what the records of one table version in one topic and shape are written with.
type codec struct {
	topic string
	shape transform.Shape
	// fields are a flat value's metadata fields.
	fields transform.FlatFields
	// keySchema and valueSchema are the schema texts (with schemas enabled); keyCols nil: no key.
	keySchema, valueSchema []byte
	keyCols, cols          []colPlan
	table                  string
	width                  int
	numeric                bool // decimals as JSON numbers
	// sizeHint is the size of the table's last value, the next one's first capacity, so
	// that a value is written into one buffer rather than grown by copies.
	sizeHint atomic.Int64
	// db is source.db written; tableSrc the kind's fields the table decides, written.
	db        []byte
	srcFields []decoder.SourceField
}

// colPlan is how one column is written.
type colPlan struct {
	col   *decoder.Column
	index int
	name  []byte // the quoted field name and its colon
	// zero is written for a NULL in a non-optional column of a before row (the source sent the
	// key alone): the column's default, else the type's zero, as the avro format fills it.
	zero []byte
	// unavailable is the written placeholder of an unchanged value; nil for a type without one.
	unavailable []byte
	// schema is the column's Connect schema, as its handling mode has it (modes.go).
	schema []byte
	// enc writes a set value when a handling mode changes how the column is written; nil:
	// appendValue, by the column's type.
	enc valueFunc
}

// EncodeRecord writes rec without a transaction block.
func (e *Encoder) EncodeRecord(ctx context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	return e.EncodeRecordInTransaction(ctx, rec, nil)
}

// EncodeRecordInTransaction writes rec with the envelope's transaction block tx (nil: null).
// A flat value has no transaction block.
func (e *Encoder) EncodeRecordInTransaction(_ context.Context, rec *transform.Record, tx *format.TransactionBlock) (topic string, key, value []byte, err error) {
	if rec == nil || rec.Change == nil || rec.Change.Table == nil {
		return "", nil, nil, fmt.Errorf("json: encode: %w: record without change or table", errBadValue)
	}
	c := rec.Change
	if b := c.Source.Block; b != nil && b != e.cfg.Source {
		return "", nil, nil, fmt.Errorf("json: encode: %w: a change of source kind %s to an encoder of %s",
			errBadValue, b.Connector, e.cfg.Source.Connector)
	}
	if rec.Shape == transform.ShapeOutbox {
		return e.encodeOutbox(rec)
	}
	k := codecKey{table: c.Table, topic: rec.Topic, shape: rec.Shape}
	if rec.Shape == transform.ShapeFlat {
		k.fields = rec.Fields
	}
	cd, err := e.codec(k)
	if err != nil {
		return "", nil, nil, err
	}
	if key, err = e.key(cd, c); err != nil {
		return "", nil, nil, err
	}
	if c.Op == decoder.OpDelete && rec.Tombstone == transform.TombstoneOnly {
		return cd.topic, key, nil, nil
	}
	size := valueBytes(c) + 512
	if e.opts.ValueSchemas {
		size += int64(len(cd.valueSchema))
	}
	value = make([]byte, e.opts.Reserve, max(cd.sizeHint.Load(), size)+int64(e.opts.Reserve))
	if e.opts.ValueSchemas {
		value = append(append(append(value, `{"schema":`...), cd.valueSchema...), `,"payload":`...)
	}
	if cd.shape == transform.ShapeFlat {
		value, err = e.appendFlat(value, cd, c)
	} else {
		value, err = e.appendEnvelope(value, cd, c, tx)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("json: value: %w", err)
	}
	if e.opts.ValueSchemas {
		value = append(value, '}')
	}
	// One large value must not make every later value of the table as large.
	cd.sizeHint.Store(min(int64(len(value))+64, largeValue))
	return cd.topic, key, value, nil
}

// key writes the key of c (nil: the table has none, or c is a truncate).
func (e *Encoder) key(cd *codec, c *decoder.Change) ([]byte, error) {
	if cd.keyCols == nil || c.Op == decoder.OpTruncate {
		return nil, nil
	}
	row := c.After
	if row == nil {
		row = c.Before
	}
	keySize := 64
	if e.opts.KeySchemas {
		keySize += len(cd.keySchema)
	}
	key := make([]byte, e.opts.Reserve, keySize+e.opts.Reserve)
	if e.opts.KeySchemas {
		key = append(append(append(key, `{"schema":`...), cd.keySchema...), `,"payload":`...)
	}
	key, err := cd.appendRow(key, cd.keyCols, row, false)
	if err != nil {
		return nil, fmt.Errorf("json: key: %w", err)
	}
	if e.opts.KeySchemas {
		key = append(key, '}')
	}
	return key, nil
}

// largeValue bounds the size hint a value leaves for the next of its table.
const largeValue = 64 << 10

// valueBytes is about what c's variable-length values take written (base64 of their bytes is
// 4/3 of them, escapes add some), so that a large value is sized from its change.
func valueBytes(c *decoder.Change) int64 {
	var n int
	for _, row := range [2][]decoder.Value{c.Before, c.After} {
		for i := range row {
			n += len(row[i].Bytes) * 3 / 2
			for j := range row[i].Elems {
				n += len(row[i].Elems[j].Bytes)*3/2 + 8
			}
		}
	}
	return int64(n)
}

// appendEnvelope writes the payload of Debezium's envelope.
func (e *Encoder) appendEnvelope(dst []byte, cd *codec, c *decoder.Change, tx *format.TransactionBlock) ([]byte, error) {
	env := format.Envelope{Change: c, Transaction: tx, Time: e.now()}
	before, after := env.Rows()
	var err error
	dst = append(dst, `{"before":`...)
	if before == nil {
		dst = append(dst, "null"...)
	} else if dst, err = cd.appendRow(dst, cd.cols, before, true); err != nil {
		return dst, fmt.Errorf("before: %w", err)
	}
	dst = append(dst, `,"after":`...)
	if after == nil {
		dst = append(dst, "null"...)
	} else if dst, err = cd.appendRow(dst, cd.cols, after, false); err != nil {
		return dst, fmt.Errorf("after: %w", err)
	}
	now, commit := env.Time, env.SourceTime()
	dst = append(append(dst, `,"source":{`...), e.sourceHead...)
	dst = strconv.AppendInt(append(dst, `,"ts_ms":`...), commit.UnixMilli(), 10)
	dst = appendString(append(dst, `,"snapshot":`...), c.Source.Snapshot.String())
	dst = append(append(dst, `,"db":`...), cd.db...)
	dst = append(dst, `,"sequence":null`...)
	dst = strconv.AppendInt(append(dst, `,"ts_us":`...), commit.UnixMicro(), 10)
	dst = strconv.AppendInt(append(dst, `,"ts_ns":`...), commit.UnixNano(), 10)
	dst = e.appendSourceFields(dst, cd.srcFields, c)
	dst = append(dst, `},"transaction":`...)
	if tx == nil {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(append(dst, `{"id":`...), tx.ID)
		dst = strconv.AppendInt(append(dst, `,"total_order":`...), tx.TotalOrder, 10)
		dst = strconv.AppendInt(append(dst, `,"data_collection_order":`...), tx.DataCollectionOrder, 10)
		dst = append(dst, '}')
	}
	dst = append(append(append(dst, `,"op":"`...), byte(c.Op)), '"')
	dst = strconv.AppendInt(append(dst, `,"ts_ms":`...), now.UnixMilli(), 10)
	dst = strconv.AppendInt(append(dst, `,"ts_us":`...), now.UnixMicro(), 10)
	dst = strconv.AppendInt(append(dst, `,"ts_ns":`...), now.UnixNano(), 10)
	return append(dst, '}'), nil
}

// appendSourceFields writes the kind's source fields, an optional one's zero value as null.
func (e *Encoder) appendSourceFields(dst []byte, fs []decoder.SourceField, c *decoder.Change) []byte {
	for i := range fs {
		f := &fs[i]
		dst = appendString(append(dst, ','), f.Name)
		dst = append(dst, ':')
		switch f.Value {
		case decoder.SourceSlotInt:
			if v := c.Source.Ints[f.Slot]; v != 0 || !f.Optional {
				dst = strconv.AppendInt(dst, v, 10)
			} else {
				dst = append(dst, "null"...)
			}
		case decoder.SourceSlotStr:
			if v := c.Source.Strs[f.Slot]; v != "" || !f.Optional {
				dst = appendString(dst, v)
			} else {
				dst = append(dst, "null"...)
			}
		case decoder.SourceNamespace, decoder.SourceTableName, decoder.SourceDatabase:
			dst = appendString(dst, format.SourceTableValue(f, c.Table, e.cfg.Database))
		default:
			dst = append(dst, "null"...)
		}
	}
	return dst
}

// appendFlat writes a flat value: the after row (a delete's before row), then the metadata
// fields, as the avro format's.
func (e *Encoder) appendFlat(dst []byte, cd *codec, c *decoder.Change) ([]byte, error) {
	var err error
	switch c.Op {
	case decoder.OpDelete:
		if dst, err = cd.appendRow(dst, cd.cols, c.Before, true); err != nil {
			return dst, fmt.Errorf("before: %w", err)
		}
	case decoder.OpTruncate:
		return dst, fmt.Errorf("%w: a truncate has no row to unwrap", errBadValue)
	default:
		if dst, err = cd.appendRow(dst, cd.cols, c.After, false); err != nil {
			return dst, fmt.Errorf("after: %w", err)
		}
	}
	if cd.fields == 0 {
		return dst, nil
	}
	dst = dst[:len(dst)-1] // reopen the row's object
	if cd.fields.Has(transform.FieldOp) {
		dst = append(append(append(dst, `,"`+transform.FieldOpName+`":"`...), byte(c.Op)), '"')
	}
	if cd.fields.Has(transform.FieldDeleted) {
		if c.Op == decoder.OpDelete {
			dst = append(dst, `,"`+transform.FieldDeletedName+`":"true"`...)
		} else {
			dst = append(dst, `,"`+transform.FieldDeletedName+`":"false"`...)
		}
	}
	return append(dst, '}'), nil
}

// The conditions of a value error, of the kind format.ErrValue.
var (
	errBadValue         = &valueError{"value does not fit its column"}
	errNullValue        = &valueError{"NULL in a non-optional column"}
	errUnavailableValue = &valueError{"unchanged value has no placeholder for this type"}
)

// valueError is a condition of the kind format.ErrValue: the change's own failure.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

// Is matches format.ErrValue.
func (e *valueError) Is(target error) bool { return target == format.ErrValue }

// appendRow writes the object of cols of a row; asZero writes a NULL in a non-optional
// column as its zero (a before row of a key-only replica identity).
func (cd *codec) appendRow(dst []byte, cols []colPlan, vals []decoder.Value, asZero bool) ([]byte, error) {
	if len(vals) > cd.width {
		return dst, fmt.Errorf("table %s: %w: row has %d values for %d columns", cd.table, errBadValue, len(vals), cd.width)
	}
	dst = append(dst, '{')
	var err error
	for i := range cols {
		cp := &cols[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, cp.name...)
		var v *decoder.Value
		if cp.index < len(vals) {
			v = &vals[cp.index]
		}
		if dst, err = cp.append(dst, v, asZero, cd.decimalNumeric()); err != nil {
			return dst, fmt.Errorf("table %s column %q (%s): %w", cd.table, cp.col.Name, cp.col.SourceType, err)
		}
	}
	return append(dst, '}'), nil
}

// decimalNumeric is set per codec from the encoder's options (see newCodec).
func (cd *codec) decimalNumeric() bool { return cd.numeric }

func (cp *colPlan) append(dst []byte, v *decoder.Value, asZero, numeric bool) ([]byte, error) {
	state := decoder.ValueNull
	if v != nil {
		state = v.State
	}
	switch state {
	case decoder.ValueSet:
		if cp.enc != nil {
			return cp.enc(dst, v)
		}
		return appendValue(dst, cp.col, v, numeric)
	case decoder.ValueNull:
		if cp.col.Optional {
			return append(dst, "null"...), nil
		}
		if asZero {
			return append(dst, cp.zero...), nil
		}
		return dst, errNullValue
	case decoder.ValueUnchanged:
		if cp.unavailable == nil {
			return dst, errUnavailableValue
		}
		return append(dst, cp.unavailable...), nil
	}
	return dst, fmt.Errorf("%w: unknown value state %d", errBadValue, state)
}

// appendValue writes a set value of column c.
func appendValue(dst []byte, c *decoder.Column, v *decoder.Value, numeric bool) ([]byte, error) {
	switch c.Type {
	case decoder.TypeBool:
		switch v.Int {
		case 0:
			return append(dst, "false"...), nil
		case 1:
			return append(dst, "true"...), nil
		}
		return dst, fmt.Errorf("%w: boolean %d", errBadValue, v.Int)
	case decoder.TypeInt16:
		if v.Int < math.MinInt16 || v.Int > math.MaxInt16 {
			return dst, fmt.Errorf("%w: %d overflows int16", errBadValue, v.Int)
		}
		return strconv.AppendInt(dst, v.Int, 10), nil
	case decoder.TypeInt32, decoder.TypeDate, decoder.TypeTimeMillis, decoder.TypeYear:
		if v.Int < math.MinInt32 || v.Int > math.MaxInt32 {
			return dst, fmt.Errorf("%w: %d overflows int32", errBadValue, v.Int)
		}
		return strconv.AppendInt(dst, v.Int, 10), nil
	case decoder.TypeInt64, decoder.TypeTimeMicros, decoder.TypeTimestampMillis,
		decoder.TypeTimestampMicros, decoder.TypeIntervalMicros:
		return strconv.AppendInt(dst, v.Int, 10), nil
	case decoder.TypeFloat32:
		return appendFloat(dst, v.Float, 32), nil
	case decoder.TypeFloat64:
		return appendFloat(dst, v.Float, 64), nil
	case decoder.TypeDecimal:
		if numeric {
			return appendNumeric(dst, v.Bytes, c.Scale), nil
		}
		return appendBase64(dst, decimalBytes(v.Bytes)), nil
	case decoder.TypeVariableDecimal:
		dst = strconv.AppendInt(append(dst, `{"scale":`...), int64(v.Scale), 10)
		dst = appendBase64(append(dst, `,"value":`...), decimalBytes(v.Bytes))
		return append(dst, '}'), nil
	case decoder.TypeString, decoder.TypeJSON, decoder.TypeUUID, decoder.TypeEnum,
		decoder.TypeEnumSet, decoder.TypeZonedTime, decoder.TypeZonedTimestamp,
		decoder.TypeXML, decoder.TypeLtree:
		return appendStringBytes(dst, v.Bytes), nil
	case decoder.TypeBytes:
		return appendBase64(dst, v.Bytes), nil
	case decoder.TypeBits:
		// A bit varying value (Scale 1) is sized by its content, so it may be shorter.
		if size := (c.Precision + 7) / 8; len(v.Bytes) > size || (c.Scale != 1 && len(v.Bytes) != size) {
			return dst, fmt.Errorf("%w: bits value of %d bytes, want %d", errBadValue, len(v.Bytes), size)
		}
		return appendBase64(dst, v.Bytes), nil
	case decoder.TypeGeometry, decoder.TypeGeography:
		dst = appendBase64(append(dst, `{"wkb":`...), v.Bytes)
		if v.Scale == 0 {
			return append(dst, `,"srid":null}`...), nil
		}
		return append(strconv.AppendInt(append(dst, `,"srid":`...), v.Int, 10), '}'), nil
	case decoder.TypeStringMap:
		if len(v.Elems)%2 != 0 {
			return dst, fmt.Errorf("%w: map of %d elements, not pairs", errBadValue, len(v.Elems))
		}
		dst = append(dst, '{')
		for i := 0; i < len(v.Elems); i += 2 {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(appendStringBytes(dst, v.Elems[i].Bytes), ':')
			if v.Elems[i+1].State == decoder.ValueSet {
				dst = appendStringBytes(dst, v.Elems[i+1].Bytes)
			} else {
				dst = append(dst, "null"...)
			}
		}
		return append(dst, '}'), nil
	case decoder.TypeSparseVector:
		// JsonConverter writes a map whose keys are not strings as [key, value] pairs.
		dst = append(strconv.AppendInt(append(dst, `{"dimensions":`...), v.Int, 10), `,"vector":[`...)
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(strconv.AppendInt(append(dst, '['), v.Elems[i].Int, 10), ',')
			dst = append(appendFloat(dst, v.Elems[i].Float, 64), ']')
		}
		return append(dst, "]}"...), nil
	case decoder.TypeFloatVector, decoder.TypeDoubleVector:
		bits := 32
		if c.Type == decoder.TypeDoubleVector {
			bits = 64
		}
		dst = append(dst, '[')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendFloat(dst, v.Elems[i].Float, bits)
		}
		return append(dst, ']'), nil
	case decoder.TypeArray:
		dst = append(dst, '[')
		var err error
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			el := &v.Elems[i]
			switch el.State {
			case decoder.ValueSet:
				if dst, err = appendValue(dst, c.Elem, el, numeric); err != nil {
					return dst, fmt.Errorf("element %d: %w", i, err)
				}
			case decoder.ValueNull:
				if !c.Elem.Optional {
					return dst, fmt.Errorf("element %d: %w", i, errNullValue)
				}
				dst = append(dst, "null"...)
			default:
				return dst, fmt.Errorf("%w: element %d has state %d", errBadValue, i, el.State)
			}
		}
		return append(dst, ']'), nil
	}
	return dst, fmt.Errorf("%w: unsupported type %d", errBadValue, c.Type)
}

// decimalBytes is the unscaled value as written: zero is one byte, as Java's BigInteger wants.
func decimalBytes(b []byte) []byte {
	if len(b) == 0 {
		return []byte{0}
	}
	return b
}

// appendNumeric writes the decimal of unscaled two's complement b at scale as a JSON number.
func appendNumeric(dst, b []byte, scale int) []byte {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	neg := n.Sign() < 0
	digits := n.Abs(n).String()
	if neg {
		dst = append(dst, '-')
	}
	if scale <= 0 {
		return append(dst, digits...)
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	return append(append(dst, '.'), digits[len(digits)-scale:]...)
}

// appendFloat writes f as Jackson does a float or double: a number, NaN and the infinities as
// strings.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

func appendString(dst []byte, s string) []byte {
	return appendStringBytes(dst, []byte(s))
}

// appendStringBytes writes s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD.
func appendStringBytes(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(append(dst, s[start:]...), '"')
}

const hex = "0123456789abcdef"

func quote(s string) []byte { return appendString(nil, s) }

// codec returns the cached codec of k, building it on first sight.
func (e *Encoder) codec(k codecKey) (*codec, error) {
	e.mu.RLock()
	cd := e.codecs[k]
	e.mu.RUnlock()
	if cd != nil {
		return cd, nil
	}
	cd, err := e.newCodec(k)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev := e.codecs[k]; prev != nil {
		return prev, nil
	}
	if k.topic == "" { // a route may merge tables on purpose
		id := [2]string{k.table.Namespace, k.table.Name}
		if prev, ok := e.topics[cd.topic]; ok && prev != id {
			return nil, &topicClashError{topic: cd.topic, first: prev, second: id}
		}
		e.topics[cd.topic] = id
	}
	e.codecs[k] = cd
	return cd, nil
}

// topicClashError means two tables have the same default topic once their names are
// sanitised: their records would share it, so the connector stops. It is of the kind
// format.ErrSchema and not retryable.
type topicClashError struct {
	topic         string
	first, second [2]string
}

func (e *topicClashError) Error() string {
	return fmt.Sprintf("json: tables %q.%q and %q.%q both map to topic %s once their names are sanitised: rename one of them or capture only one",
		e.first[0], e.first[1], e.second[0], e.second[1], e.topic)
}

// Is matches format.ErrSchema.
func (e *topicClashError) Is(target error) bool { return target == format.ErrSchema }

// Retryable is false: a restart would meet the same names.
func (e *topicClashError) Retryable() bool { return false }

// errSchema is the error kind of a table the format cannot describe.
var errSchema = &schemaError{}

type schemaError struct{}

func (*schemaError) Error() string { return "json: cannot derive schema" }

// Is matches format.ErrSchema.
func (*schemaError) Is(target error) bool { return target == format.ErrSchema }

func (e *Encoder) newCodec(k codecKey) (*codec, error) {
	t := k.table
	label := t.Namespace + "." + t.Name
	cd := &codec{
		topic:   transform.DefaultTopic(e.cfg.TopicPrefix, t.Namespace, t.Name),
		shape:   k.shape,
		fields:  k.fields,
		table:   label,
		width:   len(t.Columns),
		numeric: e.opts.DecimalNumeric,
		db:      quote(format.SourceDB(e.cfg.Source, e.cfg.Database, t)),
	}
	if k.topic != "" {
		cd.topic = k.topic
	}
	if k.shape != transform.ShapeEnvelope && k.shape != transform.ShapeFlat {
		return nil, fmt.Errorf("%w: table %s: unknown value shape %d", errSchema, label, k.shape)
	}
	if k.fields&^(transform.FieldOp|transform.FieldDeleted) != 0 {
		return nil, fmt.Errorf("%w: table %s: unknown flat fields %#x", errSchema, label, uint8(k.fields))
	}
	seen := map[string]bool{}
	for i := range t.Columns {
		c := &t.Columns[i]
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: table %s: column %q twice", errSchema, label, c.Name)
		}
		seen[c.Name] = true
		cp, err := e.planColumn(c, i)
		if err != nil {
			return nil, fmt.Errorf("%w: table %s column %q (%s): %w", errSchema, label, c.Name, c.SourceType, err)
		}
		cd.cols = append(cd.cols, cp)
		if c.Key {
			cd.keyCols = append(cd.keyCols, cp)
		}
	}
	if k.shape == transform.ShapeFlat {
		for _, f := range []string{transform.FieldOpName, transform.FieldDeletedName} {
			if seen[f] && ((f == transform.FieldOpName && k.fields.Has(transform.FieldOp)) ||
				(f == transform.FieldDeletedName && k.fields.Has(transform.FieldDeleted))) {
				return nil, fmt.Errorf("%w: table %s: column %q clashes with the unwrap field", errSchema, label, f)
			}
		}
	}
	cd.srcFields = e.cfg.Source.Fields
	name := e.cfg.TopicPrefix + "." + t.Namespace + "." + t.Name
	if cd.keyCols != nil {
		cd.keySchema = rowSchema(nil, cd.keyCols, false, name+".Key", e.opts.DecimalNumeric)
	}
	if k.shape == transform.ShapeFlat {
		s := rowSchema(nil, cd.cols, false, name+".Value", e.opts.DecimalNumeric)
		extra := ""
		if k.fields.Has(transform.FieldOp) {
			extra += `,{"type":"string","optional":true,"field":"` + transform.FieldOpName + `"}`
		}
		if k.fields.Has(transform.FieldDeleted) {
			extra += `,{"type":"string","optional":true,"field":"` + transform.FieldDeletedName + `"}`
		}
		// The extra fields go at the end of the fields array, which closes before "optional".
		at := strings.Index(string(s), `],"optional":false,"name":`)
		cd.valueSchema = append(append(append([]byte(nil), s[:at]...), extra...), s[at:]...)
	} else {
		cd.valueSchema = e.envelopeSchema(cd.cols, name)
	}
	return cd, nil
}

// planColumn plans column c, the index-th of its table.
func (e *Encoder) planColumn(c *decoder.Column, index int) (colPlan, error) {
	if _, err := typeSchema(nil, c, false); err != nil {
		return colPlan{}, err
	}
	cp := colPlan{col: c, index: index, name: append(quote(c.Name), ':')}
	cp.schema, cp.enc = columnSchema(nil, c, e.opts.Modes), modeEncoder(c, e.opts.Modes)
	if c.Default != nil && c.Default.State == decoder.ValueSet {
		z, err := cp.append(nil, c.Default, false, e.opts.DecimalNumeric)
		if err != nil {
			return colPlan{}, fmt.Errorf("default: %w", err)
		}
		cp.zero = z
	} else if z := modeZero(c, e.opts.Modes); z != nil {
		cp.zero = z
	} else {
		cp.zero = zeroValue(c, e.opts.DecimalNumeric)
	}
	ph := e.cfg.Placeholder
	switch {
	case cp.enc != nil && c.Type == decoder.TypeBytes:
		// A binary column written as text (binary.handling.mode): its placeholder is text too.
		cp.unavailable = quote(ph)
	case cp.enc != nil && c.Type == decoder.TypeArray && c.Elem.Type == decoder.TypeBytes:
		cp.unavailable = append(append([]byte{'['}, quote(ph)...), ']')
	case isStringLike(c.Type):
		cp.unavailable = quote(ph)
	case c.Type == decoder.TypeBytes:
		cp.unavailable = appendBase64(nil, []byte(ph))
	case c.Type == decoder.TypeArray && isStringLike(c.Elem.Type):
		cp.unavailable = append(append([]byte{'['}, quote(ph)...), ']')
	case c.Type == decoder.TypeArray && c.Elem.Type == decoder.TypeBytes:
		cp.unavailable = append(appendBase64([]byte{'['}, []byte(ph)), ']')
	}
	return cp, nil
}

func isStringLike(t decoder.Type) bool {
	switch t {
	case decoder.TypeString, decoder.TypeJSON, decoder.TypeUUID, decoder.TypeEnum,
		decoder.TypeEnumSet, decoder.TypeZonedTime, decoder.TypeZonedTimestamp,
		decoder.TypeXML, decoder.TypeLtree:
		return true
	}
	return false
}

// zeroValue is Debezium's fallback for a non-optional column it has no value for.
func zeroValue(c *decoder.Column, numeric bool) []byte {
	switch c.Type {
	case decoder.TypeBool:
		return []byte("false")
	case decoder.TypeFloat32, decoder.TypeFloat64:
		return []byte("0.0")
	case decoder.TypeDecimal:
		if numeric {
			return appendNumeric(nil, nil, c.Scale)
		}
		return appendBase64(nil, []byte{0})
	case decoder.TypeVariableDecimal:
		return []byte(`{"scale":0,"value":"AA=="}`)
	case decoder.TypeZonedTimestamp:
		return []byte(`"1970-01-01T00:00:00Z"`)
	case decoder.TypeZonedTime:
		return []byte(`"00:00:00Z"`)
	case decoder.TypeString, decoder.TypeJSON, decoder.TypeUUID, decoder.TypeEnum, decoder.TypeEnumSet,
		decoder.TypeBytes, decoder.TypeXML, decoder.TypeLtree:
		return []byte(`""`)
	case decoder.TypeBits:
		// At most 8 bytes: an unbounded bit varying has a length of 2^31-1 bits.
		return appendBase64(nil, make([]byte, min((c.Precision+7)/8, 8)))
	case decoder.TypeArray, decoder.TypeFloatVector, decoder.TypeDoubleVector:
		return []byte("[]")
	case decoder.TypeSparseVector:
		return []byte(`{"dimensions":0,"vector":[]}`)
	case decoder.TypeGeometry, decoder.TypeGeography:
		return []byte(`{"wkb":"","srid":null}`)
	case decoder.TypeStringMap:
		return []byte("{}")
	}
	return []byte("0")
}

// envelopeSchema is Debezium's Envelope schema of a table whose row fields are cols.
func (e *Encoder) envelopeSchema(cols []colPlan, name string) []byte {
	s := []byte(`{"type":"struct","fields":[`)
	s = rowSchema(s, cols, true, name+".Value", e.opts.DecimalNumeric)
	s = append(s[:len(s)-1], `,"field":"before"},`...)
	s = rowSchema(s, cols, true, name+".Value", e.opts.DecimalNumeric)
	s = append(s[:len(s)-1], `,"field":"after"},`...)
	s = append(sourceSchema(s, e.cfg.Source), ',')
	s = append(s, `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},`+
		`{"type":"int64","optional":false,"field":"total_order"},`+
		`{"type":"int64","optional":false,"field":"data_collection_order"}],`+
		`"optional":true,"name":"event.block","version":1,"field":"transaction"},`+
		`{"type":"string","optional":false,"field":"op"},`+
		`{"type":"int64","optional":true,"field":"ts_ms"},`+
		`{"type":"int64","optional":true,"field":"ts_us"},`+
		`{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":`...)
	s = append(appendString(s, name+".Envelope"), `,"version":2}`...)
	return s
}

// snapshotAllowed is the allowed list Debezium declares for source.snapshot.
const snapshotAllowed = "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"

// sourceSchema appends the source block's schema (as a field named source).
func sourceSchema(s []byte, b *decoder.SourceBlock) []byte {
	s = append(s, `{"type":"struct","fields":[`+
		`{"type":"string","optional":false,"field":"version"},`+
		`{"type":"string","optional":false,"field":"connector"},`+
		`{"type":"string","optional":false,"field":"name"},`+
		`{"type":"int64","optional":false,"field":"ts_ms"},`+
		`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"`+
		snapshotAllowed+`"},"default":"false","field":"snapshot"},`+
		`{"type":"string","optional":false,"field":"db"},`+
		`{"type":"string","optional":true,"field":"sequence"},`+
		`{"type":"int64","optional":true,"field":"ts_us"},`+
		`{"type":"int64","optional":true,"field":"ts_ns"}`...)
	for _, f := range b.Fields {
		typ := "string"
		switch f.Type {
		case decoder.SourceFieldLong:
			typ = "int64"
		case decoder.SourceFieldInt:
			typ = "int32"
		}
		s = append(s, `,{"type":"`+typ+`","optional":`+strconv.FormatBool(f.Optional)+`,"field":`...)
		s = append(appendString(s, f.Name), '}')
	}
	s = append(s, `],"optional":false,"name":`...)
	s = appendString(s, "io.debezium.connector."+b.Connector+".Source")
	return append(s, `,"version":1,"field":"source"}`...)
}

// rowSchema appends the struct schema of a row of cols, named name.
func rowSchema(s []byte, cols []colPlan, optional bool, name string, numeric bool) []byte {
	s = append(s, `{"type":"struct","fields":[`...)
	for i := range cols {
		if i > 0 {
			s = append(s, ',')
		}
		if cols[i].col.Generated {
			s = append(s, generatedSchema(cols[i].schema)...)
		} else {
			s = append(s, cols[i].schema...)
		}
		s = s[:len(s)-1]
		if d := cols[i].col.Default; d != nil && d.State == decoder.ValueSet {
			s = append(append(s, `,"default":`...), cols[i].zero...)
		}
		s = append(appendString(append(s, `,"field":`...), cols[i].col.Name), '}')
	}
	s = append(s, `],"optional":`+strconv.FormatBool(optional)+`,"name":`...)
	return append(appendString(s, name), '}')
}

// typeSchema appends the Connect schema of c's values (type, optional, name, version,
// parameters), as Debezium declares it and JsonConverter writes it.
func typeSchema(s []byte, c *decoder.Column, numeric bool) ([]byte, error) {
	_ = numeric // a decimal's schema is the same in both decimal formats
	opt := `,"optional":` + strconv.FormatBool(c.Optional)
	logical := func(typ, name string) []byte {
		return append(s, `{"type":"`+typ+`"`+opt+`,"name":"`+name+`","version":1}`...)
	}
	switch c.Type {
	case decoder.TypeBool:
		return append(s, `{"type":"boolean"`+opt+`}`...), nil
	case decoder.TypeInt16:
		return append(s, `{"type":"int16"`+opt+`}`...), nil
	case decoder.TypeInt32:
		return append(s, `{"type":"int32"`+opt+`}`...), nil
	case decoder.TypeInt64:
		return append(s, `{"type":"int64"`+opt+`}`...), nil
	case decoder.TypeFloat32:
		return append(s, `{"type":"float"`+opt+`}`...), nil
	case decoder.TypeFloat64:
		return append(s, `{"type":"double"`+opt+`}`...), nil
	case decoder.TypeDecimal:
		if c.Scale < 0 || (c.Precision > 0 && c.Scale > c.Precision) {
			return nil, fmt.Errorf("decimal scale %d does not fit precision %d", c.Scale, c.Precision)
		}
		p := `{"scale":"` + strconv.Itoa(c.Scale) + `"`
		if c.Precision > 0 {
			p += `,"connect.decimal.precision":"` + strconv.Itoa(c.Precision) + `"`
		}
		return append(s, `{"type":"bytes"`+opt+`,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":`+p+`}}`...), nil
	case decoder.TypeVariableDecimal:
		return append(s, `{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},`+
			`{"type":"bytes","optional":false,"field":"value"}]`+opt+
			`,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal"}`...), nil
	case decoder.TypeString:
		if c.Unmapped {
			// Debezium's parameter naming the source type of a column it has no mapping for.
			s = append(s, `{"type":"string"`+opt+`,"parameters":{"__debezium.source.column.type":`...)
			return append(appendString(s, c.SourceType), "}}"...), nil
		}
		return append(s, `{"type":"string"`+opt+`}`...), nil
	case decoder.TypeBytes:
		return append(s, `{"type":"bytes"`+opt+`}`...), nil
	case decoder.TypeXML:
		return logical("string", "io.debezium.data.Xml"), nil
	case decoder.TypeLtree:
		return logical("string", "io.debezium.data.Ltree"), nil
	case decoder.TypeGeometry, decoder.TypeGeography:
		name, doc := "io.debezium.data.geometry.Geometry", "Geometry"
		if c.Type == decoder.TypeGeography {
			name, doc = "io.debezium.data.geometry.Geography", "Geography"
		}
		return append(s, `{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},`+
			`{"type":"int32","optional":true,"field":"srid"}]`+opt+`,"name":"`+name+`","version":1,"doc":"`+doc+`"}`...), nil
	case decoder.TypeStringMap:
		return append(s, `{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"string","optional":true}`+
			opt+`}`...), nil
	case decoder.TypeFloatVector:
		return append(s, `{"type":"array","items":{"type":"float","optional":false}`+opt+
			`,"name":"io.debezium.data.FloatVector","version":1}`...), nil
	case decoder.TypeDoubleVector:
		return append(s, `{"type":"array","items":{"type":"double","optional":false}`+opt+
			`,"name":"io.debezium.data.DoubleVector","version":1}`...), nil
	case decoder.TypeSparseVector:
		return append(s, `{"type":"struct","fields":[{"type":"int16","optional":false,"field":"dimensions"},`+
			`{"type":"map","keys":{"type":"int16","optional":false},"values":{"type":"double","optional":false},"optional":false,"field":"vector"}]`+
			opt+`,"name":"io.debezium.data.SparseVector","version":1}`...), nil
	case decoder.TypeJSON:
		return logical("string", "io.debezium.data.Json"), nil
	case decoder.TypeUUID:
		return logical("string", "io.debezium.data.Uuid"), nil
	case decoder.TypeEnum, decoder.TypeEnumSet:
		name := "io.debezium.data.Enum"
		if c.Type == decoder.TypeEnumSet {
			name = "io.debezium.data.EnumSet"
		}
		s = append(s, `{"type":"string"`+opt+`,"name":"`+name+`","version":1,"parameters":{"allowed":`...)
		return append(appendString(s, strings.Join(c.EnumValues, ",")), "}}"...), nil
	case decoder.TypeDate:
		return logical("int32", "io.debezium.time.Date"), nil
	case decoder.TypeTimeMillis:
		return logical("int32", "io.debezium.time.Time"), nil
	case decoder.TypeTimeMicros:
		return logical("int64", "io.debezium.time.MicroTime"), nil
	case decoder.TypeZonedTime:
		return logical("string", "io.debezium.time.ZonedTime"), nil
	case decoder.TypeTimestampMillis:
		return logical("int64", "io.debezium.time.Timestamp"), nil
	case decoder.TypeTimestampMicros:
		return logical("int64", "io.debezium.time.MicroTimestamp"), nil
	case decoder.TypeZonedTimestamp:
		return logical("string", "io.debezium.time.ZonedTimestamp"), nil
	case decoder.TypeIntervalMicros:
		return logical("int64", "io.debezium.time.MicroDuration"), nil
	case decoder.TypeYear:
		return logical("int32", "io.debezium.time.Year"), nil
	case decoder.TypeBits:
		if c.Precision < 1 {
			return nil, fmt.Errorf("bits length %d is not positive", c.Precision)
		}
		return append(s, `{"type":"bytes"`+opt+`,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"`+
			strconv.Itoa(c.Precision)+`"}}`...), nil
	case decoder.TypeArray:
		if c.Elem == nil {
			return nil, errors.New("array column without element description")
		}
		if c.Elem.Type == decoder.TypeArray {
			return nil, errors.New("arrays of arrays are not supported")
		}
		s = append(s, `{"type":"array","items":`...)
		s, err := typeSchema(s, c.Elem, numeric)
		if err != nil {
			return nil, fmt.Errorf("array element: %w", err)
		}
		return append(s, opt+`}`...), nil
	}
	return nil, fmt.Errorf("unsupported type %d (source type %q)", c.Type, c.SourceType)
}

// The transaction topic's schemas, Debezium's TransactionMetadataKey and Value.
const (
	txKeySchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,` +
		`"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}`
	txValueSchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},` +
		`{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},` +
		`{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},` +
		`{"type":"int64","optional":false,"field":"event_count"}],"optional":true,"name":"event.collection","version":1},` +
		`"optional":true,"field":"data_collections"},{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,` +
		`"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}`
)

// EncodeTransactionEvent returns the transaction topic's record of ev.
func (e *Encoder) EncodeTransactionEvent(_ context.Context, ev *format.TransactionEvent) (topic string, key, value []byte, err error) {
	if ev == nil || (ev.Status != format.TransactionBegin && ev.Status != format.TransactionEnd) || ev.ID == "" {
		return "", nil, nil, fmt.Errorf("json: encode transaction event: %w: want a BEGIN or END with an id", errBadValue)
	}
	if e.opts.Reserve > 0 {
		key, value = make([]byte, e.opts.Reserve, 64), make([]byte, e.opts.Reserve, 256)
	}
	if e.opts.KeySchemas {
		key = append(key, `{"schema":`+txKeySchema+`,"payload":`...)
	}
	key = append(appendString(append(key, `{"id":`...), ev.ID), '}')
	if e.opts.KeySchemas {
		key = append(key, '}')
	}
	if e.opts.ValueSchemas {
		value = append(value, `{"schema":`+txValueSchema+`,"payload":`...)
	}
	value = appendString(append(value, `{"status":`...), string(ev.Status))
	value = appendString(append(value, `,"id":`...), ev.ID)
	if ev.Status == format.TransactionBegin {
		value = append(value, `,"event_count":null,"data_collections":null`...)
	} else {
		value = strconv.AppendInt(append(value, `,"event_count":`...), ev.EventCount, 10)
		if ev.DataCollections == nil {
			value = append(value, `,"data_collections":null`...)
		} else {
			value = append(value, `,"data_collections":[`...)
			for i, dc := range ev.DataCollections {
				if i > 0 {
					value = append(value, ',')
				}
				value = appendString(append(value, `{"data_collection":`...), dc.DataCollection)
				value = append(strconv.AppendInt(append(value, `,"event_count":`...), dc.EventCount, 10), '}')
			}
			value = append(value, ']')
		}
	}
	ts := ev.Time
	if ts.IsZero() {
		ts = e.now()
	}
	value = append(strconv.AppendInt(append(value, `,"ts_ms":`...), ts.UnixMilli(), 10), '}')
	if e.opts.ValueSchemas {
		value = append(value, '}')
	}
	return format.TransactionTopic(e.cfg.TopicPrefix), key, value, nil
}
