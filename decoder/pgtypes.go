package decoder

import (
	"encoding/binary"
	"math"
	"strconv"
)

// The OIDs of the built-in types mapped beside builtinPlan's (pg_type.dat).
const (
	oidMoney     = 790
	oidBit       = 1560
	oidVarbit    = 1562
	oidTSVector  = 3614
	oidInt4Range = 3904
	oidNumRange  = 3906
	oidTsRange   = 3908
	oidTstzRange = 3910
	oidDateRange = 3912
	oidInt8Range = 3926
)

// moneyScale is the number of fraction digits of a money value: PostgreSQL's cash type
// counts in units of 10^-frac_digits of lc_monetary, 2 in the C and most other locales, which
// is also Debezium's money.fraction.digits default.
const moneyScale = 2

// maxVarbitLength is the length a bit varying column without a declared one reports, as
// Debezium's io.debezium.data.Bits length parameter does (2^31 - 1).
const maxVarbitLength = math.MaxInt32

var rangeNames = map[uint32]string{
	oidInt4Range: "int4range", oidNumRange: "numrange", oidTsRange: "tsrange",
	oidTstzRange: "tstzrange", oidDateRange: "daterange", oidInt8Range: "int8range",
}

// extraBuiltinPlan returns the column description and plans of the built-in types mapped as
// Debezium maps them beyond builtinPlan's: money, bit and bit varying, tsvector, and the
// ranges (text).
func extraBuiltinPlan(oid uint32, typmod int32) (Column, pgColumnPlans, bool) {
	c := Column{SourceTypeID: oid}
	switch oid {
	case oidMoney:
		c.SourceType, c.Type, c.Scale = "money", TypeDecimal, moneyScale
		return c, pgColumnPlans{text: planMoney, bin: binMoney}, true
	case oidBit, oidVarbit:
		c.SourceType = "bit"
		if oid == oidVarbit {
			c.SourceType = "varbit"
		}
		if oid == oidBit && typmod == 1 {
			c.Type = TypeBool
			return c, pgColumnPlans{text: planBit1, bin: binBit1}, true
		}
		c.Type, c.Precision = TypeBits, int(typmod)
		if oid == oidVarbit {
			c.Scale = 1 // sized by the value
		}
		if typmod <= 0 {
			c.Precision = maxVarbitLength
		}
		return c, pgColumnPlans{text: planBits, bin: binBits}, true
	case oidTSVector:
		c.SourceType, c.Type = "tsvector", TypeString
		return c, pgColumnPlans{text: planText, bin: binTSVector}, true
	}
	if name, ok := rangeNames[oid]; ok {
		c.SourceType, c.Type, c.TextForm = name, TypeString, true
		return c, pgColumnPlans{text: planText}, true // binary: the server's text (serverText)
	}
	return c, pgColumnPlans{}, false
}

// extensionPlan returns the column description and plans of a type an extension defines,
// known by its name (its OID differs from database to database): hstore, citext, ltree,
// PostGIS geometry and geography, pgvector's vector, halfvec and sparsevec.
func extensionPlan(ti PGTypeInfo, hstore HStoreMode) (Column, pgColumnPlans, bool) {
	c := Column{SourceType: ti.Name, SourceTypeID: ti.OID}
	switch ti.Name {
	case "hstore":
		if hstore == HStoreMap {
			c.Type = TypeStringMap
			return c, pgColumnPlans{text: planHStoreMap, bin: binHStoreMap}, true
		}
		c.Type = TypeJSON
		return c, pgColumnPlans{text: planHStore, bin: binHStore}, true
	case "citext":
		// citextsend is textsend: the text itself.
		c.Type = TypeString
		return c, pgColumnPlans{text: planText, bin: binRaw}, true
	case "ltree":
		c.Type = TypeLtree
		return c, pgColumnPlans{text: planText, bin: binLtree}, true
	case "geometry", "geography":
		c.Type = TypeGeometry
		if ti.Name == "geography" {
			c.Type = TypeGeography
		}
		return c, pgColumnPlans{text: planGeometry, bin: binGeometry}, true
	case "vector":
		c.Type = TypeDoubleVector
		return c, pgColumnPlans{text: planVector, bin: binVector}, true
	case "halfvec":
		c.Type = TypeFloatVector
		return c, pgColumnPlans{text: planHalfvec, bin: binHalfvec}, true
	case "sparsevec":
		c.Type = TypeSparseVector
		return c, pgColumnPlans{text: planSparsevec, bin: binSparsevec}, true
	}
	return c, pgColumnPlans{}, false
}

