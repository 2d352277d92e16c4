package decoder

import (
	"fmt"
	"math"
)

// Date and time text is read as PostgreSQL writes it with DateStyle=ISO and IntervalStyle=iso_8601:
// 2024-01-02, 13:04:05.123456, 2024-01-02 13:04:05.5+00, 0044-03-15 BC, P1Y2M3DT4H5M6.5S.

const (
	microsPerSecond = 1_000_000
	microsPerDay    = 86_400 * microsPerSecond
)

// parseDigits reads exactly n (or, with atLeast, n or more) ASCII digits from s.
func parseDigits(s []byte, n int, atLeast bool) (int64, []byte, bool) {
	i := 0
	var v int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && (atLeast || i < n) && i < 12 {
		v = v*10 + int64(s[i]-'0')
		i++
	}
	if i < n {
		return 0, s, false
	}
	return v, s[i:], true
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (year is
// astronomical: 0 is 1 BC).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is daysFromCivil's inverse.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// parseDateText reads YYYY-MM-DD (four or more year digits) and returns the day number and the
// year as written; the caller applies a trailing " BC".
func parseDateText(s []byte) (year, month, day int64, rest []byte, ok bool) {
	if year, s, ok = parseDigits(s, 4, true); !ok || len(s) < 1 || s[0] != '-' {
		return 0, 0, 0, s, false
	}
	if month, s, ok = parseDigits(s[1:], 2, false); !ok || len(s) < 1 || s[0] != '-' {
		return 0, 0, 0, s, false
	}
	if day, s, ok = parseDigits(s[1:], 2, false); !ok {
		return 0, 0, 0, s, false
	}
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return 0, 0, 0, s, false
	}
	return year, month, day, s, true
}

// trimBC removes a trailing " BC" and reports whether it was there.
func trimBC(s []byte) ([]byte, bool) {
	if n := len(s); n >= 3 && string(s[n-3:]) == " BC" {
		return s[:n-3], true
	}
	return s, false
}

func isInfinity(text []byte) bool {
	return string(text) == "infinity" || string(text) == "-infinity"
}

// epochDays turns a written year (BC when bc) and month, day into days since the epoch.
func epochDays(year, month, day int64, bc bool) int64 {
	if bc {
		year = 1 - year
	}
	return daysFromCivil(year, month, day)
}

// dateInfinityError refuses a date of ±infinity (inf is "infinity" or "-infinity"), naming the
// range a date can have.
func dateInfinityError(inf string) error {
	return fmt.Errorf("%w: date %s: io.debezium.time.Date holds finite dates only "+
		"(days since 1970-01-01, an Avro int; PostgreSQL's are 4713 BC to 5874897 AD)", ErrPGSpecialValue, inf)
}

func planDate(text []byte, v *Value) error {
	if isInfinity(text) {
		return dateInfinityError(string(text))
	}
	s, bc := trimBC(text)
	y, m, d, rest, ok := parseDateText(s)
	if !ok || len(rest) != 0 {
		return badValue("date", text)
	}
	v.Int = epochDays(y, m, d, bc)
	return nil
}

// parseClock reads HH:MM:SS[.ffffff] and returns microseconds since midnight (24:00:00 is
// allowed, as PostgreSQL allows it).
func parseClock(s []byte) (int64, []byte, bool) {
	h, s, ok := parseDigits(s, 2, false)
	if !ok || len(s) < 1 || s[0] != ':' {
		return 0, s, false
	}
	mi, s, ok := parseDigits(s[1:], 2, false)
	if !ok || len(s) < 1 || s[0] != ':' {
		return 0, s, false
	}
	sec, s, ok := parseDigits(s[1:], 2, false)
	if !ok || h > 24 || mi > 59 || sec > 60 {
		return 0, s, false
	}
	micros := ((h*60+mi)*60 + sec) * microsPerSecond
	if len(s) > 0 && s[0] == '.' {
		s = s[1:]
		scale := int64(100_000)
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if i >= 6 {
				return 0, s, false
			}
			micros += int64(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 0 {
			return 0, s, false
		}
		s = s[i:]
	}
	if micros > microsPerDay {
		return 0, s, false
	}
	return micros, s, true
}

// parseOffset reads a zone offset +HH[:MM[:SS]] and returns it in seconds east of UTC.
func parseOffset(s []byte) (int64, []byte, bool) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, s, false
	}
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	h, s, ok := parseDigits(s[1:], 2, false)
	if !ok {
		return 0, s, false
	}
	off := h * 3600
	for _, unit := range [2]int64{60, 1} {
		if len(s) == 0 || s[0] != ':' {
			break
		}
		var n int64
		if n, s, ok = parseDigits(s[1:], 2, false); !ok {
			return 0, s, false
		}
		off += n * unit
	}
	return sign * off, s, true
}

