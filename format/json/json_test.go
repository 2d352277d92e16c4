package json

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func set(v decoder.Value) decoder.Value { v.State = decoder.ValueSet; return v }

// everyType is a table with a column of every decoder type, and a row of values for it.
func everyType() (*decoder.Table, []decoder.Value) {
	str := &decoder.Column{Type: decoder.TypeString, Optional: true}
	t := &decoder.Table{Namespace: "public", Name: "every", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true, SourceType: "int8"},
		{Name: "b", Type: decoder.TypeBool},
		{Name: "i16", Type: decoder.TypeInt16},
		{Name: "i32", Type: decoder.TypeInt32, Default: &decoder.Value{State: decoder.ValueSet, Int: 7}},
		{Name: "f32", Type: decoder.TypeFloat32},
		{Name: "f64", Type: decoder.TypeFloat64, Optional: true},
		{Name: "dec", Type: decoder.TypeDecimal, Precision: 10, Scale: 2},
		{Name: "vdec", Type: decoder.TypeVariableDecimal, Optional: true},
		{Name: "s", Type: decoder.TypeString, Optional: true},
		{Name: "by", Type: decoder.TypeBytes, Optional: true},
		{Name: "j", Type: decoder.TypeJSON, Optional: true},
		{Name: "u", Type: decoder.TypeUUID, Optional: true},
		{Name: "e", Type: decoder.TypeEnum, EnumValues: []string{"red", "green"}},
		{Name: "d", Type: decoder.TypeDate},
		{Name: "tms", Type: decoder.TypeTimeMillis},
		{Name: "tus", Type: decoder.TypeTimeMicros},
		{Name: "tz", Type: decoder.TypeZonedTime},
		{Name: "tsms", Type: decoder.TypeTimestampMillis},
		{Name: "tsus", Type: decoder.TypeTimestampMicros},
		{Name: "tstz", Type: decoder.TypeZonedTimestamp},
		{Name: "iv", Type: decoder.TypeIntervalMicros},
		{Name: "arr", Type: decoder.TypeArray, Elem: str, Optional: true},
		{Name: "bits", Type: decoder.TypeBits, Precision: 10},
		{Name: "y", Type: decoder.TypeYear},
		{Name: "es", Type: decoder.TypeEnumSet, EnumValues: []string{"a", "b", "c"}},
		{Name: "n", Type: decoder.TypeString, Optional: true},
	}}
	row := []decoder.Value{
		set(decoder.Value{Int: 1}),
		set(decoder.Value{Int: 1}),
		set(decoder.Value{Int: -32768}),
		set(decoder.Value{Int: 2147483647}),
		set(decoder.Value{Float: 1.5}),
		set(decoder.Value{Float: 0.1}),
		set(decoder.Value{Bytes: []byte{0xfe, 0x1d, 0xc0}}),     // -123456 at scale 2: -1234.56
		set(decoder.Value{Bytes: []byte{0x30, 0x39}, Scale: 3}), // 12.345
		set(decoder.Value{Bytes: []byte("a \"quoted\"\n\ttab \\ é ✓ \x01")}),
		set(decoder.Value{Bytes: []byte{0, 1, 2, 0xff}}),
		set(decoder.Value{Bytes: []byte(`{"k": [1, 2]}`)}),
		set(decoder.Value{Bytes: []byte("123e4567-e89b-12d3-a456-426614174000")}),
		set(decoder.Value{Bytes: []byte("green")}),
		set(decoder.Value{Int: 19849}),
		set(decoder.Value{Int: 45296789}),
		set(decoder.Value{Int: 45296789012}),
		set(decoder.Value{Bytes: []byte("12:34:56.789Z")}),
		set(decoder.Value{Int: 1715000000123}),
		set(decoder.Value{Int: 1715000000123456}),
		set(decoder.Value{Bytes: []byte("2024-05-06T13:33:20.123456Z")}),
		set(decoder.Value{Int: 90061000001}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Bytes: []byte("x")}), {}}}),
		set(decoder.Value{Bytes: []byte{0x05, 0x02}}),
		set(decoder.Value{Int: 2024}),
		set(decoder.Value{Bytes: []byte("a,c")}),
		{},
	}
	return t, row
}

