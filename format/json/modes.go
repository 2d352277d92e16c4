package json

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
)

// The handling modes (format.Modes) in the json format: a column whose type a mode changes
// gets its schema and its value writer here, once, when its table is planned; every other
// column is written by its type (typeSchema, appendValue).

// valueFunc writes a set value of one column.
type valueFunc func(dst []byte, v *decoder.Value) ([]byte, error)

// columnSchema appends the Connect schema of c under the modes m.
func columnSchema(s []byte, c *decoder.Column, m format.Modes) []byte {
	if out, ok := modeSchema(s, c, m); ok {
		return out
	}
	out, _ := typeSchema(s, c, false) // planColumn has checked that c has one
	return out
}

// hasMode tells whether a mode changes how c (or, for an array, its elements) is written.
func hasMode(c *decoder.Column, m format.Modes) bool {
	if c.Type == decoder.TypeArray {
		return c.Elem != nil && c.Elem.Type != decoder.TypeArray && m.ColumnMode(c.Elem.Type) != format.ModeNone
	}
	return m.ColumnMode(c.Type) != format.ModeNone
}

// modeSchema appends the schema of c when a mode changes it; ok is false otherwise.
func modeSchema(s []byte, c *decoder.Column, m format.Modes) (out []byte, ok bool) {
	if !hasMode(c, m) {
		return s, false
	}
	opt := `,"optional":` + strconv.FormatBool(c.Optional)
	logical := func(typ, name string) []byte {
		return append(s, `{"type":"`+typ+`"`+opt+`,"name":"`+name+`","version":1}`...)
	}
	switch m.ColumnMode(c.Type) {
	case format.ModeDecimalDouble:
		return append(s, `{"type":"double"`+opt+`}`...), true
	case format.ModeDecimalString, format.ModeBase64, format.ModeBase64URL, format.ModeHex:
		return append(s, `{"type":"string"`+opt+`}`...), true
	case format.ModeConnectDate:
		return logical("int32", format.ConnectDateName), true
	case format.ModeConnectTime:
		return logical("int32", format.ConnectTimeName), true
	case format.ModeConnectTimestamp:
		return logical("int64", format.ConnectTimestampName), true
	case format.ModeMicroTime:
		return logical("int64", "io.debezium.time.MicroTime"), true
	}
	// An array whose elements have a mode.
	s = append(s, `{"type":"array","items":`...)
	s, _ = modeSchema(s, c.Elem, m)
	return append(s, opt+`}`...), true
}

// modeEncoder returns the writer of c's set values under m; nil when no mode changes c.
func modeEncoder(c *decoder.Column, m format.Modes) valueFunc {
	if !hasMode(c, m) {
		return nil
	}
	switch mode := m.ColumnMode(c.Type); mode {
	case format.ModeDecimalDouble:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			return appendFloat(dst, format.DecimalFloat(c, v), 64), nil
		}
	case format.ModeDecimalString:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			return append(format.AppendDecimalText(append(dst, '"'), c, v), '"'), nil
		}
	case format.ModeConnectDate, format.ModeConnectTime:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			n := format.ConnectMillis(c.Type, v.Int)
			if n < math.MinInt32 || n > math.MaxInt32 {
				return dst, fmt.Errorf("%w: %d overflows int32", errBadValue, n)
			}
			return strconv.AppendInt(dst, n, 10), nil
		}
	case format.ModeConnectTimestamp:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			return strconv.AppendInt(dst, format.ConnectMillis(c.Type, v.Int), 10), nil
		}
	case format.ModeMicroTime:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			return strconv.AppendInt(dst, v.Int*1000, 10), nil
		}
	case format.ModeBase64, format.ModeBase64URL, format.ModeHex:
		return func(dst []byte, v *decoder.Value) ([]byte, error) {
			return append(format.AppendBinaryText(append(dst, '"'), v.Bytes, mode), '"'), nil
		}
	}
	elem, optional := modeEncoder(c.Elem, m), c.Elem.Optional
	return func(dst []byte, v *decoder.Value) ([]byte, error) {
		dst = append(dst, '[')
		var err error
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			switch el := &v.Elems[i]; el.State {
			case decoder.ValueSet:
				if dst, err = elem(dst, el); err != nil {
					return dst, fmt.Errorf("element %d: %w", i, err)
				}
			case decoder.ValueNull:
				if !optional {
					return dst, fmt.Errorf("element %d: %w", i, errNullValue)
				}
				dst = append(dst, "null"...)
			default:
				return dst, fmt.Errorf("%w: element %d has state %d", errBadValue, i, el.State)
			}
		}
		return append(dst, ']'), nil
	}
}

// modeZero is the fallback of a non-optional column the source sent no value for, when a mode
// changes the column's type; nil when none does.
func modeZero(c *decoder.Column, m format.Modes) []byte {
	if !hasMode(c, m) {
		return nil
	}
	switch m.ColumnMode(c.Type) {
	case format.ModeDecimalDouble:
		return []byte("0.0")
	case format.ModeDecimalString:
		return []byte(`"0"`)
	case format.ModeBase64, format.ModeBase64URL, format.ModeHex:
		return []byte(`""`)
	case format.ModeNone: // an array
		return []byte("[]")
	}
	return []byte("0")
}