func planTimeMicros(text []byte, v *Value) error {
	us, rest, ok := parseClock(text)
	if !ok || len(rest) != 0 {
		return badValue("time", text)
	}
	v.Int = us
	return nil
}

func planTimeMillis(text []byte, v *Value) error {
	if err := planTimeMicros(text, v); err != nil {
		return err
	}
	v.Int /= 1000
	return nil
}

// planTimetz writes the time in UTC as Debezium's ZonedTime does (ISO_OFFSET_TIME: seconds
// always, the fraction without trailing zeros, 'Z'), in place: the result is never longer.
func planTimetz(text []byte, v *Value) error {
	us, rest, ok := parseClock(text)
	if !ok {
		return badValue("timetz", text)
	}
	off, rest, ok := parseOffset(rest)
	if !ok || len(rest) != 0 {
		return badValue("timetz", text)
	}
	var buf [32]byte
	out := buf[:0]
	if us == microsPerDay && off == 0 {
		out = append(out, "24:00:00Z"...) // PostgreSQL's end of day, which Debezium keeps
	} else {
		utc := ((us-off*microsPerSecond)%microsPerDay + microsPerDay) % microsPerDay
		out = appendClock(out, utc, -1)
		out = append(out, 'Z')
	}
	v.Bytes = intoText(text, out)
	return nil
}

// intoText copies out into text when it fits (the caller gave text up), else into new memory.
func intoText(text, out []byte) []byte {
	if len(out) <= len(text) {
		n := copy(text, out)
		return text[:n:n]
	}
	return append([]byte(nil), out...)
}

// appendClock writes HH:MM:SS and the fraction: exactly width digits when width is 1 to 6,
// else only the digits up to the last non-zero one (none when the fraction is 0).
func appendClock(b []byte, us int64, width int) []byte {
	sec := us / microsPerSecond
	frac := us % microsPerSecond
	b = append2(b, sec/3600)
	b = append(b, ':')
	b = append2(b, sec/60%60)
	b = append(b, ':')
	b = append2(b, sec%60)
	digits := width
	if width < 1 || width > 6 {
		digits = 0
		if frac != 0 {
			digits = 6
			for f := frac; f%10 == 0; f /= 10 {
				digits--
			}
		}
	}
	if digits > 0 {
		b = append(b, '.')
		div := int64(100_000)
		for range digits {
			b = append(b, byte('0'+frac/div%10))
			div /= 10
		}
	}
	return b
}

func append2(b []byte, n int64) []byte { return append(b, byte('0'+n/10%10), byte('0'+n%10)) }

// parseTimestampText reads "date clock" and returns the days since the epoch and the
// microseconds into that day (of the local time as written), and what follows the clock, with
// a trailing " BC" applied. Days and microseconds are apart since PostgreSQL's latest
// timestamps (year 294276) are past what an int64 of microseconds since 1970 holds.
func parseTimestampText(text []byte) (days, us int64, rest []byte, ok bool) {
	s, bc := trimBC(text)
	y, m, d, rest, ok := parseDateText(s)
	if !ok || len(rest) < 1 || rest[0] != ' ' {
		return 0, 0, rest, false
	}
	us, rest, ok = parseClock(rest[1:])
	if !ok {
		return 0, 0, rest, false
	}
	return epochDays(y, m, d, bc), us, rest, true
}

