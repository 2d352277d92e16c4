package avro

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
)

// The handling modes (format.Modes) in the avro format: a column whose type a mode changes
// gets its Avro type, its field default and its encode function here, once, when its table is
// planned; every other column is written by its type (columnType, encoderFor, fieldDefault).

// modeType returns c's Avro type when a mode changes it (an array's elements are typed
// through columnType, which asks again); ok is false otherwise.
func modeType(c *decoder.Column, m format.Modes) (typ any, ok bool) {
	logical := func(avroType, connectName, logicalType string) obj {
		return obj{{"type", avroType}, {"connect.version", 1}, {"connect.name", connectName}, {"logicalType", logicalType}}
	}
	switch m.ColumnMode(c.Type) {
	case format.ModeDecimalDouble:
		return "double", true
	case format.ModeDecimalString, format.ModeBase64, format.ModeBase64URL, format.ModeHex:
		return "string", true
	case format.ModeConnectDate:
		return logical("int", format.ConnectDateName, "date"), true
	case format.ModeConnectTime:
		return logical("int", format.ConnectTimeName, "time-millis"), true
	case format.ModeConnectTimestamp:
		return logical("long", format.ConnectTimestampName, "timestamp-millis"), true
	case format.ModeMicroTime:
		return connectType("long", "io.debezium.time.MicroTime"), true
	}
	return nil, false
}

// modeDefault returns the Avro default of c's field when a mode changes c's type; handled is
// false when none does (fieldDefault decides).
func modeDefault(c *decoder.Column, m format.Modes) (def any, ok, handled bool) {
	mode := m.ColumnMode(c.Type)
	if mode == format.ModeNone {
		return nil, false, false
	}
	v := c.Default
	if v == nil || v.State != decoder.ValueSet {
		return nil, false, true
	}
	switch mode {
	case format.ModeDecimalDouble:
		f := format.DecimalFloat(c, v)
		if math.IsInf(f, 0) {
			return nil, false, true
		}
		return f, true, true
	case format.ModeDecimalString:
		return string(format.AppendDecimalText(nil, c, v)), true, true
	case format.ModeBase64, format.ModeBase64URL, format.ModeHex:
		return string(format.AppendBinaryText(nil, v.Bytes, mode)), true, true
	case format.ModeConnectDate, format.ModeConnectTime:
		n := format.ConnectMillis(c.Type, v.Int)
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, false, true
		}
		return n, true, true
	case format.ModeConnectTimestamp:
		return format.ConnectMillis(c.Type, v.Int), true, true
	case format.ModeMicroTime:
		return v.Int * 1000, true, true
	}
	return nil, false, true
}

// fieldDefaultModes is fieldDefault under the modes m.
func fieldDefaultModes(c *decoder.Column, m format.Modes) (any, bool) {
	if def, ok, handled := modeDefault(c, m); handled {
		return def, ok
	}
	return fieldDefault(c)
}

// encoderForModes is encoderFor under the modes m: the encode function and zero value of a
// column (or an array of elements) whose type a mode changes, else encoderFor's.
func encoderForModes(c *decoder.Column, m format.Modes) (valueEnc, []byte, error) {
	switch mode := m.ColumnMode(c.Type); mode {
	case format.ModeDecimalDouble:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			return binary.LittleEndian.AppendUint64(dst, math.Float64bits(format.DecimalFloat(c, v))), nil
		}, make([]byte, 8), nil
	case format.ModeDecimalString:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			var buf [64]byte
			return appendBytes(dst, format.AppendDecimalText(buf[:0], c, v)), nil
		}, appendString(nil, "0"), nil
	case format.ModeConnectDate, format.ModeConnectTime:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			n := format.ConnectMillis(c.Type, v.Int)
			if n < math.MinInt32 || n > math.MaxInt32 {
				return dst, fmt.Errorf("%w: %d overflows int", ErrBadValue, n)
			}
			return appendLong(dst, n), nil
		}, []byte{0}, nil
	case format.ModeConnectTimestamp:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			return appendLong(dst, format.ConnectMillis(c.Type, v.Int)), nil
		}, []byte{0}, nil
	case format.ModeMicroTime:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			return appendLong(dst, v.Int*1000), nil
		}, []byte{0}, nil
	case format.ModeBase64, format.ModeBase64URL, format.ModeHex:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			dst = appendLong(dst, int64(format.BinaryTextLen(len(v.Bytes), mode)))
			return format.AppendBinaryText(dst, v.Bytes, mode), nil
		}, []byte{0}, nil
	}
	if c.Type == decoder.TypeArray && c.Elem != nil && c.Elem.Type != decoder.TypeArray &&
		m.ColumnMode(c.Elem.Type) != format.ModeNone {
		elem, _, err := encoderForModes(c.Elem, m)
		if err != nil {
			return nil, nil, err
		}
		return arrayEnc(elem, c.Elem.Optional), []byte{0}, nil
	}
	return encoderFor(c)
}
