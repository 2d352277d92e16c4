package decoder

import (
	"encoding/binary"
	"fmt"
	"math"
)

// pgBinPlan decodes one column's pgoutput BINARY value (the type's send function's output, tag
// 'b') into v, to exactly the Value its text plan makes of the same value's text: a stream
// read with pgoutput's binary option and one read without it give the same records. data
// points into the message, as a text plan's text does. A plan that writes a value longer than
// its wire form (a uuid's 16 bytes become 36 characters) appends it to *scratch, the decoder's
// buffer reused from row to row, and points v.Bytes there; the row's values are copied out of
// both before Decode returns (ownValues). Plans are chosen once per column, with the text
// plans.
type pgBinPlan func(data []byte, v *Value, scratch *[]byte) error

// The epoch shift between PostgreSQL's binary dates and timestamps (days or microseconds since
// 2000-01-01) and Debezium's (since 1970-01-01).
const (
	pgEpochDays   = 10_957
	pgEpochMicros = pgEpochDays * microsPerDay
)

// builtinBinPlan returns the binary plan of a built-in scalar type, for the Column and text
// plan builtinPlan chose for it (its precision and scale).
func builtinBinPlan(oid uint32, c Column, text pgPlan) pgBinPlan {
	switch oid {
	case oidBool:
		return binBool
	case oidInt2:
		return binInt16
	case oidInt4:
		return binInt32
	case oidInt8:
		return binInt64
	case oidOID:
		return binOID
	case oidFloat4:
		return binFloat32
	case oidFloat8:
		return binFloat64
	case oidNumeric:
		return binNumeric(text)
	case oidText, oidVarchar, oidBpchar, oidName, oidXML, oidJSON, oidBytea:
		// Text comes in the client encoding (UTF8), a bytea as its bytes, json as its text:
		// each is its own value. xml's send writes no encoding declaration for UTF8.
		return binRaw
	case oidChar:
		return binChar
	case oidInet, oidCIDR:
		return binInet
	case oidMacaddr, oidMacaddr8:
		return binMacaddr
	case oidJSONB:
		return binJSONB
	case oidUUID:
		return binUUID
	case oidDate:
		return binDate
	case oidTime:
		if c.Type == TypeTimeMillis {
			return binTimeMillis
		}
		return binTimeMicros
	case oidTimetz:
		return binTimetz
	case oidTimestamp:
		if c.Type == TypeTimestampMillis {
			return binTimestampMillis
		}
		return binTimestampMicros
	case oidTimestamptz:
		return binTimestamptz(c.Precision)
	case oidInterval:
		return binInterval
	}
	return nil
}

// badBinary is the error of a binary value whose length or content its type does not allow.
func badBinary(typ string, data []byte) error {
	return fmt.Errorf("%w: invalid binary %s (%d bytes)", ErrPGBadValue, typ, len(data))
}

func binRaw(data []byte, v *Value, _ *[]byte) error {
	v.Bytes = data
	return nil
}

func binBool(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 1 || data[0] > 1 {
		return badBinary("bool", data)
	}
	v.Int = int64(data[0])
	return nil
}

func binInt16(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 2 {
		return badBinary("int2", data)
	}
	v.Int = int64(int16(binary.BigEndian.Uint16(data)))
	return nil
}

func binInt32(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 4 {
		return badBinary("int4", data)
	}
	v.Int = int64(int32(binary.BigEndian.Uint32(data)))
	return nil
}

func binInt64(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 8 {
		return badBinary("int8", data)
	}
	v.Int = int64(binary.BigEndian.Uint64(data))
	return nil
}

// binOID reads an oid: unsigned 32 bits, as its text is.
func binOID(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 4 {
		return badBinary("oid", data)
	}
	v.Int = int64(binary.BigEndian.Uint32(data))
	return nil
}

func binFloat32(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 4 {
		return badBinary("float4", data)
	}
	v.Float = float64(math.Float32frombits(binary.BigEndian.Uint32(data)))
	return nil
}

func binFloat64(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 8 {
		return badBinary("float8", data)
	}
	v.Float = math.Float64frombits(binary.BigEndian.Uint64(data))
	return nil
}