func newEncoder(t testing.TB, settings map[string]string) *Encoder {
	t.Helper()
	o, err := ParseSettings(settings)
	if err != nil {
		t.Fatal(err)
	}
	o.Now = func() time.Time { return fixedNow }
	e, err := NewEncoder(format.Config{TopicPrefix: "cdc", Source: postgres.SourceBlock, Database: "shop"}, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// golden compares got, indented, with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if got == nil {
		got = []byte("null")
	}
	if !stdjson.Valid(got) {
		t.Fatalf("%s: not JSON: %s", name, got)
	}
	var buf bytes.Buffer
	if err := stdjson.Indent(&buf, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from the golden file:\n%s", name, buf.Bytes())
	}
}

func TestGolden(t *testing.T) {
	ctx := context.Background()
	tab, row := everyType()
	before := make([]decoder.Value, len(row)) // a key-only before row: the rest NULL
	before[0] = row[0]
	src := postgres.NewSourceInfo(fixedNow.Add(-time.Second), decoder.SnapshotFalse, 771, 0x16B3748)
	tx := &format.TransactionBlock{ID: "771:23803720", TotalOrder: 2, DataCollectionOrder: 1}
	for _, mode := range []struct {
		name     string
		settings map[string]string
	}{
		{"schemas", nil},
		{"noschemas", map[string]string{SettingKeySchemas: "false", SettingValueSchemas: "false"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEncoder(t, mode.settings)
			cases := []struct {
				name string
				rec  transform.Record
				tx   *format.TransactionBlock
			}{
				{"insert", transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab, After: row, Source: src}}, nil},
				{"update_tx", transform.Record{Change: &decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: before, After: row, Source: src}}, tx},
				{"delete", transform.Record{Change: &decoder.Change{Op: decoder.OpDelete, Table: tab, Before: before, Source: src}}, nil},
				{"tombstone", transform.Record{Change: &decoder.Change{Op: decoder.OpDelete, Table: tab, Before: before, Source: src},
					Tombstone: transform.TombstoneOnly}, nil},
				{"flat", transform.Record{Change: &decoder.Change{Op: decoder.OpUpdate, Table: tab, After: row, Source: src},
					Shape: transform.ShapeFlat, Fields: transform.FieldOp | transform.FieldDeleted}, nil},
			}
			for _, c := range cases {
				topic, key, value, err := e.EncodeRecordInTransaction(ctx, &c.rec, c.tx)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if topic != "cdc.public.every" {
					t.Errorf("%s: topic %q", c.name, topic)
				}
				if c.name == "tombstone" && value != nil {
					t.Errorf("tombstone: value %s, want nil", value)
				}
				golden(t, mode.name+"_"+c.name+"_key.json", key)
				golden(t, mode.name+"_"+c.name+"_value.json", value)
			}
			for _, ev := range []*format.TransactionEvent{
				{Status: format.TransactionBegin, ID: "771:23803720", Time: fixedNow},
				{Status: format.TransactionEnd, ID: "771:23803720", EventCount: 2, Time: fixedNow,
					DataCollections: []format.DataCollectionCount{{DataCollection: "public.every", EventCount: 2}}},
			} {
				topic, key, value, err := e.EncodeTransactionEvent(ctx, ev)
				if err != nil || topic != "cdc.transaction" {
					t.Fatalf("%s: %q %v", ev.Status, topic, err)
				}
				golden(t, mode.name+"_tx_"+string(ev.Status)+"_key.json", key)
				golden(t, mode.name+"_tx_"+string(ev.Status)+"_value.json", value)
			}
		})
	}
}

