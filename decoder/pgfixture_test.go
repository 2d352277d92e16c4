package decoder

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"testing"
)

// The fixture was captured from a real PostgreSQL 15 by integration's
// TestDecoderPGOutputCapture (CDCD_WRITE_PGOUTPUT_FIXTURES=1), whose workload says what each
// transaction does.
const (
	fixtureMessages = "testdata/pgoutput_all_types.bin"
	fixtureCatalog  = "testdata/pgoutput_all_types.json"
)

// loadFixture returns the captured messages (each a fresh copy: Decode rewrites its input) and
// a catalog answering as the real one did.
func loadFixture(t testing.TB) ([][]byte, *fakeCatalog) {
	t.Helper()
	raw, err := os.ReadFile(fixtureMessages)
	if err != nil {
		t.Fatalf("reading the fixture: %v", err)
	}
	var msgs [][]byte
	for len(raw) > 0 {
		if len(raw) < 4 || int(binary.BigEndian.Uint32(raw)) > len(raw)-4 {
			t.Fatalf("fixture framing broken after %d messages", len(msgs))
		}
		n := binary.BigEndian.Uint32(raw)
		msgs = append(msgs, append([]byte(nil), raw[4:4+n]...))
		raw = raw[4+n:]
	}
	js, err := os.ReadFile(fixtureCatalog)
	if err != nil {
		t.Fatalf("reading the catalog fixture: %v", err)
	}
	cat := &fakeCatalog{}
	if err := json.Unmarshal(js, cat); err != nil {
		t.Fatalf("decoding the catalog fixture: %v", err)
	}
	return msgs, cat
}

type decoded struct {
	msg PGMessage
	err error
}

func TestPGFixtureReplay(t *testing.T) {
	msgs, cat := loadFixture(t)
	d := NewPGDecoder(cat)
	var all []decoded
	for _, m := range msgs {
		pm, err := d.Decode(context.Background(), m)
		all = append(all, decoded{pm, err})
	}

	var changes []decoded
	var relations []*Table
	var specialErrs, streamed, truncates int
	var streamXID uint32
	for _, dm := range all {
		switch {
		case dm.err != nil:
			if !errors.Is(dm.err, ErrPGSpecialValue) {
				t.Fatalf("unexpected error: %v", dm.err)
			}
			specialErrs++
		case dm.msg.Kind == PGChange && dm.msg.Change.Table.Name == "all_types":
			changes = append(changes, dm)
		case dm.msg.Kind == PGChange && dm.msg.Change.Table.Name == "bulk":
			streamed++
			if dm.msg.XID == 0 || dm.msg.XID != streamXID {
				t.Fatalf("streamed insert has xid %d, stream started for %d", dm.msg.XID, streamXID)
			}
		case dm.msg.Kind == PGStreamStart:
			streamXID = dm.msg.XID
		case dm.msg.Kind == PGRelation:
			relations = append(relations, dm.msg.Table)
		case dm.msg.Kind == PGTruncate:
			truncates++
			if len(dm.msg.Tables) != 2 || dm.msg.Tables[0].Name != "specials" || dm.msg.Tables[1].Name != "bulk" {
				t.Errorf("truncate tables = %v", dm.msg.Tables)
			}
		}
	}
	if specialErrs != 2 || streamed != 1000 || truncates != 1 {
		t.Errorf("special errors %d (want 2), streamed inserts %d (want 1000), truncates %d (want 1)",
			specialErrs, streamed, truncates)
	}
	if len(changes) != 6 {
		t.Fatalf("%d all_types changes, want 6", len(changes))
	}

	// Relations: all_types described twice with the same shape keeps its *Table; specials
	// gains a column and a version.
	versions := map[string][]*Table{}
	for _, r := range relations {
		versions[r.Name] = append(versions[r.Name], r)
	}
	if at := versions["all_types"]; len(at) < 2 || at[0] != at[1] || at[0].Version != 1 {
		t.Errorf("all_types descriptions = %v, want the same *Table at version 1", at)
	}
	if sp := versions["specials"]; len(sp) < 2 || sp[len(sp)-1].Version != 2 || len(sp[len(sp)-1].Columns) != 4 {
		t.Errorf("specials descriptions = %v, want version 2 with 4 columns last", sp)
	}

	ins := changes[0].msg.Change
	checkAllTypesRow(t, ins.Table, ins.After)
	if ins.Op != OpCreate || ins.Before != nil {
		t.Errorf("first insert: op %v before %v", ins.Op, ins.Before)
	}

	nulls := changes[1].msg.Change.After
	for i, v := range nulls {
		name := ins.Table.Columns[i].Name
		if name != "id" && name != "c_bool" && v.State != ValueNull {
			t.Errorf("all-null insert: %s = %+v, want NULL", name, v)
		}
	}

	toast := changes[2].msg.Change
	if toast.Op != OpUpdate || toast.Before != nil || col(t, toast, toast.After, "c_int4").Int != 5 ||
		col(t, toast, toast.After, "c_big").State != ValueUnchanged {
		t.Errorf("update leaving the TOASTed column: before %v, c_int4 %+v, c_big state %v", toast.Before,
			col(t, toast, toast.After, "c_int4"), col(t, toast, toast.After, "c_big").State)
	}

	keyUpd := changes[3].msg.Change
	if keyUpd.Before == nil || col(t, keyUpd, keyUpd.Before, "id").Int != 2 ||
		col(t, keyUpd, keyUpd.Before, "c_bool").State != ValueNull || col(t, keyUpd, keyUpd.After, "id").Int != 3 {
		t.Errorf("primary-key update: before %v after %v", keyUpd.Before, keyUpd.After)
	}

	del := changes[4].msg.Change
	if del.Op != OpDelete || del.After != nil || col(t, del, del.Before, "id").Int != 3 {
		t.Errorf("delete: %+v", del)
	}

	full := changes[5].msg.Change
	if full.Before == nil || string(col(t, full, full.Before, "c_text").Bytes) != `héllo "w" \ ,{}` ||
		string(col(t, full, full.After, "c_text").Bytes) != "full" ||
		col(t, full, full.Before, "c_big").State != ValueSet {
		t.Errorf("update under REPLICA IDENTITY FULL: before c_text %q after %q",
			col(t, full, full.Before, "c_text").Bytes, col(t, full, full.After, "c_text").Bytes)
	}
}