// planMoney reads cash_out's text ("$1,234.56", "-$0.50"; symbols and separators of
// lc_monetary) by keeping its sign, digits and decimal point, in place.
func planMoney(text []byte, v *Value) error {
	n := 0
	neg := false
	for _, c := range text {
		switch {
		case c >= '0' && c <= '9', c == '.':
			text[n] = c
			n++
		case c == '-', c == '(':
			neg = true
		}
	}
	if n == 0 {
		return badValue("money", text)
	}
	digits := text[:n]
	if neg {
		// Room for the sign: the text had it, so n < len(text).
		copy(text[1:], digits)
		text[0] = '-'
		digits = text[:n+1]
	}
	return decimalPlan(moneyScale)(digits, v)
}

// binMoney reads cash_send's int8 (in units of 10^-moneyScale) as the unscaled decimal.
func binMoney(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 8 {
		return badBinary("money", data)
	}
	v.Bytes = int64Unscaled(data, int64(binary.BigEndian.Uint64(data)))
	return nil
}

// int64Unscaled writes n's minimal big-endian two's complement (as Java's BigInteger writes
// it) into dst, which has room for 8 bytes.
func int64Unscaled(dst []byte, n int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	k := 0
	for k < 7 && ((b[k] == 0 && b[k+1]&0x80 == 0) || (b[k] == 0xff && b[k+1]&0x80 != 0)) {
		k++
	}
	m := copy(dst, b[k:])
	return dst[:m:m]
}

func planBit1(text []byte, v *Value) error {
	if len(text) == 1 && (text[0] == '0' || text[0] == '1') {
		v.Int = int64(text[0] - '0')
		return nil
	}
	return badValue("bit(1)", text)
}

func binBit1(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 5 || binary.BigEndian.Uint32(data) != 1 {
		return badBinary("bit(1)", data)
	}
	v.Int = int64(data[4] >> 7)
	return nil
}

// planBits reads a bit string ("0101", the first bit the most significant) as Debezium's Bits:
// the number it spells, little-endian, in (n+7)/8 bytes for n bits. The bytes are new: they
// are not in the text's order.
func planBits(text []byte, v *Value) error {
	out := make([]byte, (len(text)+7)/8)
	for i := range text {
		switch text[len(text)-1-i] {
		case '1':
			out[i/8] |= 1 << (i % 8)
		case '0':
		default:
			return badValue("bit", text)
		}
	}
	v.Bytes = out
	return nil
}

// binBits reads bit_send's form (the bit count, then the bits, the first the most significant
// of the first byte) as planBits reads the text.
func binBits(data []byte, v *Value, scratch *[]byte) error {
	if len(data) < 4 {
		return badBinary("bit", data)
	}
	n := int(binary.BigEndian.Uint32(data))
	bits := data[4:]
	if n < 0 || len(bits) != (n+7)/8 {
		return badBinary("bit", data)
	}
	start := len(*scratch)
	b := append(*scratch, make([]byte, (n+7)/8)...)
	out := b[start:]
	for i := range n {
		j := n - 1 - i // the bit's place in the string
		if bits[j/8]&(0x80>>(j%8)) != 0 {
			out[i/8] |= 1 << (i % 8)
		}
	}
	*scratch = b
	v.Bytes = out[:len(out):len(out)]
	return nil
}

