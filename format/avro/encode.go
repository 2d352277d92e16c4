package avro

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
)

// DefaultPlaceholder is what Debezium writes for a value the source did not send (a
// PostgreSQL unchanged TOASTed value): unavailable.value.placeholder's default.
const DefaultPlaceholder = "__debezium_unavailable_value"

// The conditions of an *EncodeError.
var (
	// ErrUnavailableValue: an unchanged value (decoder.ValueUnchanged) of a type that has no
	// placeholder (only strings, bytes and their arrays have one). It is never written as NULL.
	ErrUnavailableValue = errors.New("unchanged value has no placeholder for this type")
	// ErrNullValue: NULL in a column that is not optional.
	ErrNullValue = errors.New("NULL in a non-optional column")
	// ErrBadValue: a value that does not fit its column (out of range, malformed, a row longer
	// than the table).
	ErrBadValue = errors.New("value does not fit its column")
)

// EncodeError says which column of which table a value could not be encoded for.
type EncodeError struct {
	// Table is <namespace>.<table>.
	Table string
	// Column is the column's name.
	Column string
	// SourceType is the column's source type name.
	SourceType string
	// Err is one of the ErrX conditions above, possibly wrapped with detail.
	Err error
}

// Error names the table, the column and the condition.
func (e *EncodeError) Error() string {
	return fmt.Sprintf("encode table %s column %q (%s): %v", e.Table, e.Column, e.SourceType, e.Err)
}

// Unwrap returns the condition.
func (e *EncodeError) Unwrap() error { return e.Err }

// Is makes an *EncodeError of the kind format.ErrValue: the change's own failure.
func (e *EncodeError) Is(target error) bool { return target == format.ErrValue }

// valueEnc appends the Avro binary of a set value of one column type (without any union
// branch index). It is chosen once per column.
type valueEnc func(dst []byte, v *decoder.Value) ([]byte, error)

// colPlan is how one column is written.
type colPlan struct {
	col      *decoder.Column
	index    int // the column's index in a row of the table
	optional bool
	// setBranch and nullBranch are an optional column's encoded union branches: null first,
	// or the type first when the column has a default (see fieldDefault).
	setBranch, nullBranch byte
	enc                   valueEnc
	// unavailable is the encoded placeholder for an unchanged value; nil when the type has none.
	unavailable []byte
	// zero is written for a NULL in a non-optional column of a before row (a row the source
	// sent only the key of): the encoded default when the column has one, else the type's
	// zero value, as Debezium fills such a field.
	zero []byte
}

// rowPlan writes a record of some of a table's columns.
type rowPlan struct {
	table string
	width int // the number of the table's columns
	cols  []colPlan
}

// nullPolicy says what a NULL in a non-optional column means.
type nullPolicy uint8

const (
	// nullsRejected: an error (after rows and keys).
	nullsRejected nullPolicy = iota
	// nullsAsZero: the column was not sent (a before row with only the key): its zero value,
	// as Debezium fills a non-optional field it has no value for.
	nullsAsZero
)

// newRowPlan plans the columns of t for which keep is true.
func newRowPlan(t *decoder.Table, placeholder string, modes format.Modes, keep func(*decoder.Column) bool) (*rowPlan, error) {
	p := &rowPlan{table: t.Namespace + "." + t.Name, width: len(t.Columns)}
	for i := range t.Columns {
		c := &t.Columns[i]
		if !keep(c) {
			continue
		}
		cp, err := planColumn(c, placeholder, modes)
		if err != nil {
			return nil, &EncodeError{Table: p.table, Column: c.Name, SourceType: c.SourceType, Err: err}
		}
		cp.index = i
		p.cols = append(p.cols, cp)
	}
	return p, nil
}