// TestValues decodes the payload of an insert with encoding/json and checks each value is the
// logical value the avro format writes, and each field's schema its Connect type and name.
func TestValues(t *testing.T) {
	tab, row := everyType()
	e := newEncoder(t, map[string]string{SettingDecimalFormat: "NUMERIC"})
	_, _, value, err := e.EncodeRecord(context.Background(), &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab, After: row,
		Source: postgres.NewSourceInfo(fixedNow, decoder.SnapshotFalse, 1, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Schema struct {
			Fields []struct {
				Field  string `json:"field"`
				Fields []struct {
					Type, Name, Field string
					Optional          bool
				} `json:"fields"`
			} `json:"fields"`
		} `json:"schema"`
		Payload struct {
			After map[string]any `json:"after"`
		} `json:"payload"`
	}
	dec := stdjson.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&msg); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"id": "1", "b": "true", "i16": "-32768", "i32": "2147483647", "f32": "1.5", "f64": "0.1",
		"dec": "-1234.56", "s": "a \"quoted\"\n\ttab \\ é ✓ \x01", "by": "AAEC/w==", "j": `{"k": [1, 2]}`,
		"u": "123e4567-e89b-12d3-a456-426614174000", "e": "green", "d": "19849", "tms": "45296789",
		"tus": "45296789012", "tz": "12:34:56.789Z", "tsms": "1715000000123", "tsus": "1715000000123456",
		"tstz": "2024-05-06T13:33:20.123456Z", "iv": "90061000001", "bits": "BQI=", "y": "2024", "es": "a,c",
		"n": "<nil>", "vdec": "map[scale:3 value:MDk=]", "arr": "[x <nil>]",
	}
	for k, w := range want {
		if got := fmtAny(msg.Payload.After[k]); got != w {
			t.Errorf("after.%s = %s, want %s", k, got, w)
		}
	}
	types := map[string]string{}
	for _, f := range msg.Schema.Fields {
		if f.Field == "after" {
			for _, c := range f.Fields {
				types[c.Field] = c.Type + " " + c.Name
			}
		}
	}
	for k, w := range map[string]string{"i16": "int16 ", "dec": "bytes org.apache.kafka.connect.data.Decimal",
		"d": "int32 io.debezium.time.Date", "tsus": "int64 io.debezium.time.MicroTimestamp",
		"tstz": "string io.debezium.time.ZonedTimestamp", "vdec": "struct io.debezium.data.VariableScaleDecimal",
		"arr": "array ", "bits": "bytes io.debezium.data.Bits", "f32": "float ", "iv": "int64 io.debezium.time.MicroDuration"} {
		if types[k] != w {
			t.Errorf("schema of %s: %q, want %q", k, types[k], w)
		}
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case stdjson.Number:
		return x.String()
	case map[string]any:
		return "map[scale:" + fmtAny(x["scale"]) + " value:" + fmtAny(x["value"]) + "]"
	case []any:
		s := "["
		for i, e := range x {
			if i > 0 {
				s += " "
			}
			s += fmtAny(e)
		}
		return s + "]"
	}
	return "?"
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	e := newEncoder(t, nil)
	tab := &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true}, {Name: "n", Type: decoder.TypeInt64},
	}}
	_, _, _, err := e.EncodeRecord(ctx, &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab,
		After: []decoder.Value{set(decoder.Value{Int: 1}), {}}}})
	if !errors.Is(err, format.ErrValue) || !format.IsPoison(err) {
		t.Errorf("NULL in a NOT NULL column: %v, want a value error", err)
	}
	_, _, _, err = e.EncodeRecord(ctx, &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab,
		After: []decoder.Value{set(decoder.Value{Int: 1 << 40}), set(decoder.Value{})}}})
	if !errors.Is(err, format.ErrValue) {
		t.Errorf("int32 overflow: %v", err)
	}
	bad := &decoder.Table{Namespace: "public", Name: "bad", Columns: []decoder.Column{{Name: "x", Type: decoder.TypeInvalid}}}
	_, _, _, err = e.EncodeRecord(ctx, &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: bad,
		After: []decoder.Value{set(decoder.Value{})}}})
	if !errors.Is(err, format.ErrSchema) || format.IsPoison(err) {
		t.Errorf("unknown type: %v, want a schema error", err)
	}
	if _, err := ParseSettings(map[string]string{"schemas.enable": "true"}); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown setting: %v", err)
	}
	if _, err := ParseSettings(map[string]string{SettingDecimalFormat: "hex"}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad decimal.format: %v", err)
	}
}