// binTSVector reads tsvectorsend's form (the lexeme count, then each lexeme NUL-terminated,
// its position count and positions, a weight in the top two bits) and writes tsvectorout's
// text: each lexeme in quotes (a quote or backslash in it doubled), its positions after a
// colon with their weight letter (A to C; D is not written), the lexemes separated by spaces.
func binTSVector(data []byte, v *Value, scratch *[]byte) error {
	if len(data) < 4 {
		return badBinary("tsvector", data)
	}
	count := int(binary.BigEndian.Uint32(data))
	rest := data[4:]
	start := len(*scratch)
	b := *scratch
	for i := range count {
		end := -1
		for k, c := range rest {
			if c == 0 {
				end = k
				break
			}
		}
		if end < 0 || len(rest) < end+3 {
			return badBinary("tsvector", data)
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, '\'')
		for _, c := range rest[:end] {
			switch c {
			case '\'':
				b = append(b, '\'')
			case '\\':
				b = append(b, '\\')
			}
			b = append(b, c)
		}
		b = append(b, '\'')
		npos := int(binary.BigEndian.Uint16(rest[end+1:]))
		rest = rest[end+3:]
		if len(rest) < 2*npos {
			return badBinary("tsvector", data)
		}
		for k := range npos {
			if k == 0 {
				b = append(b, ':')
			} else {
				b = append(b, ',')
			}
			p := binary.BigEndian.Uint16(rest[2*k:])
			b = strconv.AppendInt(b, int64(p&0x3fff), 10)
			switch p >> 14 {
			case 3:
				b = append(b, 'A')
			case 2:
				b = append(b, 'B')
			case 1:
				b = append(b, 'C')
			}
		}
		rest = rest[2*npos:]
	}
	if len(rest) != 0 {
		return badBinary("tsvector", data)
	}
	*scratch = b
	v.Bytes = b[start:len(b):len(b)]
	return nil
}

// binLtree reads ltree_send's form: a version byte (1) and the text.
func binLtree(data []byte, v *Value, _ *[]byte) error {
	if len(data) < 1 || data[0] != 1 {
		return badBinary("ltree", data)
	}
	v.Bytes = data[1:]
	return nil
}

// parseHStore reads hstore_out's text ("a"=>"1", "b"=>NULL), calling pair for each pair with
// the key and value unescaped (value nil for NULL). The bytes are new: the escapes make the
// text longer than the strings.
func parseHStore(text []byte, pair func(k, v []byte)) error {
	s := text
	// quoted reads a "..." with \-escapes.
	quoted := func() ([]byte, bool) {
		if len(s) == 0 || s[0] != '"' {
			return nil, false
		}
		s = s[1:]
		raw := []byte{}
		for len(s) > 0 && s[0] != '"' {
			if s[0] == '\\' && len(s) > 1 {
				s = s[1:]
			}
			raw = append(raw, s[0])
			s = s[1:]
		}
		if len(s) == 0 {
			return nil, false
		}
		s = s[1:]
		return raw, true
	}
	skip := func() {
		for len(s) > 0 && (s[0] == ' ' || s[0] == ',') {
			s = s[1:]
		}
	}
	for skip(); len(s) > 0; skip() {
		k, ok := quoted()
		if !ok || len(s) < 2 || s[0] != '=' || s[1] != '>' {
			return badValue("hstore", text)
		}
		s = s[2:]
		var v []byte
		if len(s) >= 4 && string(s[:4]) == "NULL" {
			s = s[4:]
		} else if v, ok = quoted(); !ok {
			return badValue("hstore", text)
		}
		pair(k, v)
	}
	return nil
}

