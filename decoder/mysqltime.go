package decoder

import (
	"fmt"
	"math"
	"time"
)

// Temporal values come from go-mysql (with ConfigureMySQLSyncer's settings) as text:
// DATE "2024-01-02", TIME "-838:59:59.000000", DATETIME and TIMESTAMP (in UTC)
// "2024-01-02 13:04:05[.ffffff]" with as many fraction digits as the column's precision, and
// "0000-00-00..." for zero dates. time.Time (ParseTime on, or a snapshot query) and
// time.Duration are accepted too.

// mysqlZeroDate is a zero date's value: NULL in a nullable column (as Debezium emits it), an
// ErrMySQLZeroDate otherwise.
func mysqlZeroDate(in any, v *Value, nullable bool) error {
	if nullable {
		*v = Value{}
		return nil
	}
	// A snapshot's value is []byte, which %v would print as a list of numbers.
	if s, ok := textOf(in); ok {
		return fmt.Errorf("%w: %q", ErrMySQLZeroDate, s)
	}
	return fmt.Errorf("%w: %v", ErrMySQLZeroDate, in)
}

// textOf returns a string or []byte value as a string (without copying a []byte that does not
// escape).
func textOf(in any) (string, bool) {
	switch x := in.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// digitsAt reads exactly n ASCII digits of s at i.
func digitsAt(s string, i, n int) (int64, bool) {
	if i < 0 || n <= 0 || i+n > len(s) {
		return 0, false
	}
	var v int64
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// parseMySQLDate reads YYYY-MM-DD at the start of s; zero tells a zero month or day (which
// MySQL allows outside NO_ZERO_IN_DATE / NO_ZERO_DATE).
func parseMySQLDate(s string) (days int64, zero, ok bool) {
	y, ok1 := digitsAt(s, 0, 4)
	m, ok2 := digitsAt(s, 5, 2)
	d, ok3 := digitsAt(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' || m > 12 || d > 31 {
		return 0, false, false
	}
	if m == 0 || d == 0 {
		return 0, true, true
	}
	return daysFromCivil(y, m, d), false, true
}

// parseMySQLClock reads [-]H+:MM:SS[.f{1,6}] (all of s) as signed microseconds; maxHours
// bounds the hours (838 for TIME, 23 for a time of day).
func parseMySQLClock(s string, maxHours int64) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	colon := 0
	for colon < len(s) && colon < 4 && s[colon] != ':' {
		colon++
	}
	h, ok1 := digitsAt(s, 0, colon)
	mi, ok2 := digitsAt(s, colon+1, 2)
	sec, ok3 := digitsAt(s, colon+4, 2)
	if !ok1 || !ok2 || !ok3 || s[colon] != ':' || s[colon+3] != ':' || h > maxHours || mi > 59 || sec > 59 {
		return 0, false
	}
	us := ((h*60+mi)*60 + sec) * microsPerSecond
	rest := s[colon+6:]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
			return 0, false
		}
		f, ok := digitsAt(rest, 1, len(rest)-1)
		if !ok {
			return 0, false
		}
		for range 7 - len(rest) {
			f *= 10
		}
		us += f
	}
	if neg {
		us = -us
	}
	return us, true
}

// parseMySQLDatetime reads "YYYY-MM-DD HH:MM:SS[.f]" as microseconds since the epoch of the
// wall time read as UTC.
func parseMySQLDatetime(s string) (us int64, zero, ok bool) {
	days, zero, ok := parseMySQLDate(s)
	if !ok || len(s) < 11 || s[10] != ' ' {
		return 0, false, false
	}
	clock, ok := parseMySQLClock(s[11:], 23)
	if !ok || (len(s) > 11 && s[11] == '-') {
		return 0, false, false
	}
	if zero {
		return 0, true, true
	}
	return days*microsPerDay + clock, false, true
}

// wallMicros is a time.Time's wall clock, whatever its location, as microseconds since the
// epoch read as UTC.
func wallMicros(t time.Time) int64 {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return daysFromCivil(int64(y), int64(m), int64(d))*microsPerDay +
		int64((h*60+mi)*60+s)*microsPerSecond + int64(t.Nanosecond()/1000)
}