func col(t *testing.T, c Change, vals []Value, name string) Value {
	t.Helper()
	for i, cl := range c.Table.Columns {
		if cl.Name == name {
			return vals[i]
		}
	}
	t.Fatalf("no column %s", name)
	return Value{}
}

// checkAllTypesRow checks every value of the fixture's first insert field by field.
func checkAllTypesRow(t *testing.T, tbl *Table, row []Value) {
	t.Helper()
	i64 := func(n int64) Value { return Value{State: ValueSet, Int: n} }
	f64 := func(f float64) Value { return Value{State: ValueSet, Float: f} }
	b := func(s string) Value { return Value{State: ValueSet, Bytes: []byte(s)} }
	arr := func(vs ...Value) Value { return Value{State: ValueSet, Elems: vs} }
	want := map[string]Value{
		"id":             i64(1),
		"c_bool":         i64(1),
		"c_int2":         i64(-32768),
		"c_int4":         i64(2147483647),
		"c_int8":         i64(math.MinInt64),
		"c_float4":       f64(float64(float32(3.14))),
		"c_float8":       f64(-2.718281828459045),
		"c_float8_nan":   f64(math.NaN()),
		"c_float4_inf":   f64(math.Inf(-1)),
		"c_numeric":      b("\x49\x96\x02\xd2"), // 1234567890 at scale 2
		"c_numeric_neg":  b("\xfb"),             // -5 at scale 2
		"c_numeric_free": {State: ValueSet, Bytes: []byte{15}, Scale: 1},
		"c_text":         b(`héllo "w" \ ,{}`),
		"c_varchar":      b("var"),
		"c_bpchar":       b("ab   "),
		"c_name":         b("nm"),
		"c_bytea":        b("\x00\xff\x10"),
		"c_date":         i64(19782),
		"c_date_bc":      i64(-735160), // 44 BC-03-15, proleptic Gregorian
		"c_time":         i64(47655123456),
		"c_time3":        i64(47655123),
		"c_timetz":       b("12:30:00.5Z"),
		"c_ts":           i64(1709212455123456),
		"c_ts3":          i64(-1),
		"c_tstz":         b("2024-02-29T11:14:15.100000Z"),
		"c_tstz3":        b("2024-02-29T13:14:15.123Z"),
		"c_interval":     i64(37091106789000),
		"c_uuid":         b("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
		"c_json":         b(`{"a": 1}`),
		"c_jsonb":        b(`{"b": [1, 2]}`),
		"c_enum":         b("happy"),
		"c_inet":         b("192.168.0.1/24"),
		"c_cidr":         b("10.0.0.0/8"),
		"c_macaddr":      b("08:00:2b:01:02:03"),
		"c_macaddr8":     b("08:00:2b:01:02:03:04:05"),
		"c_domain":       i64(7),
		"c_int4_arr":     arr(i64(1), Value{}, i64(-3)),
		"c_text_arr":     arr(b("a b"), b(`c"d`), Value{}, b("NULL"), b("")),
		"c_numeric_arr":  arr(b("\x05\xdc"), b("\xf7\x36")), // 1500, -2250 at scale 3
		"c_enum_arr":     arr(b("sad"), b("happy")),
		"c_bytea_arr":    arr(b("\x01"), b("")),
		"c_tstz_arr":     arr(b("2024-01-01T00:00:00.000000Z")),
	}
	if len(row) != len(tbl.Columns) {
		t.Fatalf("row has %d values, table %d columns", len(row), len(tbl.Columns))
	}
	for i, c := range tbl.Columns {
		got := row[i]
		if c.Name == "c_big" {
			if got.State != ValueSet || len(got.Bytes) != 400*32 {
				t.Errorf("c_big: state %v, %d bytes, want 12800", got.State, len(got.Bytes))
			}
			continue
		}
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("column %s not checked", c.Name)
			continue
		}
		if got.State != w.State || !sameValue(got, w) {
			t.Errorf("%s (%s) = %+v, want %+v", c.Name, c.SourceType, got, w)
		}
	}
	wantTypes := map[string]Type{"c_time3": TypeTimeMillis, "c_time": TypeTimeMicros, "c_ts3": TypeTimestampMillis,
		"c_ts": TypeTimestampMicros, "c_enum": TypeEnum, "c_domain": TypeInt32, "c_numeric_free": TypeVariableDecimal,
		"c_numeric": TypeDecimal, "c_enum_arr": TypeArray, "c_json": TypeJSON, "c_uuid": TypeUUID}
	for i, c := range tbl.Columns {
		if w, ok := wantTypes[c.Name]; ok && c.Type != w {
			t.Errorf("column %d %s has type %v, want %v", i, c.Name, c.Type, w)
		}
	}
}