func planColumn(c *decoder.Column, placeholder string, modes format.Modes) (colPlan, error) {
	enc, zero, err := encoderForModes(c, modes)
	if err != nil {
		return colPlan{}, err
	}
	cp := colPlan{col: c, optional: c.Optional, enc: enc, zero: zero, setBranch: 2, nullBranch: 0}
	if _, ok := fieldDefaultModes(c, modes); ok {
		if c.Optional {
			cp.setBranch, cp.nullBranch = 0, 2
		}
		if cp.zero, err = enc(nil, c.Default); err != nil {
			return colPlan{}, fmt.Errorf("default: %w", err)
		}
	}
	switch {
	case isStringLike(c.Type) || c.Type == decoder.TypeBytes:
		// Avro writes strings and bytes alike: a length and the bytes.
		cp.unavailable = appendString(nil, placeholder)
	case c.Type == decoder.TypeArray && (isStringLike(c.Elem.Type) || c.Elem.Type == decoder.TypeBytes):
		b := appendLong(nil, 1)
		if c.Elem.Optional {
			b = appendLong(b, 1)
		}
		b = appendString(b, placeholder)
		cp.unavailable = appendLong(b, 0)
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

// appendRow appends the record of vals (a row in the table's column order; missing trailing
// values are NULL).
func (p *rowPlan) appendRow(dst []byte, vals []decoder.Value, nulls nullPolicy) ([]byte, error) {
	if len(vals) > p.width {
		return dst, &EncodeError{Table: p.table, Err: fmt.Errorf("%w: row has %d values for %d columns", ErrBadValue, len(vals), p.width)}
	}
	var err error
	for i := range p.cols {
		cp := &p.cols[i]
		var v *decoder.Value
		if cp.index < len(vals) {
			v = &vals[cp.index]
		}
		if dst, err = cp.append(dst, v, nulls); err != nil {
			return dst, &EncodeError{Table: p.table, Column: cp.col.Name, SourceType: cp.col.SourceType, Err: err}
		}
	}
	return dst, nil
}

// maxSize is at least what appendRow writes for vals: each column at its widest (a union
// branch, a length or scale varint, its bytes, a placeholder or zero value), so that a buffer
// of this capacity never grows while the row is appended.
func (p *rowPlan) maxSize(vals []decoder.Value) int {
	n := 0
	for i := range p.cols {
		cp := &p.cols[i]
		n += 1 + len(cp.zero) + len(cp.unavailable)
		if cp.index < len(vals) {
			n += valueMaxSize(&vals[cp.index])
		} else {
			n++
		}
	}
	return n
}

// valueMaxSize is at least the Avro binary of v without its union branch: a long, a
// float, a scale and a length-prefixed byte string, an array's blocks.
func valueMaxSize(v *decoder.Value) int {
	n := 2*binary.MaxVarintLen64 + 8 + len(v.Bytes)
	if len(v.Elems) > 0 {
		n += 2 * binary.MaxVarintLen64
		for i := range v.Elems {
			n += 1 + valueMaxSize(&v.Elems[i])
		}
	}
	return n
}

// append writes one column's value, with its union branch when the column is optional.
func (cp *colPlan) append(dst []byte, v *decoder.Value, nulls nullPolicy) ([]byte, error) {
	state := decoder.ValueNull
	if v != nil {
		state = v.State
	}
	switch state {
	case decoder.ValueSet:
		if cp.optional {
			dst = append(dst, cp.setBranch)
		}
		return cp.enc(dst, v)
	case decoder.ValueNull:
		if cp.optional {
			return append(dst, cp.nullBranch), nil
		}
		if nulls == nullsAsZero {
			return append(dst, cp.zero...), nil
		}
		return dst, ErrNullValue
	case decoder.ValueUnchanged:
		if cp.unavailable == nil {
			return dst, ErrUnavailableValue
		}
		if cp.optional {
			dst = append(dst, cp.setBranch)
		}
		return append(dst, cp.unavailable...), nil
	default:
		return dst, fmt.Errorf("%w: unknown value state %d", ErrBadValue, state)
	}
}

// zonedEpoch and zonedMidnight are what Debezium writes for a timestamp or time with zone it
// has no value for in a non-optional field (JdbcValueConverters' fallbacks, in UTC).
const (
	zonedEpoch    = "1970-01-01T00:00:00Z"
	zonedMidnight = "00:00:00Z"
)

// encoderFor chooses the encode function of a column type, and its encoded zero value.
func encoderFor(c *decoder.Column) (valueEnc, []byte, error) {
	switch c.Type {
	case decoder.TypeBool:
		return encBool, []byte{0}, nil
	case decoder.TypeInt16:
		return encInt16, []byte{0}, nil
	case decoder.TypeInt32, decoder.TypeDate, decoder.TypeTimeMillis, decoder.TypeYear:
		return encInt32, []byte{0}, nil
	case decoder.TypeInt64, decoder.TypeTimeMicros, decoder.TypeTimestampMillis,
		decoder.TypeTimestampMicros, decoder.TypeIntervalMicros:
		return encLong, []byte{0}, nil
	case decoder.TypeFloat32:
		return encFloat, make([]byte, 4), nil
	case decoder.TypeFloat64:
		return encDouble, make([]byte, 8), nil
	case decoder.TypeDecimal:
		return encDecimal, []byte{2, 0}, nil
	case decoder.TypeVariableDecimal:
		return encVariableDecimal, []byte{0, 2, 0}, nil
	case decoder.TypeZonedTimestamp:
		// Debezium's fallback for a timestamp with zone is the epoch, not an empty string.
		return encBytes, appendString(nil, zonedEpoch), nil
	case decoder.TypeZonedTime:
		return encBytes, appendString(nil, zonedMidnight), nil
	case decoder.TypeString, decoder.TypeBytes, decoder.TypeJSON, decoder.TypeUUID,
		decoder.TypeEnum, decoder.TypeEnumSet, decoder.TypeXML, decoder.TypeLtree:
		return encBytes, []byte{0}, nil
	case decoder.TypeGeometry, decoder.TypeGeography:
		return encGeometry, []byte{0, 0}, nil
	case decoder.TypeFloatVector:
		return arrayEnc(encFloat, false), []byte{0}, nil
	case decoder.TypeDoubleVector:
		return arrayEnc(encDouble, false), []byte{0}, nil
	case decoder.TypeSparseVector:
		return encSparseVector, []byte{0, 0}, nil
	case decoder.TypeStringMap:
		return encStringMap, []byte{0}, nil
	case decoder.TypeBits:
		if c.Precision < 1 {
			return nil, nil, fmt.Errorf("%w: bits length %d is not positive", ErrBadValue, c.Precision)
		}
		return bitsEnc((c.Precision+7)/8, c.Scale == 1), bitsZero(c.Precision), nil
	case decoder.TypeArray:
		if c.Elem == nil {
			return nil, nil, fmt.Errorf("%w: array column without element description", ErrBadValue)
		}
		if c.Elem.Type == decoder.TypeArray {
			return nil, nil, fmt.Errorf("%w: arrays of arrays are not supported", ErrBadValue)
		}
		elem, _, err := encoderFor(c.Elem)
		if err != nil {
			return nil, nil, err
		}
		return arrayEnc(elem, c.Elem.Optional), []byte{0}, nil
	default:
		return nil, nil, fmt.Errorf("%w: unsupported type %d", ErrBadValue, c.Type)
	}
}

func encBool(dst []byte, v *decoder.Value) ([]byte, error) {
	switch v.Int {
	case 0:
		return append(dst, 0), nil
	case 1:
		return append(dst, 1), nil
	}
	return dst, fmt.Errorf("%w: boolean %d", ErrBadValue, v.Int)
}

func encInt16(dst []byte, v *decoder.Value) ([]byte, error) {
	if v.Int < math.MinInt16 || v.Int > math.MaxInt16 {
		return dst, fmt.Errorf("%w: %d overflows int16", ErrBadValue, v.Int)
	}
	return appendLong(dst, v.Int), nil
}

func encInt32(dst []byte, v *decoder.Value) ([]byte, error) {
	if v.Int < math.MinInt32 || v.Int > math.MaxInt32 {
		return dst, fmt.Errorf("%w: %d overflows int", ErrBadValue, v.Int)
	}
	return appendLong(dst, v.Int), nil
}

func encLong(dst []byte, v *decoder.Value) ([]byte, error) {
	return appendLong(dst, v.Int), nil
}

func encFloat(dst []byte, v *decoder.Value) ([]byte, error) {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(v.Float))), nil
}

