package decoder

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/shopspring/decimal"
)

// stringer stands for any fmt.Stringer decimal (shopspring's, with UseDecimal on).
type stringer string

func (s stringer) String() string { return string(s) }

func TestMySQLDecode(t *testing.T) {
	set := func(v Value) Value { v.State = ValueSet; return v }
	i := func(n int64) Value { return set(Value{Int: n}) }
	b := func(s string) Value { return set(Value{Bytes: []byte(s)}) }
	f := func(x float64) Value { return set(Value{Float: x}) }
	null := Value{}
	utcMicros := func(y int, mo time.Month, d, h, mi, s, us int) int64 {
		return time.Date(y, mo, d, h, mi, s, us*1000, time.UTC).UnixMicro()
	}
	tests := []struct {
		typ, charset string
		notNull      bool
		in           any
		want         Value
		err          error
	}{
		// Integers: go-mysql's signed shapes of unsigned columns are corrected.
		{typ: "tinyint(4)", in: int8(-128), want: i(-128)},
		{typ: "tinyint(3) unsigned", in: int8(-1), want: i(255)},
		{typ: "tinyint(3) unsigned", in: uint8(200), want: i(200)},
		{typ: "tinyint(4)", in: int64(128), err: ErrMySQLBadValue},
		{typ: "tinyint(3) unsigned", in: int64(256), err: ErrMySQLBadValue},
		{typ: "tinyint(3) unsigned", in: int64(-129), err: ErrMySQLBadValue},
		{typ: "smallint(5) unsigned", in: int16(-1), want: i(65535)},
		{typ: "mediumint(8) unsigned", in: int32(-1), want: i(1<<24 - 1)},
		{typ: "mediumint(9)", in: int32(-8388608), want: i(-8388608)},
		{typ: "int(10) unsigned", in: int32(math.MinInt32), want: i(1 << 31)},
		{typ: "int(10) unsigned", in: uint32(math.MaxUint32), want: i(math.MaxUint32)},
		{typ: "int(11)", in: int32(math.MaxInt32), want: i(math.MaxInt32)},
		{typ: "int(11)", in: "-7", want: i(-7)},
		{typ: "int(11)", in: []byte("12"), want: i(12)},
		{typ: "int(11)", in: 1.5, err: ErrMySQLBadValue},
		{typ: "int(11)", in: "x", err: ErrMySQLBadValue},
		{typ: "bigint(20) unsigned", in: int64(-1), want: i(-1)},
		{typ: "bigint(20) unsigned", in: uint64(math.MaxUint64), want: i(-1)},
		{typ: "bigint(20) unsigned", in: "18446744073709551615", want: i(-1)},
		// go-mysql can hand a signed column an unsigned Go int (see mysqlIntPlan): taken back.
		{typ: "bigint(20)", in: uint64(math.MaxUint64), want: i(-1)},
		{typ: "int(11)", in: uint32(0xfffffff9), want: i(-7)},
		{typ: "bigint(20)", in: "18446744073709551615", err: ErrMySQLBadValue},
		{typ: "bigint(20)", in: int64(math.MinInt64), want: i(math.MinInt64)},
		{typ: "tinyint(1)", in: int8(7), want: i(7)},
		{typ: "bool", in: int8(7), want: i(1)},
		{typ: "bool", in: int8(0), want: i(0)},
		{typ: "bool", in: true, want: i(1)},
		{typ: "bool", in: "no", err: ErrMySQLBadValue},
		// Decimals: text (UseDecimal off) or a Stringer (on), at the column's scale.
		{typ: "decimal(10,2)", in: "-12345678.90", want: set(Value{Bytes: []byte{0xb6, 0x69, 0xfd, 0x2e}})},
		{typ: "decimal(10,2)", in: "1.5", want: set(Value{Bytes: []byte{0x00, 0x96}})},
		{typ: "decimal(10,2)", in: "0.00", want: set(Value{Bytes: []byte{0}})},
		{typ: "decimal(10,2)", in: stringer("-1"), want: set(Value{Bytes: []byte{0x9c}})},
		{typ: "decimal(10,2)", in: decimal.RequireFromString("2.50"), want: set(Value{Bytes: []byte{0x00, 0xfa}})},
		{typ: "decimal(10,2)", in: []byte("3"), want: set(Value{Bytes: []byte{0x01, 0x2c}})},
		{typ: "decimal(10,0)", in: "12.000", want: set(Value{Bytes: []byte{12}})},
		{typ: "decimal(10,2)", in: "1.234", err: ErrMySQLBadValue},
		{typ: "decimal(10,2)", in: "1e5", err: ErrMySQLBadValue},
		{typ: "decimal(10,2)", in: "-", err: ErrMySQLBadValue},
		{typ: "decimal(10,2)", in: 1.5, err: ErrMySQLBadValue},
		{typ: "decimal(40,0)", in: "-1000000000000000000000", want: set(Value{Bytes: []byte{0xc9, 0xca, 0x36, 0x52, 0x3a, 0x21, 0x60, 0x00, 0x00}})},
		// Floats.
		{typ: "float", in: float32(1.25), want: f(1.25)},
		{typ: "float", in: float64(0.5), want: f(0.5)},
		{typ: "float", in: 1e300, err: ErrMySQLBadValue},
		{typ: "float", in: "2.5", want: f(2.5)},
		{typ: "double", in: -2.25e300, want: f(-2.25e300)},
		{typ: "double", in: replication.FloatWithTrailingZero(3), want: f(3)},
		{typ: "double", in: float32(0.25), want: f(0.25)},
		{typ: "double", in: int64(1), err: ErrMySQLBadValue},
		// Bits: bit(1) is a boolean, bit(n) little-endian bytes in (n+7)/8.
		{typ: "bit(1)", in: int64(1), want: i(1)},
		{typ: "bit(1)", in: []byte{0}, want: i(0)},
		{typ: "bit(12)", in: int64(0xa03), want: b("\x03\x0a")},
		{typ: "bit(12)", in: []byte{0x0a, 0x03}, want: b("\x03\x0a")},
		{typ: "bit(12)", in: int64(0x1000), err: ErrMySQLBadValue},
		{typ: "bit(64)", in: int64(-1), want: b("\xff\xff\xff\xff\xff\xff\xff\xff")},
		{typ: "bit(8)", in: "x", err: ErrMySQLBadValue},
		// Text in its charset.
		{typ: "varchar(20)", charset: "utf8mb4", in: "héllo 😀", want: b("héllo 😀")},
		{typ: "text", charset: "utf8mb4", in: []byte("text ✓"), want: b("text ✓")},
		{typ: "varchar(20)", charset: "latin1", in: "caf\xe9 \x80\x81\x9f", want: b("café €\u0081Ÿ")},
		{typ: "text", charset: "latin1", in: []byte("plain"), want: b("plain")},
		{typ: "varchar(20)", charset: "cp1251", in: "\xcf\xf0\xe8\xe2\xe5\xf2 \xb9", want: b("Привет №")},
		{typ: "varchar(20)", charset: "latin2", in: "\xb1\x85", want: b("ą\u0085")},
		{typ: "varchar(20)", charset: "greek", in: "\xa1\xe1", want: b("\u02bdα")},
		{typ: "varchar(20)", charset: "koi8u", in: "\xae\xa4", want: b("╝є")},
		{typ: "text", charset: "gbk", in: []byte("\xd6\xd0\xce\xc4a"), want: b("中文a")},
		{typ: "varchar(20)", charset: "sjis", in: "\x93\xfa\x96\x7b\xb6", want: b("日本ｶ")},
		{typ: "varchar(20)", charset: "euckr", in: "\xc7\xd1\xb1\xb9", want: b("한국")},
		{typ: "varchar(20)", charset: "big5", in: "\xa4\xa4\xa4\xe5", want: b("中文")},
		{typ: "varchar(20)", charset: "ujis", in: "\xa4\xa2\x8f\xb0\xa1", want: b("あ丂")},
		{typ: "varchar(20)", charset: "gbk", in: "\xd6", want: b("\ufffd")},
		{typ: "varchar(20)", charset: "cp932", in: "a\xf0\x40\x93\xfa\xf9\xfc", want: b("a\ue000日\ue757")},
		{typ: "varchar(20)", charset: "ujis", in: "\xf5\xa1\xa4\xa2\x8f\xf5\xa1\xfe\xfe", want: b("\ue000あ\ue3ac\ue3ab")},
		{typ: "varchar(20)", charset: "sjis", in: "\x81\x5f\x81\x60", want: b("\\〜")},
		{typ: "varchar(20)", charset: "big5", in: "\xc6\xa5\xa4\xa4\xc7\xb3\xc7\xfc", want: b("ぁ中Ё⑽")},
		{typ: "varchar(20)", charset: "gb2312", in: "\xa1\xa4x", want: b("・x")},
		{typ: "varchar(5)", charset: "ucs2", in: "\x00a\x00\xe9", want: b("aé")},
		{typ: "varchar(5)", charset: "utf16", in: "\xd8\x3d\xde\x00", want: b("😀")},
		{typ: "varchar(5)", charset: "utf16le", in: "a\x00\x3d\xd8\x00\xde", want: b("a😀")},
		{typ: "varchar(5)", charset: "utf16", in: "\xd8\x3d", err: ErrMySQLBadValue},
		{typ: "varchar(5)", charset: "utf16", in: "\xde\x00", err: ErrMySQLBadValue},
		{typ: "varchar(5)", charset: "utf16", in: "abc", err: ErrMySQLBadValue},
		{typ: "varchar(5)", charset: "utf32", in: "\x00\x01\xf6\x00", want: b("😀")},
		{typ: "varchar(5)", charset: "utf32", in: "\x00\x11\x00\x00", err: ErrMySQLBadValue},
		{typ: "varchar(5)", charset: "utf8mb4", in: int64(1), err: ErrMySQLBadValue},
		{typ: "char(2)", charset: "binary", in: "\x00\x01", want: b("\x00\x01")},
		// Binary strings; binary(n) gets back the trailing zeros the binlog drops.
		{typ: "binary(4)", in: "\x01\x02", want: b("\x01\x02\x00\x00")},
		{typ: "binary(2)", in: "\x01\x02\x03", err: ErrMySQLBadValue},
		{typ: "varbinary(10)", in: "\x00\xff", want: b("\x00\xff")},
		{typ: "blob", in: []byte{0xde, 0xad}, want: b("\xde\xad")},
		{typ: "blob", in: 3, err: ErrMySQLBadValue},
		// Dates and times.
		{typ: "date", in: "1969-12-31", want: i(-1)},
		{typ: "date", in: "2024-02-29", want: i(19782)},
		{typ: "date", in: "0000-00-00", want: null},
		{typ: "date", in: "2024-00-10", want: null},
		{typ: "date", notNull: true, in: "0000-00-00", err: ErrMySQLZeroDate},
		{typ: "date", in: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), want: i(19782)},
		{typ: "date", in: time.Time{}, want: null},
		{typ: "date", in: "2024-13-01", err: ErrMySQLBadValue},
		{typ: "date", in: "2024-1-01", err: ErrMySQLBadValue},
		{typ: "date", in: "2024-01-01 ", err: ErrMySQLBadValue},
		{typ: "time(6)", in: "-12:34:56.789012", want: i(-(45296*1_000_000 + 789012))},
		{typ: "time", in: "838:59:59", want: i(3020399 * 1_000_000)},
		{typ: "time", in: "-838:59:59", want: i(-3020399 * 1_000_000)},
		{typ: "time(2)", in: "00:00:00.5", want: i(500_000)},
		{typ: "time(1)", in: "-00:00:00.1", want: i(-100_000)},
		{typ: "time", in: "00:00:00", want: i(0)},
		{typ: "time", in: 90 * time.Second, want: i(90_000_000)},
		{typ: "time", in: "839:00:00", err: ErrMySQLBadValue},
		{typ: "time", in: "12:60:00", err: ErrMySQLBadValue},
		{typ: "time", in: "12:00:00.1234567", err: ErrMySQLBadValue},
		{typ: "time", in: "12:00", err: ErrMySQLBadValue},
		{typ: "time", in: "12345:00:00", err: ErrMySQLBadValue},
		{typ: "datetime(3)", in: "2024-02-29 13:04:05.123", want: i(utcMicros(2024, 2, 29, 13, 4, 5, 123000) / 1000)},
		{typ: "datetime", in: "1969-12-31 23:59:59", want: i(-1000)},
		{typ: "datetime(1)", in: "1969-12-31 23:59:59.9", want: i(-100)},
		{typ: "datetime(6)", in: "1900-01-01 00:00:00.000001", want: i(utcMicros(1900, 1, 1, 0, 0, 0, 1))},
		{typ: "datetime(6)", in: "0000-00-00 00:00:00.000000", want: null},
		{typ: "datetime", notNull: true, in: "0000-00-00 00:00:00", err: ErrMySQLZeroDate},
		{typ: "datetime(6)", in: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600)), want: i(utcMicros(2024, 1, 2, 3, 4, 5, 6))},
		{typ: "datetime", in: "2024-01-02T03:04:05", err: ErrMySQLBadValue},
		{typ: "datetime", in: "2024-01-02 -03:04:05", err: ErrMySQLBadValue},
		{typ: "timestamp", in: "2024-02-29 11:04:05", want: b("2024-02-29T11:04:05Z")},
		{typ: "timestamp(3)", in: "2024-02-29 11:04:05.120", want: b("2024-02-29T11:04:05.120Z")},
		{typ: "timestamp(6)", in: "2038-01-19 03:14:07.000000", want: b("2038-01-19T03:14:07.000000Z")},
		{typ: "timestamp(3)", in: "0000-00-00 00:00:00.000", want: null},
		{typ: "timestamp", notNull: true, in: "0000-00-00 00:00:00", err: ErrMySQLZeroDate},
		{typ: "timestamp", in: time.Date(2024, 2, 29, 13, 4, 5, 0, time.FixedZone("x", 7200)), want: b("2024-02-29T11:04:05Z")},
		{typ: "timestamp", in: time.Unix(0, 0), want: null},
		{typ: "timestamp", in: int64(5), err: ErrMySQLBadValue},
		{typ: "year(4)", in: 2155, want: i(2155)},
		{typ: "year(4)", in: 0, want: i(0)},
		{typ: "year(4)", in: -1, err: ErrMySQLBadValue},
		// Enums and sets.
		{typ: "enum('a','it''s')", in: int64(2), want: b("it's")},
		{typ: "enum('a','it''s')", in: int64(0), want: b("")},
		{typ: "enum('a','it''s')", in: int64(3), err: ErrMySQLBadValue},
		{typ: "enum('a','it''s')", in: []byte("2"), want: b("it's")}, // a snapshot's column+0
		{typ: "enum('a','it''s')", in: "a", err: ErrMySQLBadValue},
		{typ: "set('x','y','z')", in: int64(5), want: b("x,z")},
		{typ: "set('x','y','z')", in: int64(0), want: b("")},
		{typ: "set('','y')", in: int64(3), want: b(",y")},
		{typ: "set('x','y','z')", in: int64(8), err: ErrMySQLBadValue},
		{typ: "set('x','y','z')", in: []byte("6"), want: b("y,z")},
		{typ: "set('x','y','z')", in: "y,z", err: ErrMySQLBadValue},
		// JSON.
		{typ: "json", in: `{"a":[1,2]}`, want: b(`{"a":[1,2]}`)},
		{typ: "json", in: []byte(`[]`), want: b(`[]`)},
		{typ: "json", in: []byte{}, want: null},
		{typ: "json", notNull: true, in: []byte{}, want: b("{}")},
		{typ: "json", in: 1, err: ErrMySQLBadValue},
		// NULL.
		{typ: "int(11)", in: nil, want: null},
		{typ: "varchar(3)", in: nil, want: null},
	}
	for _, tt := range tests {
		tbl, err := NewMySQLTable("db", "t", []MySQLColumnDef{
			{Name: "id", ColumnType: "int(11)", Key: true},
			{Name: "c", ColumnType: tt.typ, Charset: tt.charset, Nullable: !tt.notNull},
		}, 1)
		if err != nil {
			t.Fatalf("%s: %v", tt.typ, err)
		}
		d, err := NewMySQLRowDecoder(tbl)
		if err != nil {
			t.Fatalf("%s: %v", tt.typ, err)
		}
		dst := []Value{{Int: 99}, {Int: 99, Bytes: []byte("stale")}}
		err = d.Decode([]any{int32(1), tt.in}, dst)
		if tt.err != nil {
			var ce *MySQLColumnError
			if !errors.Is(err, tt.err) || !errors.As(err, &ce) || ce.Column != "c" || ce.Table != "t" {
				t.Errorf("%s %T(%v): err = %v, want %v on column c", tt.typ, tt.in, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %T(%v): %v", tt.typ, tt.in, tt.in, err)
			continue
		}
		got := dst[1]
		if got.State != tt.want.State || got.Int != tt.want.Int || got.Float != tt.want.Float ||
			!bytes.Equal(got.Bytes, tt.want.Bytes) || (tt.want.State == ValueNull && got.Bytes != nil) {
			t.Errorf("%s %T(%v) = %+v (%q), want %+v (%q)", tt.typ, tt.in, tt.in, got, got.Bytes, tt.want, tt.want.Bytes)
		}
		if dst[0].State != ValueSet || dst[0].Int != 1 {
			t.Errorf("%s: id = %+v, want 1", tt.typ, dst[0])
		}
	}
}

func TestMySQLDecodeRowShape(t *testing.T) {
	tbl, err := NewMySQLTable("db", "t", []MySQLColumnDef{{Name: "a", ColumnType: "int"}, {Name: "b", ColumnType: "int"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewMySQLRowDecoder(tbl)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		row []any
		dst int
	}{{[]any{int32(1)}, 2}, {[]any{int32(1), int32(2), int32(3)}, 2}, {[]any{int32(1), int32(2)}, 1}} {
		if err := d.Decode(tc.row, make([]Value, tc.dst)); !errors.Is(err, ErrMySQLRowShape) {
			t.Errorf("Decode(%v into %d) err = %v, want ErrMySQLRowShape", tc.row, tc.dst, err)
		}
	}
}

// TestMySQLDecodeValuesOutliveLaterRows checks that the arena never hands out memory a kept
// Value still uses, across many rows and chunk boundaries.
func TestMySQLDecodeValuesOutliveLaterRows(t *testing.T) {
	tbl, err := NewMySQLTable("db", "t", []MySQLColumnDef{
		{Name: "s", ColumnType: "varchar(200)", Charset: "utf8mb4"},
		{Name: "l", ColumnType: "varchar(200)", Charset: "latin1"},
		{Name: "d", ColumnType: "decimal(30,4)"},
		{Name: "ts", ColumnType: "timestamp(6)"},
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewMySQLRowDecoder(tbl)
	if err != nil {
		t.Fatal(err)
	}
	const rows = 2000
	kept := make([][]Value, rows)
	for r := range rows {
		kept[r] = make([]Value, 4)
		s := string(rune('a' + r%26))
		for range r % 300 {
			s += "x"
		}
		if err := d.Decode([]any{s, "\xe9" + s, "12345678901234567890.1234", "2024-01-02 03:04:05.000001"}, kept[r]); err != nil {
			t.Fatal(err)
		}
	}
	for r := range rows {
		v := kept[r]
		want := string(rune('a' + r%26))
		if string(v[0].Bytes[:1]) != want || len(v[0].Bytes) != 1+r%300 || string(v[1].Bytes[:3]) != "é"+want {
			t.Fatalf("row %d overwritten: %q %q", r, v[0].Bytes, v[1].Bytes)
		}
		if string(v[3].Bytes) != "2024-01-02T03:04:05.000001Z" {
			t.Fatalf("row %d timestamp overwritten: %q", r, v[3].Bytes)
		}
		if cap(v[0].Bytes) != len(v[0].Bytes) {
			t.Fatalf("row %d: capacity %d beyond length %d lets an append overwrite a neighbour", r, cap(v[0].Bytes), len(v[0].Bytes))
		}
	}
}

func TestConfigureMySQLSyncer(t *testing.T) {
	cfg := replication.BinlogSyncerConfig{UseDecimal: true, ParseTime: true, UseFloatWithTrailingZero: true}
	ConfigureMySQLSyncer(&cfg)
	if cfg.UseDecimal || cfg.ParseTime || cfg.UseFloatWithTrailingZero || cfg.TimestampStringLocation != time.UTC {
		t.Errorf("config = %+v", cfg)
	}
}