// planHStore reads hstore_out's text and writes it as a JSON object, as Debezium's
// hstore.handling.mode json does: {"a":"1","b":null}, in the hstore's order.
func planHStore(text []byte, v *Value) error {
	out := make([]byte, 0, len(text)+2)
	out = append(out, '{')
	err := parseHStore(text, func(k, val []byte) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(appendJSONString(out, k), ':')
		if val == nil {
			out = append(out, "null"...)
		} else {
			out = appendJSONString(out, val)
		}
	})
	if err != nil {
		return err
	}
	v.Bytes = append(out, '}')
	return nil
}

// planHStoreMap reads hstore_out's text as a TypeStringMap.
func planHStoreMap(text []byte, v *Value) error { return hstoreMap(parseHStore, text, v) }

// hstoreMap fills v, a TypeStringMap, with the pairs pairs reads from data: each key then its
// value (a null value as the zero Value), the layout the formats read.
func hstoreMap(pairs func([]byte, func(k, val []byte)) error, data []byte, v *Value) error {
	elems := make([]Value, 0, 8)
	err := pairs(data, func(k, val []byte) {
		elems = append(elems, Value{State: ValueSet, Bytes: k})
		if val == nil {
			elems = append(elems, Value{})
		} else {
			elems = append(elems, Value{State: ValueSet, Bytes: val})
		}
	})
	if err != nil {
		return err
	}
	v.Elems = elems
	return nil
}

// hstorePairs reads hstore_send's form (the pair count, then each key and value as a length,
// -1 for a NULL value, and the bytes), calling pair for each (value nil for NULL; both point
// into data).
func hstorePairs(data []byte, pair func(k, v []byte)) error {
	if len(data) < 4 {
		return badBinary("hstore", data)
	}
	count := int(int32(binary.BigEndian.Uint32(data)))
	rest := data[4:]
	if count < 0 || count > len(rest)/8 {
		return badBinary("hstore", data)
	}
	for range count {
		var kv [2][]byte
		for part := range 2 {
			if len(rest) < 4 {
				return badBinary("hstore", data)
			}
			n := int(int32(binary.BigEndian.Uint32(rest)))
			rest = rest[4:]
			if n == -1 && part == 1 {
				continue
			}
			if n < 0 || n > len(rest) {
				return badBinary("hstore", data)
			}
			kv[part] = rest[:n:n]
			rest = rest[n:]
		}
		pair(kv[0], kv[1])
	}
	if len(rest) != 0 {
		return badBinary("hstore", data)
	}
	return nil
}

// binHStoreMap reads hstore_send's form as a TypeStringMap.
func binHStoreMap(data []byte, v *Value, _ *[]byte) error { return hstoreMap(hstorePairs, data, v) }

// binHStore reads hstore_send's form as planHStore reads the text.
func binHStore(data []byte, v *Value, scratch *[]byte) error {
	start := len(*scratch)
	b := append(*scratch, '{')
	err := hstorePairs(data, func(k, val []byte) {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(appendJSONString(b, k), ':')
		if val == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, val)
		}
	})
	if err != nil {
		return err
	}
	b = append(b, '}')
	*scratch = b
	v.Bytes = b[start:len(b):len(b)]
	return nil
}

// appendJSONString appends s as a JSON string, escaped as Jackson escapes it: the quote and
// backslash, \b \f \n \r \t, other control characters as \u00XX; UTF-8 as it is.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	for _, c := range s {
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// The flags of an EWKB geometry type word (PostGIS): the SRID follows the type word.
const ewkbSRIDFlag = 0x20000000

// planGeometry reads PostGIS's text output, the hex EWKB, decoded in place, as binGeometry
// reads the bytes.
func planGeometry(text []byte, v *Value) error {
	if len(text)%2 != 0 {
		return badValue("geometry (hex EWKB)", text)
	}
	n := len(text) / 2
	for i := range n {
		hi, ok1 := unhex(text[2*i])
		lo, ok2 := unhex(text[2*i+1])
		if !ok1 || !ok2 {
			return badValue("geometry (hex EWKB)", text)
		}
		text[i] = hi<<4 | lo
	}
	return binGeometry(text[:n:n], v, nil)
}

