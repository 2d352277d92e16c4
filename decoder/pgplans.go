package decoder

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// pgPlan decodes one column's pgoutput TEXT value into v (whose State the caller sets). text
// points into the message, which the caller gave up: a plan may rewrite it in place and leave
// v.Bytes pointing into it, but never beyond len(text). Plans are chosen once per column when
// the Relation message arrives.
type pgPlan func(text []byte, v *Value) error

// The OIDs of the built-in types the decoder has plans for (pg_type.dat).
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidXML         = 142
	oidFloat4      = 700
	oidFloat8      = 701
	oidMacaddr8    = 774
	oidMacaddr     = 829
	oidCIDR        = 650
	oidInet        = 869
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidTimetz      = 1266
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// builtinArrays maps each supported built-in array type to its element type.
var builtinArrays = map[uint32]uint32{
	1000: oidBool, 1001: oidBytea, 1002: oidChar, 1003: oidName, 1016: oidInt8, 1005: oidInt2,
	1007: oidInt4, 1009: oidText, 1028: oidOID, 199: oidJSON, 143: oidXML, 1021: oidFloat4,
	1022: oidFloat8, 775: oidMacaddr8, 1040: oidMacaddr, 651: oidCIDR, 1041: oidInet,
	1014: oidBpchar, 1015: oidVarchar, 1182: oidDate, 1183: oidTime, 1115: oidTimestamp,
	1185: oidTimestamptz, 1187: oidInterval, 1270: oidTimetz, 1231: oidNumeric, 2951: oidUUID,
	3807: oidJSONB,
}

func builtinArrayName(elem uint32) string {
	c, _, _ := builtinPlan(elem, -1)
	return "_" + c.SourceType
}

// builtinPlan returns the column description and plan of a supported built-in scalar type.
func builtinPlan(oid uint32, typmod int32) (Column, pgPlan, bool) {
	c := Column{SourceTypeID: oid}
	var plan pgPlan
	switch oid {
	case oidBool:
		c.SourceType, c.Type, plan = "bool", TypeBool, planBool
	case oidInt2:
		c.SourceType, c.Type, plan = "int2", TypeInt16, planInt16
	case oidInt4:
		c.SourceType, c.Type, plan = "int4", TypeInt32, planInt32
	case oidInt8:
		c.SourceType, c.Type, plan = "int8", TypeInt64, planInt64
	case oidOID:
		c.SourceType, c.Type, plan = "oid", TypeInt64, planInt64
	case oidFloat4:
		c.SourceType, c.Type, plan = "float4", TypeFloat32, planFloat32
	case oidFloat8:
		c.SourceType, c.Type, plan = "float8", TypeFloat64, planFloat64
	case oidNumeric:
		c.SourceType = "numeric"
		if typmod < 4 { // -1: no precision or scale declared
			c.Type, plan = TypeVariableDecimal, planVariableDecimal
			break
		}
		mod := typmod - 4
		c.Precision = int((mod >> 16) & 0xffff)
		// PostgreSQL 15 allows a negative scale (11 bits, signed); its values are integers,
		// so they are emitted at scale 0 with room for the extra digits.
		c.Scale = int((mod&0x7ff)^1024) - 1024
		if c.Scale < 0 {
			c.Precision -= c.Scale
			c.Scale = 0
		}
		c.Type, plan = TypeDecimal, decimalPlan(c.Scale)
	case oidText, oidVarchar, oidBpchar, oidName, oidChar:
		c.SourceType, c.Type, plan = textTypeNames[oid], TypeString, planText
	case oidXML:
		c.SourceType, c.Type, plan = "xml", TypeXML, planText
	case oidInet, oidCIDR, oidMacaddr, oidMacaddr8:
		c.SourceType, c.Type, plan = textTypeNames[oid], TypeString, planText
	case oidBytea:
		c.SourceType, c.Type, plan = "bytea", TypeBytes, planBytea
	case oidJSON:
		c.SourceType, c.Type, plan = "json", TypeJSON, planText
	case oidJSONB:
		c.SourceType, c.Type, plan = "jsonb", TypeJSON, planText
	case oidUUID:
		c.SourceType, c.Type, plan = "uuid", TypeUUID, planUUID
	case oidDate:
		c.SourceType, c.Type, plan = "date", TypeDate, planDate
	case oidTime:
		c.SourceType, c.Precision = "time", timePrecision(typmod)
		if c.Precision <= 3 {
			c.Type, plan = TypeTimeMillis, planTimeMillis
		} else {
			c.Type, plan = TypeTimeMicros, planTimeMicros
		}
	case oidTimetz:
		c.SourceType, c.Precision, c.Type, plan = "timetz", timePrecision(typmod), TypeZonedTime, planTimetz
	case oidTimestamp:
		c.SourceType, c.Precision = "timestamp", timePrecision(typmod)
		if c.Precision <= 3 {
			c.Type, plan = TypeTimestampMillis, planTimestampMillis
		} else {
			c.Type, plan = TypeTimestampMicros, planTimestampMicros
		}
	case oidTimestamptz:
		c.SourceType, c.Precision, c.Type = "timestamptz", timePrecision(typmod), TypeZonedTimestamp
		plan = timestamptzPlan(c.Precision)
	case oidInterval:
		c.SourceType, c.Type, plan = "interval", TypeIntervalMicros, planInterval
	default:
		return c, nil, false
	}
	return c, plan, true
}