// Debezium's values for a timestamp without zone of ±infinity: the JDBC driver's infinity
// instants (PGStatement.DATE_POSITIVE_INFINITY and DATE_NEGATIVE_INFINITY, which are
// milliseconds) read as microseconds since the epoch, as its PostgresValueConverter does.
const (
	pgTimestampPosInfinityMicros = 9223372036825200000
	pgTimestampNegInfinityMicros = -9223372036832400000
)

// saturatedMicros is days*microsPerDay + us, or math.MaxInt64 / math.MinInt64 past them: as
// Debezium's Conversions.toEpochMicros, whose TimeUnit.SECONDS.toMicros saturates (Debezium
// then adds the fraction of a second, which wraps a saturated value; cdcd does not).
func saturatedMicros(days, us int64) int64 {
	const maxDays = math.MaxInt64 / microsPerDay
	switch {
	case days > maxDays || (days == maxDays && us > math.MaxInt64-maxDays*microsPerDay):
		return math.MaxInt64
	case days < -maxDays-1:
		return math.MinInt64
	}
	return days*microsPerDay + us
}

func planTimestampMicros(text []byte, v *Value) error {
	switch string(text) {
	case "infinity":
		v.Int = pgTimestampPosInfinityMicros
		return nil
	case "-infinity":
		v.Int = pgTimestampNegInfinityMicros
		return nil
	}
	days, us, rest, ok := parseTimestampText(text)
	if !ok || len(rest) != 0 {
		return badValue("timestamp", text)
	}
	v.Int = saturatedMicros(days, us)
	return nil
}

// planTimestampMillis computes the milliseconds from the days, so that the latest timestamps,
// whose microseconds saturate, still have their exact milliseconds (as Debezium's
// Timestamp.toEpochMillis has them).
func planTimestampMillis(text []byte, v *Value) error {
	switch string(text) {
	case "infinity":
		v.Int = floorDiv(pgTimestampPosInfinityMicros, 1000)
		return nil
	case "-infinity":
		v.Int = floorDiv(pgTimestampNegInfinityMicros, 1000)
		return nil
	}
	days, us, rest, ok := parseTimestampText(text)
	if !ok || len(rest) != 0 {
		return badValue("timestamp", text)
	}
	v.Int = days*millisPerDay + floorDiv(us, 1000)
	return nil
}

const millisPerDay = microsPerDay / 1000

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// timestamptzPlan writes the instant in UTC as Debezium's ZonedTimestamp does for a column of
// the given precision: ISO date, 'T', time with exactly precision fraction digits (none for
// precision 0), 'Z'; years past 9999 with '+', years before 1 as negative astronomical years.
// ±infinity is written "infinity" and "-infinity", as Debezium's PostgresValueConverter
// writes them.
func timestamptzPlan(precision int) pgPlan {
	return func(text []byte, v *Value) error {
		if isInfinity(text) {
			v.Bytes = text
			return nil
		}
		days, local, rest, ok := parseTimestampText(text)
		if !ok {
			return badValue("timestamptz", text)
		}
		// The BC marker follows the offset ("... 12:00:00+00 BC"), and parseTimestampText
		// has already taken it off the end, so rest is just the offset.
		off, rest, ok := parseOffset(rest)
		if !ok || len(rest) != 0 {
			return badValue("timestamptz", text)
		}
		us := local - off*microsPerSecond
		d := floorDiv(us, microsPerDay)
		var buf [48]byte
		out := appendZonedTimestamp(buf[:0], days+d, us-d*microsPerDay, precision)
		v.Bytes = intoText(text, out)
		return nil
	}
}