// binGeometry reads PostGIS's send form, EWKB, into Debezium's Geometry: the WKB (the EWKB
// without its SRID, the type word's SRID flag cleared; rewritten in place) and the SRID, set
// when the EWKB has one.
func binGeometry(data []byte, v *Value, _ *[]byte) error {
	if len(data) < 5 || data[0] > 1 {
		return badBinary("geometry (EWKB)", data)
	}
	var order binary.ByteOrder = binary.BigEndian
	if data[0] == 1 {
		order = binary.LittleEndian
	}
	typ := order.Uint32(data[1:])
	if typ&ewkbSRIDFlag == 0 {
		v.Bytes, v.Int, v.Scale = data, 0, 0
		return nil
	}
	if len(data) < 9 {
		return badBinary("geometry (EWKB)", data)
	}
	v.Int, v.Scale = int64(int32(order.Uint32(data[5:]))), 1
	// The byte order and type word move up over the SRID, which is read.
	order.PutUint32(data[5:], typ&^ewkbSRIDFlag)
	data[4] = data[0]
	v.Bytes = data[4:]
	return nil
}

// planVector reads pgvector's vector text ("[1,2.5,-3]"): each element the double its
// decimal spells, as Debezium's DoubleVector parses it (0.1 is 0.1, not the float4 nearest).
func planVector(text []byte, v *Value) error { return planFloats("vector", text, v, 64) }

// planHalfvec reads pgvector's halfvec text, as planVector, each element a float32 (a half's
// value is one, and its text is the float32's shortest decimal).
func planHalfvec(text []byte, v *Value) error { return planFloats("halfvec", text, v, 32) }

// planFloats reads "[e,e,...]", each element parsed at bits.
func planFloats(what string, text []byte, v *Value, bits int) error {
	if len(text) < 2 || text[0] != '[' || text[len(text)-1] != ']' {
		return badValue(what, text)
	}
	body := text[1 : len(text)-1]
	elems := make([]Value, 0, 8)
	for len(body) > 0 {
		end := 0
		for end < len(body) && body[end] != ',' {
			end++
		}
		f, ok := parseFloat(trimSpace(body[:end]), bits)
		if !ok {
			return badValue(what, text)
		}
		elems = append(elems, Value{State: ValueSet, Float: f})
		if end == len(body) {
			break
		}
		body = body[end+1:]
	}
	v.Elems = elems
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

// binVector reads pgvector's vector send form: the dimension count (int16), an unused int16,
// then each element as a float4, written as the double of the float4's shortest decimal (what
// the text form prints and Debezium parses), so that both forms give one value.
func binVector(data []byte, v *Value, _ *[]byte) error {
	if len(data) < 4 {
		return badBinary("vector", data)
	}
	dim := int(binary.BigEndian.Uint16(data))
	if len(data) != 4+4*dim {
		return badBinary("vector", data)
	}
	elems := make([]Value, dim)
	var buf [32]byte
	for i := range elems {
		f := math.Float32frombits(binary.BigEndian.Uint32(data[4+4*i:]))
		d, ok := parseFloat(strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32), 64)
		if !ok {
			return badBinary("vector", data)
		}
		elems[i] = Value{State: ValueSet, Float: d}
	}
	v.Elems = elems
	return nil
}

// binHalfvec reads pgvector's halfvec send form: the dimension count (int16), an unused
// int16, then each element as IEEE half-precision bits (uint16), each exactly a float32.
func binHalfvec(data []byte, v *Value, _ *[]byte) error {
	if len(data) < 4 {
		return badBinary("halfvec", data)
	}
	dim := int(binary.BigEndian.Uint16(data))
	if len(data) != 4+2*dim {
		return badBinary("halfvec", data)
	}
	elems := make([]Value, dim)
	for i := range elems {
		elems[i] = Value{State: ValueSet, Float: halfToFloat(binary.BigEndian.Uint16(data[4+2*i:]))}
	}
	v.Elems = elems
	return nil
}

