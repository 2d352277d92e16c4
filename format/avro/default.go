package avro

import (
	"math"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
)

// This file carries a column's SQL default (decoder.Column.Default) into its Avro field's
// default, as Debezium's schema for the column has it and Confluent's AvroConverter writes it.
// Without it, adding a NOT NULL column with a default breaks BACKWARD compatibility: a reader
// with the new schema could not read the records written before.

// fieldDefault returns the JSON value of the Avro default of c's field: the Avro encoding of
// c.Default in JSON, as the Avro specification writes defaults (a logical type's default is
// its underlying value: a date as int days, a decimal's unscaled bytes as a string of code
// points 0-255). ok is false when the column has no default or one Avro cannot state (a NaN
// float, an array with elements: an element of an optional union would have to be null).
func fieldDefault(c *decoder.Column) (def any, ok bool) {
	v := c.Default
	if v == nil || v.State != decoder.ValueSet {
		return nil, false
	}
	switch c.Type {
	case decoder.TypeBool:
		return v.Int != 0, true
	case decoder.TypeInt16, decoder.TypeInt32, decoder.TypeDate, decoder.TypeTimeMillis, decoder.TypeYear:
		if v.Int < math.MinInt32 || v.Int > math.MaxInt32 {
			return nil, false
		}
		return v.Int, true
	case decoder.TypeInt64, decoder.TypeTimeMicros, decoder.TypeTimestampMillis,
		decoder.TypeTimestampMicros, decoder.TypeIntervalMicros:
		return v.Int, true
	case decoder.TypeFloat32, decoder.TypeFloat64:
		if math.IsNaN(v.Float) || math.IsInf(v.Float, 0) {
			return nil, false
		}
		return v.Float, true
	case decoder.TypeDecimal:
		return avroBytesDefault(decimalBytes(v.Bytes)), true
	case decoder.TypeVariableDecimal:
		return obj{{"scale", v.Scale}, {"value", avroBytesDefault(decimalBytes(v.Bytes))}}, true
	case decoder.TypeString, decoder.TypeJSON, decoder.TypeUUID, decoder.TypeEnum,
		decoder.TypeEnumSet, decoder.TypeZonedTime, decoder.TypeZonedTimestamp:
		return string(v.Bytes), true
	case decoder.TypeBytes:
		return avroBytesDefault(v.Bytes), true
	case decoder.TypeBits:
		if len(v.Bytes) != (c.Precision+7)/8 {
			return nil, false
		}
		return avroBytesDefault(v.Bytes), true
	case decoder.TypeArray:
		if len(v.Elems) != 0 {
			return nil, false
		}
		return []any{}, true
	}
	return nil, false
}

// decimalBytes is the unscaled value as the encoder writes it: zero is one byte.
func decimalBytes(b []byte) []byte {
	if len(b) == 0 {
		return []byte{0}
	}
	return b
}

// avroBytesDefault spells bytes as the Avro specification wants a bytes default: a string
// whose code points 0-255 are the bytes.
func avroBytesDefault(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		s.WriteRune(rune(c))
	}
	return s.String()
}
