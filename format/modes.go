package format

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
)

// Debezium's handling modes say how a column of some types is written, whatever the format:
// decimal.handling.mode, time.precision.mode and binary.handling.mode. A format reads them from
// format.Config.Settings (ParseModeSetting) and chooses, once per column when it plans a table,
// how that column is written (ColumnMode); no value is ever asked its mode.

// The keys of format.Config.Settings the handling modes are read from, Debezium's names.
const (
	// SettingDecimalMode is decimal.handling.mode: precise (the default), double or string.
	SettingDecimalMode = "decimal.handling.mode"
	// SettingTimeMode is time.precision.mode: adaptive (the default),
	// adaptive_time_microseconds or connect.
	SettingTimeMode = "time.precision.mode"
	// SettingBinaryMode is binary.handling.mode: bytes (the default), base64, base64-url-safe
	// or hex.
	SettingBinaryMode = "binary.handling.mode"
)

// DecimalMode is decimal.handling.mode: how a decimal column (decoder.TypeDecimal and
// TypeVariableDecimal) is written.
type DecimalMode uint8

// The decimal modes.
const (
	// DecimalPrecise writes Connect's Decimal (a fixed scale) or Debezium's
	// VariableScaleDecimal: the exact value, as bytes. The default.
	DecimalPrecise DecimalMode = iota
	// DecimalDouble writes a double (Connect FLOAT64): the nearest double, precision lost.
	DecimalDouble
	// DecimalString writes the value's plain decimal text (Connect STRING), e.g. "-12.340".
	DecimalString
)

// TimeMode is time.precision.mode: how a date, time or timestamp without zone is written. The
// zoned types (ZonedTime, ZonedTimestamp), intervals and years are the same in every mode.
type TimeMode uint8

// The time modes.
const (
	// TimeAdaptive writes Debezium's io.debezium.time types at the column's own precision, as
	// the source kind decodes it (PostgreSQL: Time for time(0-3), MicroTime above; MySQL's
	// decoder has MicroTime for every time, Debezium's adaptive_time_microseconds). The default.
	TimeAdaptive TimeMode = iota
	// TimeAdaptiveMicroseconds is TimeAdaptive with every time as io.debezium.time.MicroTime
	// (microseconds), whatever its precision.
	TimeAdaptiveMicroseconds
	// TimeConnect writes Kafka Connect's logical types: org.apache.kafka.connect.data.Date
	// (int32 days), Time (int32 milliseconds since midnight) and Timestamp (int64
	// milliseconds since the epoch); sub-millisecond digits are dropped (floor).
	TimeConnect
)

// BinaryMode is binary.handling.mode: how a binary column (decoder.TypeBytes) is written.
type BinaryMode uint8

// The binary modes.
const (
	// BinaryBytes writes Connect BYTES. The default.
	BinaryBytes BinaryMode = iota
	// BinaryBase64 writes a string: the bytes in standard base64 with padding.
	BinaryBase64
	// BinaryBase64URLSafe writes a string: the bytes in URL-safe base64 ('-' and '_' for '+'
	// and '/'), with padding, as Java's Base64.getUrlEncoder.
	BinaryBase64URLSafe
	// BinaryHex writes a string: the bytes in lowercase hexadecimal, two digits a byte.
	BinaryHex
)

// Modes are a connector's handling modes; the zero Modes are Debezium's defaults (precise,
// adaptive, bytes).
type Modes struct {
	Decimal DecimalMode
	Time    TimeMode
	Binary  BinaryMode
}

// ErrMode is wrapped by the error of a handling mode's unknown value.
var ErrMode = errors.New("format: unknown handling mode")

var (
	decimalModes = map[string]DecimalMode{"precise": DecimalPrecise, "double": DecimalDouble, "string": DecimalString}
	timeModes    = map[string]TimeMode{"adaptive": TimeAdaptive,
		"adaptive_time_microseconds": TimeAdaptiveMicroseconds, "connect": TimeConnect}
	binaryModes = map[string]BinaryMode{"bytes": BinaryBytes, "base64": BinaryBase64,
		"base64-url-safe": BinaryBase64URLSafe, "hex": BinaryHex}
)