// binChar reads a "char" as charout writes it (PostgreSQL 15 and later): a byte with the high
// bit set as \ooo, NUL as the empty string.
func binChar(data []byte, v *Value, scratch *[]byte) error {
	if len(data) != 1 {
		return badBinary("char", data)
	}
	switch c := data[0]; {
	case c == 0:
		v.Bytes = data[:0]
	case c < 0x80:
		v.Bytes = data
	default:
		start := len(*scratch)
		*scratch = append(*scratch, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		v.Bytes = (*scratch)[start:len(*scratch):len(*scratch)]
	}
	return nil
}

// binJSONB reads jsonb's send format: a version byte (1) and the text jsonb_out writes.
func binJSONB(data []byte, v *Value, _ *[]byte) error {
	if len(data) < 1 || data[0] != 1 {
		return badBinary("jsonb", data)
	}
	v.Bytes = data[1:]
	return nil
}

const hexDigits = "0123456789abcdef"

func binUUID(data []byte, v *Value, scratch *[]byte) error {
	if len(data) != 16 {
		return badBinary("uuid", data)
	}
	start := len(*scratch)
	b := *scratch
	for i, c := range data {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	*scratch = b
	v.Bytes = b[start:len(b):len(b)]
	return nil
}

// binMacaddr writes a macaddr (6 bytes) or macaddr8 (8) as their text: lower-case hex pairs
// joined by colons.
func binMacaddr(data []byte, v *Value, scratch *[]byte) error {
	if len(data) != 6 && len(data) != 8 {
		return badBinary("macaddr", data)
	}
	start := len(*scratch)
	b := *scratch
	for i, c := range data {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&15])
	}
	*scratch = b
	v.Bytes = b[start:len(b):len(b)]
	return nil
}

// binInet reads network_send's format (family, bits, is_cidr, address length, address) and
// writes the text network_out does: an inet's /bits only when it is not the whole address, a
// cidr's always; IPv6 in PostgreSQL's spelling (the longest run of two or more zero groups as
// ::, an embedded IPv4 address in dotted form after :: or ::ffff:).
func binInet(data []byte, v *Value, scratch *[]byte) error {
	if len(data) < 4 {
		return badBinary("inet", data)
	}
	family, bits, isCIDR, n := data[0], int(data[1]), data[2] != 0, int(data[3])
	addr := data[4:]
	start := len(*scratch)
	b := *scratch
	switch {
	case family == 2 && n == 4 && len(addr) == 4 && bits <= 32:
		for i, c := range addr {
			if i > 0 {
				b = append(b, '.')
			}
			b = appendInt(b, int64(c))
		}
		if bits != 32 {
			b = append(b, '/')
			b = appendInt(b, int64(bits))
		}
	case family == 3 && n == 16 && len(addr) == 16 && bits <= 128:
		b = appendIPv6(b, addr)
		if bits != 128 {
			b = append(b, '/')
			b = appendInt(b, int64(bits))
		}
	default:
		return badBinary("inet", data)
	}
	if isCIDR && (family == 2 && bits == 32 || family == 3 && bits == 128) {
		b = append(b, '/')
		b = appendInt(b, int64(bits))
	}
	*scratch = b
	v.Bytes = b[start:len(b):len(b)]
	return nil
}

// appendIPv6 writes a 16-byte address as PostgreSQL's inet_net_ntop_ipv6 does.
func appendIPv6(b []byte, addr []byte) []byte {
	var words [8]uint16
	for i := range words {
		words[i] = binary.BigEndian.Uint16(addr[2*i:])
	}
	bestBase, bestLen, curBase, curLen := -1, 0, -1, 0
	for i, w := range words {
		if w == 0 {
			if curBase < 0 {
				curBase, curLen = i, 1
			} else {
				curLen++
			}
			continue
		}
		if curBase >= 0 {
			if bestBase < 0 || curLen > bestLen {
				bestBase, bestLen = curBase, curLen
			}
			curBase = -1
		}
	}
	if curBase >= 0 && (bestBase < 0 || curLen > bestLen) {
		bestBase, bestLen = curBase, curLen
	}
	if bestBase >= 0 && bestLen < 2 {
		bestBase = -1
	}
	for i := 0; i < len(words); i++ {
		if bestBase >= 0 && i >= bestBase && i < bestBase+bestLen {
			if i == bestBase {
				b = append(b, ':')
			}
			continue
		}
		if i != 0 {
			b = append(b, ':')
		}
		if i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff)) {
			for j, c := range addr[12:] {
				if j > 0 {
					b = append(b, '.')
				}
				b = appendInt(b, int64(c))
			}
			return b
		}
		b = appendHex16(b, words[i])
	}
	if bestBase >= 0 && bestBase+bestLen == len(words) {
		b = append(b, ':')
	}
	return b
}

func appendHex16(b []byte, w uint16) []byte {
	started := false
	for shift := 12; shift >= 0; shift -= 4 {
		d := w >> shift & 15
		if d != 0 || started || shift == 0 {
			b = append(b, hexDigits[d])
			started = true
		}
	}
	return b
}