func mysqlDatePlan(nullable bool) mysqlPlan {
	return func(in any, v *Value, _ *mysqlArena) error {
		if t, ok := in.(time.Time); ok {
			if t.IsZero() { // database/sql's zero dates
				return mysqlZeroDate(in, v, nullable)
			}
			v.Int = floorDiv(wallMicros(t), microsPerDay)
			return nil
		}
		s, ok := textOf(in)
		var days int64
		var zero bool
		if ok {
			days, zero, ok = parseMySQLDate(s)
		}
		switch {
		case !ok || len(s) != 10:
			return mysqlBadValue("date", in)
		case zero:
			return mysqlZeroDate(in, v, nullable)
		}
		v.Int = days
		return nil
	}
}

// planMySQLTime decodes a TIME (-838:59:59.000000 to 838:59:59.000000) into signed
// microseconds, as Debezium's MicroTime carries a MySQL duration.
func planMySQLTime(in any, v *Value, _ *mysqlArena) error {
	if d, ok := in.(time.Duration); ok {
		v.Int = d.Microseconds()
		return nil
	}
	s, ok := textOf(in)
	if ok {
		v.Int, ok = parseMySQLClock(s, 838)
	}
	if !ok {
		return mysqlBadValue("time", in)
	}
	return nil
}

// mysqlDatetimePlan decodes a DATETIME as the epoch microseconds (or, with millis, the
// milliseconds) of its wall time read as UTC, as Debezium's MicroTimestamp and Timestamp do.
func mysqlDatetimePlan(nullable, millis bool) mysqlPlan {
	return func(in any, v *Value, _ *mysqlArena) error {
		var us int64
		if t, ok := in.(time.Time); ok {
			if t.IsZero() {
				return mysqlZeroDate(in, v, nullable)
			}
			us = wallMicros(t)
		} else {
			s, ok := textOf(in)
			var zero bool
			if ok {
				us, zero, ok = parseMySQLDatetime(s)
			}
			switch {
			case !ok:
				return mysqlBadValue("datetime", in)
			case zero:
				return mysqlZeroDate(in, v, nullable)
			}
		}
		if millis {
			us = floorDiv(us, 1000)
		}
		v.Int = us
		return nil
	}
}

// mysqlTimestampPlan decodes a TIMESTAMP (text in UTC, see ConfigureMySQLSyncer, or a
// time.Time instant) as Debezium's ZonedTimestamp: ISO-8601 in UTC with the column's number
// of fraction digits.
func mysqlTimestampPlan(nullable bool, precision int) mysqlPlan {
	return func(in any, v *Value, a *mysqlArena) error {
		var us int64
		if t, ok := in.(time.Time); ok {
			if t.IsZero() || t.Unix() == 0 && t.Nanosecond() == 0 {
				return mysqlZeroDate(in, v, nullable) // 0 is TIMESTAMP's zero value
			}
			us = t.UnixMicro()
		} else {
			s, ok := textOf(in)
			var zero bool
			if ok {
				us, zero, ok = parseMySQLDatetime(s)
			}
			switch {
			case !ok:
				return mysqlBadValue("timestamp", in)
			case zero:
				return mysqlZeroDate(in, v, nullable)
			}
		}
		var buf [40]byte
		days := floorDiv(us, microsPerDay)
		v.Bytes = a.copyBytes(appendZonedTimestamp(buf[:0], days, us-days*microsPerDay, precision))
		return nil
	}
}

// planMySQLYear decodes a YEAR (go-mysql's int: 0 or 1901..2155) as its number, the way
// Debezium's io.debezium.time.Year carries it.
func planMySQLYear(in any, v *Value, _ *mysqlArena) error {
	if t, ok := in.(time.Time); ok { // a snapshot driver reading YEAR as a date
		v.Int = int64(t.Year())
		return nil
	}
	n, _, big, ok := asInt(in)
	if !ok || big || n < 0 || n > math.MaxInt16 {
		return mysqlBadValue("year", in)
	}
	v.Int = n
	return nil
}