func encDouble(dst []byte, v *decoder.Value) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Float)), nil
}

func encBytes(dst []byte, v *decoder.Value) ([]byte, error) {
	return appendBytes(dst, v.Bytes), nil
}

// bitsEnc writes a Bits value, which must have the column's size: a reader sizes its bit set
// from the bytes, so a shorter or longer value would change the column's length.
// A bit varying value (varying) is sized by its content, as Debezium's Bits is, so it may be
// shorter than its column's length.
func bitsEnc(size int, varying bool) valueEnc {
	return func(dst []byte, v *decoder.Value) ([]byte, error) {
		if len(v.Bytes) > size || (!varying && len(v.Bytes) != size) {
			return dst, fmt.Errorf("%w: bits value of %d bytes, want %d", ErrBadValue, len(v.Bytes), size)
		}
		return appendBytes(dst, v.Bytes), nil
	}
}

// maxBitsZero bounds the all-zero value of a Bits column: an unbounded bit varying has a
// length of 2^31-1 bits.
const maxBitsZero = 8

// bitsZero is the encoded all-zero Bits value of a column of n bits (at most maxBitsZero
// bytes).
func bitsZero(n int) []byte {
	size := min((n+7)/8, maxBitsZero)
	return appendBytes(nil, make([]byte, size))
}