// halfToFloat is the value of IEEE 754 half-precision bits h (pgvector allows no infinity or
// NaN; they are kept all the same).
func halfToFloat(h uint16) float64 {
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	var f float64
	switch exp {
	case 0: // zero and subnormals: frac * 2^-24
		f = math.Ldexp(frac, -24)
	case 0x1f:
		f = math.Inf(1)
		if frac != 0 {
			f = math.NaN()
		}
	default: // (1024 + frac) * 2^(exp-15-10)
		f = math.Ldexp(1024+frac, exp-25)
	}
	if h&0x8000 != 0 {
		f = -f
	}
	return f
}

// maxSparseInt16 bounds a sparsevec's dimension count and indexes: Debezium's SparseVector
// holds them as INT16 (pgvector allows up to 10^9 dimensions; such a value is refused).
const maxSparseInt16 = math.MaxInt16

// planSparsevec reads pgvector's sparsevec text, "{1:1.5,3:-2}/5" (1-based indexes, the
// dimension count after the slash), as Debezium's SparseVector parses it.
func planSparsevec(text []byte, v *Value) error {
	slash := len(text) - 1
	for slash >= 0 && text[slash] != '/' {
		slash--
	}
	if slash < 2 || text[0] != '{' || text[slash-1] != '}' {
		return badValue("sparsevec", text)
	}
	dim, ok := parseSparseInt(trimSpace(text[slash+1:]))
	if !ok {
		return badValue("sparsevec", text)
	}
	body := text[1 : slash-1]
	elems := make([]Value, 0, 8)
	for len(body) > 0 {
		end := 0
		for end < len(body) && body[end] != ',' {
			end++
		}
		entry := body[:end]
		colon := 0
		for colon < len(entry) && entry[colon] != ':' {
			colon++
		}
		if colon == len(entry) {
			return badValue("sparsevec", text)
		}
		i, ok1 := parseSparseInt(trimSpace(entry[:colon]))
		f, ok2 := parseFloat(trimSpace(entry[colon+1:]), 64)
		if !ok1 || !ok2 {
			return badValue("sparsevec", text)
		}
		elems = append(elems, Value{State: ValueSet, Int: i, Float: f})
		if end == len(body) {
			break
		}
		body = body[end+1:]
	}
	v.Int, v.Elems = dim, elems
	return nil
}

// parseSparseInt reads a non-negative decimal within maxSparseInt16.
func parseSparseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n <= maxSparseInt16
}

// binSparsevec reads pgvector's sparsevec send form: the dimension count, the stored element
// count and an unused word (int32 each), then the 0-based indexes (int32) and the values
// (float4), into planSparsevec's form: 1-based indexes, each value the double of the
// float4's shortest decimal.
func binSparsevec(data []byte, v *Value, _ *[]byte) error {
	if len(data) < 12 {
		return badBinary("sparsevec", data)
	}
	dim := int64(int32(binary.BigEndian.Uint32(data)))
	nnz := int(int32(binary.BigEndian.Uint32(data[4:])))
	if dim < 0 || dim > maxSparseInt16 || nnz < 0 || nnz > int(dim) || len(data) != 12+8*nnz {
		return badBinary("sparsevec", data)
	}
	elems := make([]Value, nnz)
	var buf [32]byte
	for i := range elems {
		idx := int64(int32(binary.BigEndian.Uint32(data[12+4*i:]))) + 1
		f := math.Float32frombits(binary.BigEndian.Uint32(data[12+4*nnz+4*i:]))
		d, ok := parseFloat(strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32), 64)
		if idx < 1 || idx > maxSparseInt16 || !ok {
			return badBinary("sparsevec", data)
		}
		elems[i] = Value{State: ValueSet, Int: idx, Float: d}
	}
	v.Int, v.Elems = dim, elems
	return nil
}