// The sign words of numeric's binary form.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// binNumeric writes numeric_send's form (digit count, weight, sign, display scale, base-10000
// digits) as the text numeric_out writes, into scratch, and decodes that with the column's
// text plan: one definition of what a numeric becomes, whatever its wire format.
func binNumeric(text pgPlan) pgBinPlan {
	return func(data []byte, v *Value, scratch *[]byte) error {
		if len(data) < 8 {
			return badBinary("numeric", data)
		}
		ndigits := int(binary.BigEndian.Uint16(data))
		weight := int(int16(binary.BigEndian.Uint16(data[2:])))
		sign := binary.BigEndian.Uint16(data[4:])
		dscale := int(binary.BigEndian.Uint16(data[6:]))
		digits := data[8:]
		if len(digits) != 2*ndigits || dscale > 0x3fff {
			return badBinary("numeric", data)
		}
		start := len(*scratch)
		b := *scratch
		switch sign {
		case numericPos:
		case numericNeg:
			b = append(b, '-')
		case numericNaN:
			b = append(b, "NaN"...)
		case numericPInf:
			b = append(b, "Infinity"...)
		case numericNInf:
			b = append(b, "-Infinity"...)
		default:
			return badBinary("numeric", data)
		}
		if sign == numericPos || sign == numericNeg {
			digit := func(i int) int {
				if i < 0 || i >= ndigits {
					return 0
				}
				return int(binary.BigEndian.Uint16(digits[2*i:]))
			}
			if weight < 0 {
				b = append(b, '0')
			}
			for i := 0; i <= weight; i++ {
				d := digit(i)
				if d > 9999 {
					return badBinary("numeric", data)
				}
				if i == 0 {
					b = appendInt(b, int64(d))
				} else {
					b = append(b, byte('0'+d/1000), byte('0'+d/100%10), byte('0'+d/10%10), byte('0'+d%10))
				}
			}
			if dscale > 0 {
				b = append(b, '.')
				for i, written := weight+1, 0; written < dscale; i++ {
					d := digit(i)
					if d > 9999 {
						return badBinary("numeric", data)
					}
					for _, c := range [4]byte{byte('0' + d/1000), byte('0' + d/100%10), byte('0' + d/10%10), byte('0' + d%10)} {
						if written < dscale {
							b = append(b, c)
							written++
						}
					}
				}
			}
		}
		*scratch = b
		return text(b[start:len(b):len(b)], v)
	}
}

func binDate(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 4 {
		return badBinary("date", data)
	}
	d := int32(binary.BigEndian.Uint32(data))
	switch d {
	case math.MaxInt32:
		return dateInfinityError("infinity")
	case math.MinInt32:
		return dateInfinityError("-infinity")
	}
	v.Int = int64(d) + pgEpochDays
	return nil
}

func binTimeMicros(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 8 {
		return badBinary("time", data)
	}
	us := int64(binary.BigEndian.Uint64(data))
	if us < 0 || us > microsPerDay {
		return badBinary("time", data)
	}
	v.Int = us
	return nil
}

func binTimeMillis(data []byte, v *Value, scratch *[]byte) error {
	if err := binTimeMicros(data, v, scratch); err != nil {
		return err
	}
	v.Int /= 1000
	return nil
}

// binTimetz reads a timetz (microseconds of local time, then the zone in seconds WEST of UTC)
// and writes it as planTimetz does.
func binTimetz(data []byte, v *Value, scratch *[]byte) error {
	if len(data) != 12 {
		return badBinary("timetz", data)
	}
	us := int64(binary.BigEndian.Uint64(data))
	west := int64(int32(binary.BigEndian.Uint32(data[8:])))
	if us < 0 || us > microsPerDay {
		return badBinary("timetz", data)
	}
	start := len(*scratch)
	b := *scratch
	if us == microsPerDay && west == 0 {
		b = append(b, "24:00:00Z"...)
	} else {
		utc := ((us+west*microsPerSecond)%microsPerDay + microsPerDay) % microsPerDay
		b = appendClock(b, utc, -1)
		b = append(b, 'Z')
	}
	*scratch = b
	v.Bytes = b[start:len(b):len(b)]
	return nil
}

// binTimestampParts reads a timestamp's microseconds since 2000-01-01 as days since the Unix
// epoch and microseconds into that day: the latest timestamps' microseconds since the Unix
// epoch overflow an int64. inf is +1 or -1 for ±infinity (the int64 extremes on the wire).
func binTimestampParts(typ string, data []byte) (days, us int64, inf int, err error) {
	if len(data) != 8 {
		return 0, 0, 0, badBinary(typ, data)
	}
	switch t := int64(binary.BigEndian.Uint64(data)); t {
	case math.MaxInt64:
		return 0, 0, 1, nil
	case math.MinInt64:
		return 0, 0, -1, nil
	default:
		d := floorDiv(t, microsPerDay)
		return d + pgEpochDays, t - d*microsPerDay, 0, nil
	}
}