// ParseModeSetting sets the mode that key names (one of the SettingXxxMode keys) in m from its
// value (case-insensitive; "" is the default). ok is false when key is not a mode's key (the
// format then reads it itself); err wraps ErrMode for an unknown value.
func (m *Modes) ParseModeSetting(key, value string) (ok bool, err error) {
	v := strings.ToLower(strings.TrimSpace(value))
	if v == "" {
		switch key {
		case SettingDecimalMode:
			v = "precise"
		case SettingTimeMode:
			v = "adaptive"
		case SettingBinaryMode:
			v = "bytes"
		}
	}
	switch key {
	case SettingDecimalMode:
		d, known := decimalModes[v]
		if !known {
			return true, fmt.Errorf("%w: %s=%q: not precise, double or string", ErrMode, key, value)
		}
		m.Decimal = d
	case SettingTimeMode:
		t, known := timeModes[v]
		if !known {
			return true, fmt.Errorf("%w: %s=%q: not adaptive, adaptive_time_microseconds or connect", ErrMode, key, value)
		}
		m.Time = t
	case SettingBinaryMode:
		b, known := binaryModes[v]
		if !known {
			return true, fmt.Errorf("%w: %s=%q: not bytes, base64, base64-url-safe or hex", ErrMode, key, value)
		}
		m.Binary = b
	default:
		return false, nil
	}
	return true, nil
}

// ParseModes reads the handling modes of settings, ignoring every other key.
func ParseModes(settings map[string]string) (Modes, error) {
	var m Modes
	for k, v := range settings {
		if _, err := m.ParseModeSetting(k, v); err != nil {
			return Modes{}, err
		}
	}
	return m, nil
}

// Mode is how one column's values are written once the handling modes apply: a column whose
// type the modes do not touch has ModeNone and is written by its type as ever.
type Mode uint8

// The column modes: what a column is written as, and from which decoder.Value field.
const (
	// ModeNone: the column's type decides, as without modes.
	ModeNone Mode = iota
	// ModeDecimalDouble: a decimal's value (Bytes at the column's Scale, or Value.Scale for a
	// variable-scale one) as a double (DecimalFloat).
	ModeDecimalDouble
	// ModeDecimalString: a decimal's value as its plain text (AppendDecimalText).
	ModeDecimalString
	// ModeConnectDate: a date's days, as org.apache.kafka.connect.data.Date (int32).
	ModeConnectDate
	// ModeConnectTime: a time as org.apache.kafka.connect.data.Time, int32 milliseconds
	// (ConnectMillis of the value's unit).
	ModeConnectTime
	// ModeConnectTimestamp: a timestamp without zone as org.apache.kafka.connect.data.Timestamp,
	// int64 milliseconds (ConnectMillis of the value's unit).
	ModeConnectTimestamp
	// ModeMicroTime: a time of millisecond precision as io.debezium.time.MicroTime (int64
	// microseconds: the milliseconds times 1000).
	ModeMicroTime
	// ModeBase64: bytes as a base64 string.
	ModeBase64
	// ModeBase64URL: bytes as a URL-safe base64 string.
	ModeBase64URL
	// ModeHex: bytes as a lowercase hexadecimal string.
	ModeHex
)

// The Connect logical type names of time.precision.mode connect.
const (
	ConnectDateName      = "org.apache.kafka.connect.data.Date"
	ConnectTimeName      = "org.apache.kafka.connect.data.Time"
	ConnectTimestampName = "org.apache.kafka.connect.data.Timestamp"
)