var textTypeNames = map[uint32]string{
	oidText: "text", oidVarchar: "varchar", oidBpchar: "bpchar", oidName: "name", oidChar: "char",
	oidXML: "xml", oidInet: "inet", oidCIDR: "cidr", oidMacaddr: "macaddr", oidMacaddr8: "macaddr8",
}

// timePrecision is the fractional-second precision of a time or timestamp typmod (6 when
// none is declared).
func timePrecision(typmod int32) int {
	if typmod < 0 || typmod > 6 {
		return 6
	}
	return int(typmod)
}

func planText(text []byte, v *Value) error {
	v.Bytes = text
	return nil
}

func planUUID(text []byte, v *Value) error {
	if len(text) != 36 {
		return badValue("uuid", text)
	}
	v.Bytes = text
	return nil
}

func planBool(text []byte, v *Value) error {
	if len(text) == 1 {
		switch text[0] {
		case 't':
			v.Int = 1
			return nil
		case 'f':
			v.Int = 0
			return nil
		}
	}
	return badValue("bool", text)
}

// parseInt parses a decimal integer within [lo, hi] without allocating.
func parseInt(text []byte, lo, hi int64) (int64, bool) {
	if len(text) == 0 || len(text) > 20 {
		return 0, false
	}
	neg := text[0] == '-'
	digits := text
	if neg || text[0] == '+' {
		digits = text[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		n := -int64(u) // for u == 1<<63 the wrap gives MinInt64, as intended
		return n, n >= lo
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), int64(u) <= hi
}

func planInt16(text []byte, v *Value) error {
	n, ok := parseInt(text, math.MinInt16, math.MaxInt16)
	if !ok {
		return badValue("int2", text)
	}
	v.Int = n
	return nil
}

func planInt32(text []byte, v *Value) error {
	n, ok := parseInt(text, math.MinInt32, math.MaxInt32)
	if !ok {
		return badValue("int4", text)
	}
	v.Int = n
	return nil
}

func planInt64(text []byte, v *Value) error {
	n, ok := parseInt(text, math.MinInt64, math.MaxInt64)
	if !ok {
		return badValue("int8", text)
	}
	v.Int = n
	return nil
}

// parseFloat accepts PostgreSQL's spellings, including NaN, Infinity and -Infinity.
func parseFloat(text []byte, bits int) (float64, bool) {
	// The conversion does not escape (strconv copies its input into errors), so it does not
	// allocate.
	f, err := strconv.ParseFloat(string(text), bits)
	if err != nil {
		return 0, false
	}
	return f, true
}

func planFloat32(text []byte, v *Value) error {
	f, ok := parseFloat(text, 32)
	if !ok {
		return badValue("float4", text)
	}
	v.Float = f
	return nil
}

func planFloat64(text []byte, v *Value) error {
	f, ok := parseFloat(text, 64)
	if !ok {
		return badValue("float8", text)
	}
	v.Float = f
	return nil
}

// planBytea decodes bytea's hex output (\x0a0b...) in place.
func planBytea(text []byte, v *Value) error {
	if len(text) < 2 || text[0] != '\\' || text[1] != 'x' || len(text)%2 != 0 {
		return badValue("bytea (hex)", text)
	}
	n := (len(text) - 2) / 2
	for i := range n {
		hi, ok1 := unhex(text[2+2*i])
		lo, ok2 := unhex(text[3+2*i])
		if !ok1 || !ok2 {
			return badValue("bytea (hex)", text)
		}
		text[i] = hi<<4 | lo // i < 2+2i: never overwrites a digit not yet read
	}
	v.Bytes = text[:n:n]
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pgNumeric is a numeric's text split into sign and digits (without the point).
type pgNumeric struct {
	neg      bool
	intPart  []byte
	fracPart []byte
}

func splitNumeric(text []byte) (pgNumeric, error) {
	var n pgNumeric
	s := text
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		n.neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) > 0 && (s[0] == 'N' || s[0] == 'I') {
		if string(s) == "NaN" || string(s) == "Infinity" {
			return n, fmt.Errorf("%w: numeric %s: a decimal (org.apache.kafka.connect.data.Decimal, "+
				"io.debezium.data.VariableScaleDecimal) holds finite numbers only", ErrPGSpecialValue, text)
		}
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n.intPart = s[:i]
	if i < len(s) {
		if s[i] != '.' {
			return n, badValue("numeric", text)
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j != len(s) {
			return n, badValue("numeric", text)
		}
		n.fracPart = s[i+1:]
	}
	if len(n.intPart) == 0 && len(n.fracPart) == 0 {
		return n, badValue("numeric", text)
	}
	return n, nil
}

// decimalPlan decodes a numeric(p,s) into its unscaled two's-complement bytes at scale s.
func decimalPlan(scale int) pgPlan {
	return func(text []byte, v *Value) error {
		n, err := splitNumeric(text)
		if err != nil {
			return err
		}
		frac := n.fracPart
		for len(frac) > scale { // more digits than the scale: only zeros may go
			if frac[len(frac)-1] != '0' {
				return badValue("numeric with more digits than its scale", text)
			}
			frac = frac[:len(frac)-1]
		}
		v.Bytes = unscaledBytes(text, n.neg, n.intPart, frac, scale-len(frac))
		return nil
	}
}

// planVariableDecimal decodes an unconstrained numeric as Debezium does: trailing fraction
// zeros stripped, the scale never below 0.
func planVariableDecimal(text []byte, v *Value) error {
	n, err := splitNumeric(text)
	if err != nil {
		return err
	}
	frac := n.fracPart
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	v.Scale = int32(len(frac))
	v.Bytes = unscaledBytes(text, n.neg, n.intPart, frac, 0)
	return nil
}

// unscaledBytes returns the minimal big-endian two's complement of the integer whose digits
// are intPart, frac and pad zeros (negated when neg), as Java's BigInteger.toByteArray writes
// it. It writes into dst when the result fits, which it does for text PostgreSQL wrote.
func unscaledBytes(dst []byte, neg bool, intPart, frac []byte, pad int) []byte {
	if len(intPart)+len(frac)+pad <= 18 {
		var u int64
		for _, c := range intPart {
			u = u*10 + int64(c-'0')
		}
		for _, c := range frac {
			u = u*10 + int64(c-'0')
		}
		for range pad {
			u *= 10
		}
		if neg {
			u = -u
		}
		var b [8]byte
		for i := range b {
			b[i] = byte(u >> (56 - 8*i))
		}
		k := 0 // drop leading bytes that only repeat the sign
		for k < 7 && ((b[k] == 0 && b[k+1]&0x80 == 0) || (b[k] == 0xff && b[k+1]&0x80 != 0)) {
			k++
		}
		out := b[k:]
		if len(out) <= len(dst) {
			n := copy(dst, out)
			return dst[:n:n]
		}
		return append([]byte(nil), out...)
	}
	digits := make([]byte, 0, len(intPart)+len(frac)+pad)
	digits = append(digits, intPart...)
	digits = append(digits, frac...)
	for range pad {
		digits = append(digits, '0')
	}
	x, _ := new(big.Int).SetString(string(digits), 10) // only digits: cannot fail
	return twosComplement(x, neg)
}

// twosComplement returns the minimal big-endian two's complement bytes of x (negated when neg).
func twosComplement(x *big.Int, neg bool) []byte {
	if !neg || x.Sign() == 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -x = ^(x-1)
	m := new(big.Int).Sub(x, big.NewInt(1)).Bytes()
	for i := range m {
		m[i] = ^m[i]
	}
	if len(m) == 0 || m[0]&0x80 == 0 {
		m = append([]byte{0xff}, m...)
	}
	return m
}
