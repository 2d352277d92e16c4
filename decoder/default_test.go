package decoder

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPGDefaultLiteral(t *testing.T) {
	for _, tc := range []struct {
		expr, want string
		ok         bool
	}{
		{"5", "5", true},
		{"12.5", "12.5", true},
		{"'-3'::integer", "-3", true},
		{"'it''s'::text", "it's", true},
		{"''::character varying", "", true},
		{"'x'::character varying(10)", "x", true},
		{"true", "t", true},
		{"false", "f", true},
		{"'2020-01-01 10:00:00'::timestamp without time zone", "2020-01-01 10:00:00", true},
		{"'{}'::text[]", "{}", true},
		{`'1010'::"bit"`, "1010", true},
		{"now()", "", false},
		{"nextval('items_id_seq'::regclass)", "", false},
		{"(2 + 3)", "", false},
		{"NULL::integer", "", false},
		{"'a'::text || 'b'::text", "", false},
		{"E'a\\\\b'::text", "", false},
		{"'unterminated", "", false},
		{"1.2.3", "", false},
		{"", "", false},
	} {
		got, ok := pgDefaultLiteral(tc.expr)
		if got != tc.want || ok != tc.ok {
			t.Errorf("pgDefaultLiteral(%q) = %q, %v; want %q, %v", tc.expr, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPGDescribeTableDefaults(t *testing.T) {
	cols := []PGColumnInfo{
		{"id", oidInt4, -1}, {"n", oidInt4, -1}, {"label", oidText, -1}, {"ok", oidBool, -1},
		{"price", oidNumeric, (10 << 16) | 2 + 4}, {"day", oidDate, -1}, {"at", oidTimestamp, -1},
		{"made", oidTimestamptz, -1}, {"seq", oidInt8, -1}, {"bad", oidInt4, -1},
	}
	cat := &fakeCatalog{Relations: map[uint32]PGRelationInfo{testRelID: {
		PrimaryKey: []string{"id"},
		NotNull:    []string{"id", "n", "label", "ok", "price", "day", "at", "made"},
		Defaults: map[string]string{
			"n": "5", "label": "'it''s'::text", "ok": "true", "price": "12.5", "day": "'2020-01-01'::date",
			"at":   "'2020-01-01 10:00:00'::timestamp without time zone",
			"made": "now()", "seq": "nextval('s'::regclass)", "bad": "'x'::integer",
		},
	}}}
	tbl, err := NewPGDecoder(cat).DescribeTable(context.Background(), testRelID, "public", "t", cols)
	if err != nil {
		t.Fatal(err)
	}
	checkDefaults(t, tbl, []string{"id", "made", "seq", "bad"}, map[string]func(v *Value) bool{
		"n":     func(v *Value) bool { return v.Int == 5 },
		"label": func(v *Value) bool { return string(v.Bytes) == "it's" },
		"ok":    func(v *Value) bool { return v.Int == 1 },
		"price": func(v *Value) bool { return string(v.Bytes) == "\x04\xe2" }, // 1250 at scale 2
		"day":   func(v *Value) bool { return v.Int == 18262 },
		"at":    func(v *Value) bool { return v.Int == 1577872800000000 },
	})
}

// checkDefaults checks that tbl's columns named in none have no default, and that each column
// of want has a set default for which its function is true.
func checkDefaults(t *testing.T, tbl *Table, none []string, want map[string]func(v *Value) bool) {
	t.Helper()
	by := map[string]*Value{}
	for _, c := range tbl.Columns {
		by[c.Name] = c.Default
	}
	for _, name := range none {
		if by[name] != nil {
			t.Errorf("%s: default %+v, want none", name, by[name])
		}
	}
	for name, ok := range want {
		if v := by[name]; v == nil || v.State != ValueSet || !ok(v) {
			t.Errorf("%s: default %+v", name, v)
		}
	}
}

func TestMySQLTableDefaults(t *testing.T) {
	defs := []MySQLColumnDef{
		{Name: "id", ColumnType: "int(11)", Key: true},
		{Name: "n", ColumnType: "int(11)", Default: "5", HasDefault: true},
		{Name: "s", ColumnType: "varchar(10)", Charset: "latin1", Default: "café", HasDefault: true},
		{Name: "ok", ColumnType: "tinyint(1)", Default: "1", HasDefault: true},
		{Name: "price", ColumnType: "decimal(10,2)", Default: "-1.5", HasDefault: true},
		{Name: "day", ColumnType: "date", Default: "2020-01-01", HasDefault: true},
		{Name: "at", ColumnType: "datetime(3)", Default: "2020-01-01 10:00:00.5", HasDefault: true},
		{Name: "ts", ColumnType: "timestamp", Default: "2020-01-01 10:00:00", HasDefault: true},
		{Name: "zero", ColumnType: "date", Default: "0000-00-00", HasDefault: true},
		{Name: "bad", ColumnType: "int(11)", Default: "x", HasDefault: true},
		{Name: "color", ColumnType: "enum('red','2','1')", Default: "red", HasDefault: true},
		{Name: "digit", ColumnType: "enum('red','2','1')", Default: "1", HasDefault: true},
		{Name: "upper", ColumnType: "enum('red','2','1')", Default: "RED", HasDefault: true},
		{Name: "tags", ColumnType: "set('a','b','c')", Default: "c,a", HasDefault: true},
		{Name: "notags", ColumnType: "set('a','b','c')", Default: "", HasDefault: true},
		{Name: "badenum", ColumnType: "enum('a','b')", Default: "z", HasDefault: true},
	}
	tbl, err := NewMySQLTable("shop", "t", defs, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkDefaults(t, tbl, []string{"id", "zero", "bad", "badenum"}, map[string]func(v *Value) bool{
		"n":     func(v *Value) bool { return v.Int == 5 },
		"s":     func(v *Value) bool { return string(v.Bytes) == "café" },
		"ok":    func(v *Value) bool { return v.Int == 1 },
		"price": func(v *Value) bool { return string(v.Bytes) == "\xff\x6a" }, // -150 at scale 2
		"day":   func(v *Value) bool { return v.Int == 18262 },
		"at":    func(v *Value) bool { return v.Int == 1577872800500 },
		"ts":    func(v *Value) bool { return string(v.Bytes) == "2020-01-01T10:00:00Z" },
		// ENUM and SET defaults are labels, not the index the plans read.
		"color":  func(v *Value) bool { return string(v.Bytes) == "red" },
		"digit":  func(v *Value) bool { return string(v.Bytes) == "1" }, // label 1, not index 1
		"upper":  func(v *Value) bool { return string(v.Bytes) == "red" },
		"tags":   func(v *Value) bool { return string(v.Bytes) == "a,c" },
		"notags": func(v *Value) bool { return string(v.Bytes) == "" },
	})
}

// TestMySQLZeroDateErrorIsReadable: a snapshot's zero date comes as []byte; the error shows
// it as text, not as a list of byte values.
func TestMySQLZeroDateErrorIsReadable(t *testing.T) {
	tbl, err := NewMySQLTable("shop", "t", []MySQLColumnDef{{Name: "d", ColumnType: "date"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewMySQLRowDecoder(tbl)
	if err != nil {
		t.Fatal(err)
	}
	err = dec.Decode([]any{[]byte("0000-00-00")}, make([]Value, 1))
	if !errors.Is(err, ErrMySQLZeroDate) || !strings.Contains(err.Error(), `"0000-00-00"`) {
		t.Errorf("error %q, want ErrMySQLZeroDate showing \"0000-00-00\"", err)
	}
}

// TestPGDefaultsOfMoreTypes: constants of the other mapped types, as pg_get_expr deparses them
// in the stream's formats, become defaults of the column's values.
func TestPGDefaultsOfMoreTypes(t *testing.T) {
	for _, tc := range []struct {
		oid    uint32
		typmod int32
		expr   string
		ok     func(v *Value) bool
	}{
		{oidBytea, -1, `'\x01ff'::bytea`, func(v *Value) bool { return string(v.Bytes) == "\x01\xff" }},
		{oidUUID, -1, "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
			func(v *Value) bool { return string(v.Bytes) == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" }},
		{oidInterval, -1, "'P1D'::interval", func(v *Value) bool { return v.Int == 86400*1000000 }},
		{oidTime, -1, "'10:00:00'::time without time zone", func(v *Value) bool { return v.Int == 36000*1000000 }},
		{oidFloat8, -1, "1.5", func(v *Value) bool { return v.Float == 1.5 }},
		{oidInt2, -1, "'-7'::smallint", func(v *Value) bool { return v.Int == -7 }},
		{oidJSONB, -1, `'{"a": 1}'::jsonb`, func(v *Value) bool { return string(v.Bytes) == `{"a": 1}` }},
		{oidNumeric, -1, "5", func(v *Value) bool { return v.Scale == 0 && string(v.Bytes) == "\x05" }},
		{oidTimestamp, -1, "'infinity'::timestamp without time zone", func(v *Value) bool { return v.Int == pgTimestampPosInfinityMicros }},
		{oidTimestamptz, -1, "'2020-01-01 08:00:00+00'::timestamp with time zone",
			func(v *Value) bool { return string(v.Bytes) == "2020-01-01T08:00:00.000000Z" }},
	} {
		_, plan, ok := builtinPlan(tc.oid, tc.typmod)
		if !ok {
			t.Fatalf("no plan for oid %d", tc.oid)
		}
		v := pgDefault(tc.expr, plan)
		if v == nil || v.State != ValueSet || !tc.ok(v) {
			t.Errorf("default %s: %+v", tc.expr, v)
		}
	}
	_, plan, _ := builtinPlan(oidDate, -1)
	if v := pgDefault("'infinity'::date", plan); v != nil {
		t.Errorf("a date default of infinity has no Debezium value, got %+v", v)
	}
}