// TestUnchangedAndNumeric checks an unchanged TOASTed value is the placeholder (base64 for
// bytes), and numeric decimals of every sign and size.
func TestUnchangedAndNumeric(t *testing.T) {
	tab := &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{
		{Name: "s", Type: decoder.TypeString, Optional: true}, {Name: "b", Type: decoder.TypeBytes, Optional: true},
	}}
	e := newEncoder(t, map[string]string{SettingValueSchemas: "false"})
	_, _, v, err := e.EncodeRecord(context.Background(), &transform.Record{Shape: transform.ShapeFlat, Change: &decoder.Change{
		Op: decoder.OpUpdate, Table: tab, After: []decoder.Value{{State: decoder.ValueUnchanged}, {State: decoder.ValueUnchanged}}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"s":"__debezium_unavailable_value","b":"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="}`; string(v) != want {
		t.Errorf("unchanged: %s, want %s", v, want)
	}
	for _, c := range []struct {
		b     []byte
		scale int
		want  string
	}{{nil, 2, "0.00"}, {[]byte{0x01}, 3, "0.001"}, {[]byte{0xff}, 0, "-1"}, {[]byte{0x00, 0x80}, 1, "12.8"},
		{[]byte{0x80}, 2, "-1.28"}, {[]byte{0x30, 0x39}, 2, "123.45"}} {
		if got := string(appendNumeric(nil, c.b, c.scale)); got != c.want {
			t.Errorf("numeric %x scale %d = %s, want %s", c.b, c.scale, got, c.want)
		}
	}
}

// BenchmarkEncodeValue encodes the same update of a 10-column table as format/avro's
// BenchmarkEncodeValue, with schemas (Connect's default) and without.
func BenchmarkEncodeValue(b *testing.B) {
	tab := &decoder.Table{Namespace: "public", Name: "orders", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true},
		{Name: "customer", Type: decoder.TypeInt32},
		{Name: "status", Type: decoder.TypeString, Optional: true},
		{Name: "total", Type: decoder.TypeDecimal, Precision: 12, Scale: 2},
		{Name: "paid", Type: decoder.TypeBool},
		{Name: "created", Type: decoder.TypeTimestampMicros},
		{Name: "updated", Type: decoder.TypeZonedTimestamp, Optional: true},
		{Name: "weight", Type: decoder.TypeFloat64, Optional: true},
		{Name: "note", Type: decoder.TypeString, Optional: true},
		{Name: "ref", Type: decoder.TypeUUID, Optional: true},
	}}
	row := []decoder.Value{
		set(decoder.Value{Int: 123456}), set(decoder.Value{Int: 42}), set(decoder.Value{Bytes: []byte("shipped")}),
		set(decoder.Value{Bytes: []byte{0x01, 0xe2, 0x40}}), set(decoder.Value{Int: 1}),
		set(decoder.Value{Int: 1_700_000_000_123_456}), set(decoder.Value{Bytes: []byte("2023-11-14T22:13:20.123456Z")}),
		set(decoder.Value{Float: 12.5}), {}, set(decoder.Value{Bytes: []byte("123e4567-e89b-12d3-a456-426614174000")}),
	}
	for _, mode := range []struct {
		name     string
		settings map[string]string
	}{{"schemas", nil}, {"noschemas", map[string]string{SettingKeySchemas: "false", SettingValueSchemas: "false"}}} {
		b.Run(mode.name, func(b *testing.B) {
			e := newEncoder(b, mode.settings)
			rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: row, After: row,
				Source: postgres.NewSourceInfo(fixedNow, decoder.SnapshotFalse, 1, 1)}}
			ctx := context.Background()
			if _, _, _, err := e.EncodeRecord(ctx, rec); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, _, _, err := e.EncodeRecord(ctx, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestConcurrentTables encodes changes of several tables from several goroutines at once, the
// first change of each building its codec: under -race, the codec cache must hold.
func TestConcurrentTables(t *testing.T) {
	e := newEncoder(t, nil)
	tabs := make([]*decoder.Table, 4)
	for i := range tabs {
		tabs[i] = &decoder.Table{Namespace: "public", Name: string(rune('a' + i)), Columns: []decoder.Column{
			{Name: "id", Type: decoder.TypeInt32, Key: true}}}
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 50 {
				tab := tabs[(g+i)%len(tabs)]
				_, _, v, encErr := e.EncodeRecord(context.Background(), &transform.Record{Change: &decoder.Change{
					Op: decoder.OpCreate, Table: tab, After: []decoder.Value{set(decoder.Value{Int: int64(i)})}}})
				if encErr != nil || !stdjson.Valid(v) {
					err = errors.Join(encErr, errors.New("invalid JSON"))
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestTopicClash checks two tables whose names sanitise to one topic are refused, as the avro
// format refuses them, unless a route sends them there.
func TestTopicClash(t *testing.T) {
	e := newEncoder(t, nil)
	rec := func(name, topic string) *transform.Record {
		return &transform.Record{Topic: topic, Change: &decoder.Change{Op: decoder.OpCreate,
			Table: &decoder.Table{Namespace: "public", Name: name, Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt32}}},
			After: []decoder.Value{set(decoder.Value{Int: 1})}}}
	}
	ctx := context.Background()
	if _, _, _, err := e.EncodeRecord(ctx, rec("a b", "")); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := e.EncodeRecord(ctx, rec("a_b", ""))
	if !errors.Is(err, format.ErrSchema) {
		t.Errorf("second table on topic cdc.public.a_b: %v, want a schema error", err)
	}
	if _, _, _, err := e.EncodeRecord(ctx, rec("c", "merged")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.EncodeRecord(ctx, rec("d", "merged")); err != nil {
		t.Errorf("routed tables sharing a topic: %v", err)
	}
}