// appendZonedTimestamp writes the instant days since the epoch plus us microseconds (0 to a
// day) as timestamptzPlan describes.
func appendZonedTimestamp(b []byte, days, us int64, precision int) []byte {
	y, m, d := civilFromDays(days)
	switch {
	case y > 9999:
		b = append(b, '+')
		b = appendInt(b, y)
	case y < 0:
		b = append(b, '-')
		b = appendYear4(b, -y)
	default:
		b = appendYear4(b, y)
	}
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	if precision == 0 {
		precision = -1 // Debezium's formatter for width 0 drops a zero fraction
	}
	b = appendClock(b, us, precision)
	return append(b, 'Z')
}

func appendYear4(b []byte, y int64) []byte {
	if y < 1000 {
		b = append(b, '0', byte('0'+y/100))
		return append2(b, y%100)
	}
	return appendInt(b, y)
}

func appendInt(b []byte, n int64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// daysPerMonthAvg is Debezium's MicroDuration month: 365.25 / 12 days.
const daysPerMonthAvg = 365.25 / 12.0

// planInterval reads an ISO 8601 interval (IntervalStyle=iso_8601, each field signed) and
// computes microseconds exactly as Debezium's MicroDuration.durationMicros does, in floating
// point with months of 30.4375 days, truncated toward zero.
func planInterval(text []byte, v *Value) error {
	s := text
	if len(s) < 2 || s[0] != 'P' {
		return badValue("interval", text)
	}
	s = s[1:]
	var years, months, days, hours, minutes, wholeSec, micros int64
	inTime := false
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return badValue("interval", text)
			}
			inTime = true
			s = s[1:]
			continue
		}
		neg := s[0] == '-'
		if neg {
			s = s[1:]
		}
		n, rest, ok := parseDigits(s, 1, true)
		if !ok || len(rest) == 0 {
			return badValue("interval", text)
		}
		var frac int64
		if rest[0] == '.' {
			if !inTime {
				return badValue("interval", text)
			}
			scale := int64(100_000)
			i := 1
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' && i <= 6 {
				frac += int64(rest[i]-'0') * scale
				scale /= 10
				i++
			}
			rest = rest[i:]
			if len(rest) == 0 || rest[0] != 'S' {
				return badValue("interval", text)
			}
		}
		if neg {
			n, frac = -n, -frac
		}
		switch {
		case !inTime && rest[0] == 'Y':
			years += n
		case !inTime && rest[0] == 'M':
			months += n
		case !inTime && rest[0] == 'D':
			days += n
		case !inTime && rest[0] == 'W':
			days += 7 * n
		case inTime && rest[0] == 'H':
			hours += n
		case inTime && rest[0] == 'M':
			minutes += n
		case inTime && rest[0] == 'S':
			wholeSec += n
			micros += frac
		default:
			return badValue("interval", text)
		}
		s = rest[1:]
	}
	seconds := float64(wholeSec) + float64(micros)/microsPerSecond
	numberOfDays := float64(years*12+months)*daysPerMonthAvg + float64(days)
	numberOfSeconds := ((numberOfDays*24+float64(hours))*60+float64(minutes))*60 + seconds
	us, ok := saturatedIntervalMicros(numberOfSeconds)
	if !ok {
		return badValue("interval", text)
	}
	v.Int = us
	return nil
}

// saturatedIntervalMicros converts an interval's seconds to microseconds as Java's (long) cast,
// which Debezium's MicroDuration ends with, does: saturating at the int64 range. ok is false
// for NaN.
func saturatedIntervalMicros(seconds float64) (int64, bool) {
	switch total := seconds * 1e6; {
	case math.IsNaN(total):
		return 0, false
	case total >= math.MaxInt64:
		return math.MaxInt64, true
	case total <= math.MinInt64:
		return math.MinInt64, true
	default:
		return int64(total), true
	}
}
