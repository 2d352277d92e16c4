package decoder

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// planCase is one text -> Value expectation for a column type.
type planCase struct {
	name   string
	oid    uint32
	typmod int32
	text   string
	want   Value // State is ignored: the tuple reader sets it
	err    error // when set, the plan must fail with an error that Is err
}

func runPlanCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, plan, ok := builtinPlan(tc.oid, tc.typmod)
			if !ok {
				elem, isArr := builtinArrays[tc.oid]
				if !isArr {
					t.Fatalf("no plan for oid %d", tc.oid)
				}
				_, ep, _ := builtinPlan(elem, tc.typmod)
				plan = arrayPlan(ep)
			}
			var got Value
			err := plan([]byte(tc.text), &got)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("plan(%q) error = %v, want %v", tc.text, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("plan(%q): %v", tc.text, err)
			}
			if !sameValue(got, tc.want) {
				t.Errorf("plan(%q) = %+v, want %+v", tc.text, got, tc.want)
			}
		})
	}
}

// sameValue compares two Values field by field (NaN equal to NaN), ignoring the top State.
func sameValue(a, b Value) bool {
	if a.Int != b.Int || a.Scale != b.Scale || !bytes.Equal(a.Bytes, b.Bytes) {
		return false
	}
	if a.Float != b.Float && !(math.IsNaN(a.Float) && math.IsNaN(b.Float)) {
		return false
	}
	if (a.Elems == nil) != (b.Elems == nil) || len(a.Elems) != len(b.Elems) {
		return false
	}
	for i := range a.Elems {
		if a.Elems[i].State != b.Elems[i].State || !sameValue(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}

func numericTypmod(p, s int) int32 { return int32(p<<16|s) + 4 }

func TestPGPlansScalars(t *testing.T) {
	runPlanCases(t, []planCase{
		{name: "bool true", oid: oidBool, text: "t", want: Value{Int: 1}},
		{name: "bool false", oid: oidBool, text: "f", want: Value{Int: 0}},
		{name: "bool bad", oid: oidBool, text: "true", err: ErrPGBadValue},
		{name: "int2 min", oid: oidInt2, text: "-32768", want: Value{Int: -32768}},
		{name: "int2 overflow", oid: oidInt2, text: "32768", err: ErrPGBadValue},
		{name: "int4 max", oid: oidInt4, text: "2147483647", want: Value{Int: math.MaxInt32}},
		{name: "int4 junk", oid: oidInt4, text: "12a", err: ErrPGBadValue},
		{name: "int4 empty", oid: oidInt4, text: "", err: ErrPGBadValue},
		{name: "int8 min", oid: oidInt8, text: "-9223372036854775808", want: Value{Int: math.MinInt64}},
		{name: "int8 max", oid: oidInt8, text: "9223372036854775807", want: Value{Int: math.MaxInt64}},
		{name: "int8 overflow", oid: oidInt8, text: "9223372036854775808", err: ErrPGBadValue},
		{name: "int8 minus only", oid: oidInt8, text: "-", err: ErrPGBadValue},
		{name: "float4", oid: oidFloat4, text: "3.14", want: Value{Float: float64(float32(3.14))}},
		{name: "float4 inf", oid: oidFloat4, text: "-Infinity", want: Value{Float: math.Inf(-1)}},
		{name: "float8", oid: oidFloat8, text: "-2.718281828459045", want: Value{Float: -2.718281828459045}},
		{name: "float8 exp", oid: oidFloat8, text: "1e+300", want: Value{Float: 1e300}},
		{name: "float8 nan", oid: oidFloat8, text: "NaN", want: Value{Float: math.NaN()}},
		{name: "float8 inf", oid: oidFloat8, text: "Infinity", want: Value{Float: math.Inf(1)}},
		{name: "float8 bad", oid: oidFloat8, text: "1,5", err: ErrPGBadValue},
		{name: "text", oid: oidText, text: `a "b" \c`, want: Value{Bytes: []byte(`a "b" \c`)}},
		{name: "varchar empty", oid: oidVarchar, text: "", want: Value{Bytes: []byte{}}},
		{name: "bpchar padded", oid: oidBpchar, text: "ab   ", want: Value{Bytes: []byte("ab   ")}},
		{name: "inet", oid: oidInet, text: "::1/128", want: Value{Bytes: []byte("::1/128")}},
		{name: "json", oid: oidJSON, text: `{"a":1}`, want: Value{Bytes: []byte(`{"a":1}`)}},
		{name: "uuid", oid: oidUUID, text: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
			want: Value{Bytes: []byte("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}},
		{name: "uuid short", oid: oidUUID, text: "a0eebc99", err: ErrPGBadValue},
		{name: "bytea", oid: oidBytea, text: `\x00ff10Ab`, want: Value{Bytes: []byte{0, 0xff, 0x10, 0xab}}},
		{name: "bytea empty", oid: oidBytea, text: `\x`, want: Value{Bytes: []byte{}}},
		{name: "bytea escape format", oid: oidBytea, text: `abc\000`, err: ErrPGBadValue},
		{name: "bytea odd", oid: oidBytea, text: `\x0`, err: ErrPGBadValue},
		{name: "bytea bad digit", oid: oidBytea, text: `\x0g`, err: ErrPGBadValue},
	})
}

func TestPGPlansNumeric(t *testing.T) {
	m102 := numericTypmod(10, 2)
	runPlanCases(t, []planCase{
		{name: "decimal", oid: oidNumeric, typmod: m102, text: "12345678.90", want: Value{Bytes: []byte{0x49, 0x96, 0x02, 0xd2}}},
		{name: "decimal zero", oid: oidNumeric, typmod: m102, text: "0.00", want: Value{Bytes: []byte{0}}},
		{name: "decimal negative", oid: oidNumeric, typmod: m102, text: "-0.05", want: Value{Bytes: []byte{0xfb}}},
		{name: "decimal 128", oid: oidNumeric, typmod: m102, text: "1.28", want: Value{Bytes: []byte{0, 0x80}}},
		{name: "decimal -128", oid: oidNumeric, typmod: m102, text: "-1.28", want: Value{Bytes: []byte{0x80}}},
		{name: "decimal -129", oid: oidNumeric, typmod: m102, text: "-1.29", want: Value{Bytes: []byte{0xff, 0x7f}}},
		{name: "decimal short fraction padded", oid: oidNumeric, typmod: m102, text: "5", want: Value{Bytes: []byte{0x01, 0xf4}}},
		{name: "decimal big", oid: oidNumeric, typmod: numericTypmod(38, 0), text: "-170141183460469231731687303715884105728",
			want: Value{Bytes: append([]byte{0x80}, make([]byte, 15)...)}},
		{name: "decimal big positive", oid: oidNumeric, typmod: numericTypmod(38, 0), text: "18446744073709551616",
			want: Value{Bytes: []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}}},
		{name: "decimal too many digits", oid: oidNumeric, typmod: m102, text: "1.234", err: ErrPGBadValue},
		{name: "decimal nan", oid: oidNumeric, typmod: m102, text: "NaN", err: ErrPGSpecialValue},
		{name: "decimal -inf", oid: oidNumeric, typmod: -1, text: "-Infinity", err: ErrPGSpecialValue},
		{name: "decimal junk", oid: oidNumeric, typmod: m102, text: "1.2.3", err: ErrPGBadValue},
		{name: "decimal dot only", oid: oidNumeric, typmod: m102, text: ".", err: ErrPGBadValue},
		{name: "variable strips zeros", oid: oidNumeric, typmod: -1, text: "1.500", want: Value{Bytes: []byte{15}, Scale: 1}},
		{name: "variable integer keeps zeros", oid: oidNumeric, typmod: -1, text: "100", want: Value{Bytes: []byte{100}}},
		{name: "variable zero", oid: oidNumeric, typmod: -1, text: "0.000", want: Value{Bytes: []byte{0}}},
		{name: "variable negative", oid: oidNumeric, typmod: -1, text: "-12.50", want: Value{Bytes: []byte{0x83}, Scale: 1}},
		{name: "variable long", oid: oidNumeric, typmod: -1, text: "0.0000000000000000000001",
			want: Value{Bytes: []byte{1}, Scale: 22}},
	})
}

func TestPGNumericColumnFromTypmod(t *testing.T) {
	c, _, _ := builtinPlan(oidNumeric, numericTypmod(10, 2))
	if c.Type != TypeDecimal || c.Precision != 10 || c.Scale != 2 {
		t.Errorf("numeric(10,2) = %v p%d s%d, want TypeDecimal p10 s2", c.Type, c.Precision, c.Scale)
	}
	c, _, _ = builtinPlan(oidNumeric, -1)
	if c.Type != TypeVariableDecimal {
		t.Errorf("numeric = %v, want TypeVariableDecimal", c.Type)
	}
	// PostgreSQL 15's numeric(3,-2): scale bits 0x7fe.
	c, _, _ = builtinPlan(oidNumeric, int32(3<<16|0x7fe)+4)
	if c.Type != TypeDecimal || c.Precision != 5 || c.Scale != 0 {
		t.Errorf("numeric(3,-2) = %v p%d s%d, want TypeDecimal p5 s0", c.Type, c.Precision, c.Scale)
	}
}

func TestPGPlansTemporal(t *testing.T) {
	const day = int64(microsPerDay)
	runPlanCases(t, []planCase{
		{name: "date", oid: oidDate, text: "2024-02-29", want: Value{Int: 19782}},
		{name: "date epoch", oid: oidDate, text: "1970-01-01", want: Value{Int: 0}},
		{name: "date before epoch", oid: oidDate, text: "1969-12-31", want: Value{Int: -1}},
		{name: "date year 1", oid: oidDate, text: "0001-01-01", want: Value{Int: -719162}},
		{name: "date 1 BC", oid: oidDate, text: "0001-12-31 BC", want: Value{Int: -719163}},
		{name: "date five digit year", oid: oidDate, text: "10000-01-01", want: Value{Int: 2932897}},
		{name: "date infinity", oid: oidDate, text: "infinity", err: ErrPGSpecialValue},
		{name: "date -infinity", oid: oidDate, text: "-infinity", err: ErrPGSpecialValue},
		{name: "date month 13", oid: oidDate, text: "2024-13-01", err: ErrPGBadValue},
		{name: "date us style", oid: oidDate, text: "02/29/2024", err: ErrPGBadValue},
		{name: "time micros", oid: oidTime, typmod: -1, text: "13:14:15.123456", want: Value{Int: 47655123456}},
		{name: "time short fraction", oid: oidTime, typmod: 6, text: "00:00:00.5", want: Value{Int: 500000}},
		{name: "time end of day", oid: oidTime, typmod: -1, text: "24:00:00", want: Value{Int: day}},
		{name: "time millis", oid: oidTime, typmod: 3, text: "13:14:15.123", want: Value{Int: 47655123}},
		{name: "time millis p0", oid: oidTime, typmod: 0, text: "00:00:01", want: Value{Int: 1000}},
		{name: "time too precise", oid: oidTime, typmod: -1, text: "00:00:00.1234567", err: ErrPGBadValue},
		{name: "time past end of day", oid: oidTime, typmod: -1, text: "24:00:01", err: ErrPGBadValue},
		{name: "timetz to utc", oid: oidTimetz, typmod: -1, text: "10:00:00.5-02:30", want: Value{Bytes: []byte("12:30:00.5Z")}},
		{name: "timetz wraps", oid: oidTimetz, typmod: -1, text: "01:00:00+02", want: Value{Bytes: []byte("23:00:00Z")}},
		{name: "timetz end of day", oid: oidTimetz, typmod: -1, text: "24:00:00+00", want: Value{Bytes: []byte("24:00:00Z")}},
		{name: "timetz micro", oid: oidTimetz, typmod: -1, text: "00:00:00.000001+00", want: Value{Bytes: []byte("00:00:00.000001Z")}},
		{name: "timetz no zone", oid: oidTimetz, typmod: -1, text: "10:00:00", err: ErrPGBadValue},
		{name: "timestamp micros", oid: oidTimestamp, typmod: -1, text: "2024-02-29 13:14:15.123456", want: Value{Int: 1709212455123456}},
		{name: "timestamp millis negative", oid: oidTimestamp, typmod: 3, text: "1969-12-31 23:59:59.999", want: Value{Int: -1}},
		{name: "timestamp BC", oid: oidTimestamp, typmod: -1, text: "0001-12-31 23:00:00 BC", want: Value{Int: -719163*day + 23*3600*microsPerSecond}},
		// ±infinity are the JDBC driver's infinity instants, as Debezium writes them.
		{name: "timestamp infinity", oid: oidTimestamp, typmod: -1, text: "infinity", want: Value{Int: 9223372036825200000}},
		{name: "timestamp -infinity", oid: oidTimestamp, typmod: -1, text: "-infinity", want: Value{Int: -9223372036832400000}},
		{name: "timestamp millis infinity", oid: oidTimestamp, typmod: 3, text: "infinity", want: Value{Int: 9223372036825200}},
		// The latest timestamps are past an int64 of microseconds: saturated, as Debezium's
		// TimeUnit conversion saturates; their milliseconds are exact.
		{name: "timestamp latest", oid: oidTimestamp, typmod: -1, text: "294276-12-31 23:59:59.999999", want: Value{Int: math.MaxInt64}},
		{name: "timestamp last micro that fits", oid: oidTimestamp, typmod: -1, text: "294247-01-10 04:00:54.775807", want: Value{Int: math.MaxInt64}},
		{name: "timestamp first micro past", oid: oidTimestamp, typmod: -1, text: "294247-01-10 04:00:54.775808", want: Value{Int: math.MaxInt64}},
		{name: "timestamp one second before", oid: oidTimestamp, typmod: -1, text: "294247-01-10 04:00:53.775807", want: Value{Int: math.MaxInt64 - 1000000}},
		{name: "timestamp millis latest", oid: oidTimestamp, typmod: 3, text: "294276-12-31 23:59:59.999", want: Value{Int: 9224318015999999}},
		{name: "timestamp earliest", oid: oidTimestamp, typmod: -1, text: "4713-01-01 00:00:00 BC", want: Value{Int: -210863520000000000}},
		{name: "timestamp T separator", oid: oidTimestamp, typmod: -1, text: "2024-02-29T13:14:15", err: ErrPGBadValue},
		{name: "timestamptz p6 pads", oid: oidTimestamptz, typmod: -1, text: "2024-02-29 13:14:15.1+02", want: Value{Bytes: []byte("2024-02-29T11:14:15.100000Z")}},
		{name: "timestamptz p3", oid: oidTimestamptz, typmod: 3, text: "2024-02-29 13:14:15.123+00", want: Value{Bytes: []byte("2024-02-29T13:14:15.123Z")}},
		{name: "timestamptz p0", oid: oidTimestamptz, typmod: 0, text: "2024-02-29 13:14:15+00", want: Value{Bytes: []byte("2024-02-29T13:14:15Z")}},
		{name: "timestamptz offset seconds", oid: oidTimestamptz, typmod: 0, text: "1900-01-01 00:00:00+00:09:21", want: Value{Bytes: []byte("1899-12-31T23:50:39Z")}},
		{name: "timestamptz crosses midnight", oid: oidTimestamptz, typmod: 0, text: "2024-01-01 01:00:00+05:30", want: Value{Bytes: []byte("2023-12-31T19:30:00Z")}},
		{name: "timestamptz BC", oid: oidTimestamptz, typmod: 0, text: "0044-03-15 12:00:00+00 BC", want: Value{Bytes: []byte("-0043-03-15T12:00:00Z")}},
		{name: "timestamptz year 10000", oid: oidTimestamptz, typmod: 0, text: "10000-01-01 00:00:00+00", want: Value{Bytes: []byte("+10000-01-01T00:00:00Z")}},
		{name: "timestamptz -infinity", oid: oidTimestamptz, typmod: -1, text: "-infinity", want: Value{Bytes: []byte("-infinity")}},
		{name: "timestamptz infinity", oid: oidTimestamptz, typmod: 0, text: "infinity", want: Value{Bytes: []byte("infinity")}},
		{name: "timestamptz latest", oid: oidTimestamptz, typmod: -1, text: "294276-12-31 23:59:59.999999+00",
			want: Value{Bytes: []byte("+294276-12-31T23:59:59.999999Z")}},
		{name: "timestamptz latest in a zone", oid: oidTimestamptz, typmod: -1, text: "294277-01-01 01:59:59.999999+02",
			want: Value{Bytes: []byte("+294276-12-31T23:59:59.999999Z")}},
		{name: "timestamptz no zone", oid: oidTimestamptz, typmod: -1, text: "2024-02-29 13:14:15", err: ErrPGBadValue},
	})
}

func TestPGPlansInterval(t *testing.T) {
	const s = int64(microsPerSecond)
	runPlanCases(t, []planCase{
		{name: "zero", oid: oidInterval, text: "PT0S", want: Value{Int: 0}},
		{name: "full", oid: oidInterval, text: "P1Y2M3DT4H5M6.789S", want: Value{Int: 37091106789000}},
		{name: "one month is 30.4375 days", oid: oidInterval, text: "P1M", want: Value{Int: 2629800 * s}},
		{name: "negative parts", oid: oidInterval, text: "P-1DT-1H", want: Value{Int: -25 * 3600 * s}},
		{name: "negative fraction", oid: oidInterval, text: "PT-1.5S", want: Value{Int: -1500000}},
		{name: "mixed signs", oid: oidInterval, text: "P1DT-1M", want: Value{Int: (86400 - 60) * s}},
		{name: "hours only", oid: oidInterval, text: "PT100H", want: Value{Int: 360000 * s}},
		// Past Debezium's range, saturated as Java's (long) cast in MicroDuration saturates.
		{name: "largest", oid: oidInterval, text: "P178000000Y2147483647DT2562047788H0M54.775807S", want: Value{Int: math.MaxInt64}},
		{name: "smallest", oid: oidInterval, text: "P-178000000Y-2147483648DT-2562047788H0M-54.775808S", want: Value{Int: math.MinInt64}},
		{name: "largest years", oid: oidInterval, text: "P178000000Y", want: Value{Int: math.MaxInt64}},
		{name: "292000 years fit", oid: oidInterval, text: "P292000Y", want: Value{Int: 9214819200000000000}},
		{name: "postgres style", oid: oidInterval, text: "1 day", err: ErrPGBadValue},
		{name: "fraction outside time", oid: oidInterval, text: "P1.5D", err: ErrPGBadValue},
		{name: "dangling number", oid: oidInterval, text: "P1", err: ErrPGBadValue},
		{name: "empty", oid: oidInterval, text: "P", err: ErrPGBadValue},
	})
}

func TestPGPlansArrays(t *testing.T) {
	set := func(v Value) Value { v.State = ValueSet; return v }
	str := func(s string) Value { return set(Value{Bytes: []byte(s)}) }
	runPlanCases(t, []planCase{
		{name: "int4", oid: 1007, text: "{1,NULL,-3}", want: Value{Elems: []Value{set(Value{Int: 1}), {}, set(Value{Int: -3})}}},
		{name: "empty", oid: 1007, text: "{}", want: Value{Elems: []Value{}}},
		{name: "text quoting", oid: 1009, text: `{"a b","c\"d",NULL,"NULL","","x\\y",plain}`,
			want: Value{Elems: []Value{str("a b"), str(`c"d`), {}, str("NULL"), str(""), str(`x\y`), str("plain")}}},
		{name: "bounds prefix", oid: 1007, text: "[0:1]={5,6}", want: Value{Elems: []Value{set(Value{Int: 5}), set(Value{Int: 6})}}},
		{name: "bytea", oid: 1001, text: `{"\\x01ff","\\x"}`, want: Value{Elems: []Value{set(Value{Bytes: []byte{1, 0xff}}), set(Value{Bytes: []byte{}})}}},
		{name: "numeric scale", oid: 1231, typmod: numericTypmod(6, 3), text: "{1.500,-2.250}",
			want: Value{Elems: []Value{set(Value{Bytes: []byte{0x05, 0xdc}}), set(Value{Bytes: []byte{0xf7, 0x36}})}}},
		{name: "timestamptz", oid: 1185, typmod: 0, text: `{"2024-01-01 00:00:00+00"}`, want: Value{Elems: []Value{str("2024-01-01T00:00:00Z")}}},
		{name: "two dimensions", oid: 1007, text: "{{1,2},{3,4}}", err: ErrPGMultiDimArray},
		{name: "two dimension bounds", oid: 1007, text: "[1:2][1:1]={{1},{2}}", err: ErrPGMultiDimArray},
		{name: "bad element", oid: 1007, text: "{1,x}", err: ErrPGBadValue},
		{name: "unterminated quote", oid: 1009, text: `{"abc}`, err: ErrPGBadValue},
		{name: "no braces", oid: 1007, text: "1,2", err: ErrPGBadValue},
		{name: "bounds without equals", oid: 1007, text: "[=", err: ErrPGBadValue},
		{name: "junk after quote", oid: 1009, text: `{"a"b}`, err: ErrPGBadValue},
		{name: "special element", oid: 1182, text: "{infinity}", err: ErrPGSpecialValue},
	})
}

func TestPGDaysFromCivilRoundTrip(t *testing.T) {
	for days := int64(-800_000); days <= 3_000_000; days += 997 {
		y, m, d := civilFromDays(days)
		if got := daysFromCivil(y, m, d); got != days {
			t.Fatalf("daysFromCivil(civilFromDays(%d) = %d-%d-%d) = %d", days, y, m, d, got)
		}
	}
}

// The values that still have no Debezium value are refused naming the type's range, not as
// text that "does not parse".
func TestPGRefusalsNameTheRange(t *testing.T) {
	for _, c := range []struct {
		oid  uint32
		text string
		want string
	}{
		{oidDate, "infinity", "4713 BC to 5874897 AD"},
		{oidDate, "-infinity", "4713 BC to 5874897 AD"},
		{oidNumeric, "NaN", "finite numbers only"},
		{oidNumeric, "Infinity", "finite numbers only"},
	} {
		_, plan, _ := builtinPlan(c.oid, -1)
		var v Value
		err := plan([]byte(c.text), &v)
		if !errors.Is(err, ErrPGSpecialValue) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "does not parse") {
			t.Errorf("%d %q: %v, want ErrPGSpecialValue naming %q", c.oid, c.text, err, c.want)
		}
	}
}