// encStringMap writes a map of string to optional string as one block (the pairs' count,
// then each key and its value's union) and the end marker.
func encStringMap(dst []byte, v *decoder.Value) ([]byte, error) {
	if len(v.Elems)%2 != 0 {
		return dst, fmt.Errorf("%w: map of %d elements, not pairs", ErrBadValue, len(v.Elems))
	}
	if len(v.Elems) == 0 {
		return append(dst, 0), nil
	}
	dst = appendLong(dst, int64(len(v.Elems)/2))
	for i := 0; i < len(v.Elems); i += 2 {
		k, val := &v.Elems[i], &v.Elems[i+1]
		if k.State != decoder.ValueSet {
			return dst, fmt.Errorf("%w: map key %d is not set", ErrBadValue, i/2)
		}
		dst = appendBytes(dst, k.Bytes)
		if val.State == decoder.ValueSet {
			dst = appendBytes(append(dst, 2), val.Bytes)
		} else {
			dst = append(dst, 0)
		}
	}
	return append(dst, 0), nil
}

// encGeometry writes Debezium's Geometry struct: the WKB, then the SRID's union (null, or int
// when Scale says it is set).
func encGeometry(dst []byte, v *decoder.Value) ([]byte, error) {
	dst = appendBytes(dst, v.Bytes)
	if v.Scale == 0 {
		return append(dst, 0), nil
	}
	if v.Int < math.MinInt32 || v.Int > math.MaxInt32 {
		return dst, fmt.Errorf("%w: SRID %d overflows int32", ErrBadValue, v.Int)
	}
	return appendLong(append(dst, 2), v.Int), nil
}

// encSparseVector writes a SparseVector record: the dimension count, then the map's entries
// as one array block of {key, value} records.
func encSparseVector(dst []byte, v *decoder.Value) ([]byte, error) {
	dst = appendLong(dst, v.Int)
	if len(v.Elems) == 0 {
		return append(dst, 0), nil
	}
	dst = appendLong(dst, int64(len(v.Elems)))
	for i := range v.Elems {
		dst = appendLong(dst, v.Elems[i].Int)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Elems[i].Float))
	}
	return append(dst, 0), nil
}

// encDecimal writes the unscaled two's complement; an empty one is zero, which Java's
// BigInteger (the reader's) wants as one byte.
func encDecimal(dst []byte, v *decoder.Value) ([]byte, error) {
	if len(v.Bytes) == 0 {
		return append(dst, 2, 0), nil
	}
	return appendBytes(dst, v.Bytes), nil
}

func encVariableDecimal(dst []byte, v *decoder.Value) ([]byte, error) {
	dst = appendLong(dst, int64(v.Scale))
	return encDecimal(dst, v)
}

// arrayEnc writes an array as one block followed by the end marker.
func arrayEnc(elem valueEnc, optional bool) valueEnc {
	return func(dst []byte, v *decoder.Value) ([]byte, error) {
		if len(v.Elems) == 0 {
			return append(dst, 0), nil
		}
		dst = appendLong(dst, int64(len(v.Elems)))
		var err error
		for i := range v.Elems {
			e := &v.Elems[i]
			switch e.State {
			case decoder.ValueSet:
				if optional {
					dst = append(dst, 2)
				}
				if dst, err = elem(dst, e); err != nil {
					return dst, fmt.Errorf("element %d: %w", i, err)
				}
			case decoder.ValueNull:
				if !optional {
					return dst, fmt.Errorf("element %d: %w", i, ErrNullValue)
				}
				dst = append(dst, 0)
			default:
				return dst, fmt.Errorf("%w: element %d has state %d", ErrBadValue, i, e.State)
			}
		}
		return append(dst, 0), nil
	}
}

// appendLong appends v as an Avro long (and int): zigzag, then a base-128 varint.
func appendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

func appendBytes(dst, b []byte) []byte {
	dst = appendLong(dst, int64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = appendLong(dst, int64(len(s)))
	return append(dst, s...)
}

// appendHeader appends the Confluent wire-format header: magic byte 0, the schema id as 4
// bytes big-endian.
func appendHeader(dst []byte, id int) []byte {
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint32(dst, uint32(id))
}