// ColumnMode returns how a column (or an array's element) of type t is written under m.
// A format calls it when it plans the column, never per value.
func (m Modes) ColumnMode(t decoder.Type) Mode {
	switch t {
	case decoder.TypeDecimal, decoder.TypeVariableDecimal:
		switch m.Decimal {
		case DecimalDouble:
			return ModeDecimalDouble
		case DecimalString:
			return ModeDecimalString
		}
	case decoder.TypeDate:
		if m.Time == TimeConnect {
			return ModeConnectDate
		}
	case decoder.TypeTimeMillis:
		switch m.Time {
		case TimeConnect:
			return ModeConnectTime
		case TimeAdaptiveMicroseconds:
			return ModeMicroTime
		}
	case decoder.TypeTimeMicros:
		if m.Time == TimeConnect {
			return ModeConnectTime
		}
	case decoder.TypeTimestampMillis, decoder.TypeTimestampMicros:
		if m.Time == TimeConnect {
			return ModeConnectTimestamp
		}
	case decoder.TypeBytes:
		switch m.Binary {
		case BinaryBase64:
			return ModeBase64
		case BinaryBase64URLSafe:
			return ModeBase64URL
		case BinaryHex:
			return ModeHex
		}
	}
	return ModeNone
}

// ConnectMillis returns the milliseconds of a time or timestamp value v of type t (its Int in
// milliseconds or microseconds), rounded down as Debezium truncates to Connect's precision.
func ConnectMillis(t decoder.Type, v int64) int64 {
	if t == decoder.TypeTimeMicros || t == decoder.TypeTimestampMicros {
		q := v / 1000
		if v%1000 < 0 {
			q--
		}
		return q
	}
	return v
}

// decimalScale is the scale of a decimal value v of a column c: the column's, or the value's
// own for a variable-scale decimal.
func decimalScale(c *decoder.Column, v *decoder.Value) int {
	if c.Type == decoder.TypeVariableDecimal {
		return int(v.Scale)
	}
	return c.Scale
}

// AppendDecimalText appends the plain text of decimal value v of column c (big-endian two's
// complement unscaled bytes at the scale): "-12.340", "0.05", "1200" (no exponent, as Java's
// BigDecimal.toPlainString).
func AppendDecimalText(dst []byte, c *decoder.Column, v *decoder.Value) []byte {
	scale := decimalScale(c, v)
	b := v.Bytes
	var digits string
	if len(b) <= 7 { // fits an int64 with its sign: no big.Int
		var n int64
		if len(b) > 0 && b[0]&0x80 != 0 {
			n = -1
		}
		for _, x := range b {
			n = n<<8 | int64(x)
		}
		if n < 0 {
			dst = append(dst, '-')
			n = -n
		}
		digits = strconv.FormatInt(n, 10)
	} else {
		n := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		if n.Sign() < 0 {
			dst = append(dst, '-')
			n.Neg(n)
		}
		digits = n.Text(10)
	}
	if scale < 0 {
		return append(append(dst, digits...), strings.Repeat("0", -scale)...)
	}
	if scale == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	dst = append(dst, digits[:len(digits)-scale]...)
	return append(append(dst, '.'), digits[len(digits)-scale:]...)
}

// DecimalFloat returns decimal value v of column c as the nearest double.
func DecimalFloat(c *decoder.Column, v *decoder.Value) float64 {
	var buf [48]byte
	// Out of a double's range, ParseFloat's value is ±Inf (with an error), as Java's
	// BigDecimal.doubleValue gives.
	f, _ := strconv.ParseFloat(string(AppendDecimalText(buf[:0], c, v)), 64)
	return f
}

// AppendBinaryText appends b as mode (ModeBase64, ModeBase64URL or ModeHex) writes it, without
// quotes.
func AppendBinaryText(dst, b []byte, mode Mode) []byte {
	switch mode {
	case ModeHex:
		return hex.AppendEncode(dst, b)
	case ModeBase64URL:
		return base64.URLEncoding.AppendEncode(dst, b)
	}
	return base64.StdEncoding.AppendEncode(dst, b)
}

// BinaryTextLen is the length of b's text under mode, as AppendBinaryText writes it.
func BinaryTextLen(n int, mode Mode) int {
	if mode == ModeHex {
		return 2 * n
	}
	return base64.StdEncoding.EncodedLen(n)
}