// binTimestampMicros gives what planTimestampMicros gives: Debezium's ±infinity values, and
// the latest timestamps saturated.
func binTimestampMicros(data []byte, v *Value, _ *[]byte) error {
	days, us, inf, err := binTimestampParts("timestamp", data)
	switch {
	case err != nil:
		return err
	case inf > 0:
		v.Int = pgTimestampPosInfinityMicros
	case inf < 0:
		v.Int = pgTimestampNegInfinityMicros
	default:
		v.Int = saturatedMicros(days, us)
	}
	return nil
}

// binTimestampMillis gives what planTimestampMillis gives, exact to the latest timestamp.
func binTimestampMillis(data []byte, v *Value, _ *[]byte) error {
	days, us, inf, err := binTimestampParts("timestamp", data)
	switch {
	case err != nil:
		return err
	case inf > 0:
		v.Int = floorDiv(pgTimestampPosInfinityMicros, 1000)
	case inf < 0:
		v.Int = floorDiv(pgTimestampNegInfinityMicros, 1000)
	default:
		v.Int = days*millisPerDay + floorDiv(us, 1000)
	}
	return nil
}

func binTimestamptz(precision int) pgBinPlan {
	return func(data []byte, v *Value, scratch *[]byte) error {
		days, us, inf, err := binTimestampParts("timestamptz", data)
		if err != nil {
			return err
		}
		start := len(*scratch)
		switch {
		case inf > 0:
			*scratch = append(*scratch, "infinity"...)
		case inf < 0:
			*scratch = append(*scratch, "-infinity"...)
		default:
			*scratch = appendZonedTimestamp(*scratch, days, us, precision)
		}
		v.Bytes = (*scratch)[start:len(*scratch):len(*scratch)]
		return nil
	}
}

// binInterval reads an interval (microseconds, days, months) and computes what planInterval
// computes from interval_out's ISO 8601 text of it: the same fields (years and months, days,
// hours, minutes, seconds and microseconds, each truncated toward zero with the value's sign)
// through the same floating-point steps.
func binInterval(data []byte, v *Value, _ *[]byte) error {
	if len(data) != 16 {
		return badBinary("interval", data)
	}
	t := int64(binary.BigEndian.Uint64(data))
	days := int64(int32(binary.BigEndian.Uint32(data[8:])))
	months := int64(int32(binary.BigEndian.Uint32(data[12:])))
	// PostgreSQL 17's ±infinity sets all three fields to their extremes; a finite interval
	// may have any one of them there.
	if (t == math.MaxInt64 && days == math.MaxInt32 && months == math.MaxInt32) ||
		(t == math.MinInt64 && days == math.MinInt32 && months == math.MinInt32) {
		return badBinary("interval (infinity)", data) // as planInterval refuses "infinity"
	}
	hours := t / (3600 * microsPerSecond)
	t -= hours * 3600 * microsPerSecond
	minutes := t / (60 * microsPerSecond)
	t -= minutes * 60 * microsPerSecond
	wholeSec := t / microsPerSecond
	micros := t - wholeSec*microsPerSecond
	seconds := float64(wholeSec) + float64(micros)/microsPerSecond
	numberOfDays := float64(months)*daysPerMonthAvg + float64(days)
	numberOfSeconds := ((numberOfDays*24+float64(hours))*60+float64(minutes))*60 + seconds
	us, ok := saturatedIntervalMicros(numberOfSeconds)
	if !ok {
		return badBinary("interval", data)
	}
	v.Int = us
	return nil
}

// binArrayPlan decodes array_send's form of a one-dimensional array (dimension count, a flag,
// the element type, each dimension's length and lower bound, then each element as a length,
// -1 for NULL, and its bytes) with elem for each element.
func binArrayPlan(elem pgBinPlan) pgBinPlan {
	return func(data []byte, v *Value, scratch *[]byte) error {
		if len(data) < 12 {
			return badBinary("array", data)
		}
		ndim := binary.BigEndian.Uint32(data)
		rest := data[12:]
		var n uint32
		switch ndim {
		case 0:
		case 1:
			if len(rest) < 8 {
				return badBinary("array", data)
			}
			n = binary.BigEndian.Uint32(rest)
			rest = rest[8:]
		default:
			return ErrPGMultiDimArray
		}
		if uint64(n)*4 > uint64(len(rest)) {
			return badBinary("array", data)
		}
		elems := make([]Value, n, max(n, 4))
		for i := range elems {
			if len(rest) < 4 {
				return badBinary("array", data)
			}
			size := int32(binary.BigEndian.Uint32(rest))
			rest = rest[4:]
			if size == -1 {
				continue
			}
			if size < 0 || int(size) > len(rest) {
				return badBinary("array", data)
			}
			if err := elem(rest[:size:size], &elems[i], scratch); err != nil {
				return fmt.Errorf("array element %d: %w", i+1, err)
			}
			elems[i].State = ValueSet
			rest = rest[size:]
		}
		if len(rest) != 0 {
			return badBinary("array", data)
		}
		v.Elems = elems
		return nil
	}
}
