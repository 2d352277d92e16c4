package avro

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
)

var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func newTestEncoder(t testing.TB, reg Registry, opts ...Option) *Encoder {
	t.Helper()
	base := []Option{WithTopicPrefix("cdc"), WithRegistry(reg), WithSource(postgres.SourceBlock), WithDatabase("shop"), WithVersion("test-1"),
		WithClock(func() time.Time { return fixedNow })}
	e, err := NewEncoder(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// decodeWire checks the wire header against the registry and decodes the Avro body.
func decodeWire(t *testing.T, reg *fakeRegistry, subject string, msg []byte) map[string]any {
	t.Helper()
	if len(msg) < 5 || msg[0] != 0 {
		t.Fatalf("no wire header in % x", msg)
	}
	id := int(binary.BigEndian.Uint32(msg[1:5]))
	var text string
	for _, s := range reg.subjects[subject] {
		if s.ID == id {
			text = s.Schema
		}
	}
	if text == "" {
		t.Fatalf("schema id %d not registered under %s", id, subject)
	}
	schema, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := avro.Unmarshal(schema, msg[5:], &out); err != nil {
		t.Fatalf("hamba cannot decode our bytes: %v", err)
	}
	return out
}

// unwrap returns a union's value: hamba decodes a named or array branch as {name: value}.
func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, inner := range m {
			if k == "array" || k == "map" || strings.Contains(k, ".") {
				return inner
			}
		}
	}
	return v
}

func TestEncodeRoundTripAllTypes(t *testing.T) {
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	tab := allTypesTable()
	commit := fixedNow.Add(-time.Second)
	ch := &decoder.Change{Op: decoder.OpCreate, Table: tab, After: allTypesRow(),
		Source: postgres.NewSourceInfo(commit, decoder.SnapshotLast, 777, 0x16B3748)}
	topic, key, value, err := e.Encode(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	if topic != "cdc.public.all_types" {
		t.Errorf("topic %q", topic)
	}
	k := decodeWire(t, reg, "cdc.public.all_types-key", key)
	if !reflect.DeepEqual(k, map[string]any{"id": 42}) {
		t.Errorf("key %v", k)
	}
	v := decodeWire(t, reg, "cdc.public.all_types-value", value)
	after, ok := unwrap(v["after"]).(map[string]any)
	if !ok {
		t.Fatalf("after is %T", v["after"])
	}
	want := map[string]any{
		"id": 42, "flag": true, "small": -7, "big": int64(1 << 40), "real_col": float32(1.5), "dbl": -2.25,
		"price":     big.NewRat(12345, 100),
		"amount":    map[string]any{"scale": 3, "value": []byte{0xff, 0x85}},
		"amount2":   map[string]any{"scale": 0, "value": []byte{0x01}},
		"name":      "héllo",
		"blob":      []byte{0, 1, 2, 255},
		"doc":       `{"a":1}`,
		"uid":       "123e4567-e89b-12d3-a456-426614174000",
		"mood":      "happy",
		"day":       19000,
		"t_ms":      3_600_123,
		"t_us":      int64(3_600_123_456),
		"t_tz":      "10:00:00+02:00",
		"ts_ms":     int64(1_700_000_000_123),
		"ts_us":     int64(1_700_000_000_123_456),
		"ts_tz":     "2023-11-14T22:13:20.123456Z",
		"span":      int64(86_400_000_000),
		"tags":      []any{"a", nil, "c"},
		"nums":      []any{1, -2},
		"_nd_col":   "x",
		"flags":     []byte{0x03, 0x0a},
		"yr":        2024,
		"perms":     "r,x",
		"xdoc":      "<a/>",
		"path":      "a.b",
		"geom":      map[string]any{"wkb": []byte{1, 1, 0, 0, 0}, "srid": 4326},
		"geom2":     map[string]any{"wkb": []byte{1, 2, 0, 0, 0}, "srid": nil},
		"geog":      map[string]any{"wkb": []byte{0, 0, 0, 0, 1}, "srid": 4326},
		"embedding": []any{float32(1.5), float32(-2)},
		"dvec":      []any{0.1, -2.0},
		"svec": map[string]any{"dimensions": 5, "vector": []any{map[string]any{"key": 1, "value": 1.5},
			map[string]any{"key": 3, "value": -0.1}}},
		"custom": "(1,2)",
		"vbits":  []byte{5},
		"hmap":   map[string]any{"a": "1", "b": nil},
	}
	for _, c := range tab.Columns {
		name := sanitizeName(c.Name)
		got := unwrap(after[name])
		if r, ok := got.(*big.Rat); ok {
			if r.Cmp(want[name].(*big.Rat)) != 0 {
				t.Errorf("%s (%s): got %v, want %v", name, c.SourceType, r, want[name])
			}
			continue
		}
		if !reflect.DeepEqual(got, want[name]) {
			t.Errorf("%s (%s): got %#v, want %#v", name, c.SourceType, got, want[name])
		}
	}
	if len(after) != len(want) {
		t.Errorf("after has %d fields, want %d", len(after), len(want))
	}
	if v["before"] != nil || v["transaction"] != nil || v["op"] != "c" {
		t.Errorf("envelope before=%v transaction=%v op=%v", v["before"], v["transaction"], v["op"])
	}
	if v["ts_ms"] != fixedNow.UnixMilli() || v["ts_us"] != fixedNow.UnixMicro() || v["ts_ns"] != fixedNow.UnixNano() {
		t.Errorf("envelope times %v %v %v", v["ts_ms"], v["ts_us"], v["ts_ns"])
	}
	wantSrc := map[string]any{
		"version": "test-1", "connector": "postgresql", "name": "cdc", "ts_ms": commit.UnixMilli(),
		"snapshot": "last", "db": "shop", "sequence": nil, "ts_us": commit.UnixMicro(), "ts_ns": commit.UnixNano(),
		"schema": "public", "table": "all_types", "txId": int64(777), "lsn": int64(0x16B3748), "xmin": nil,
	}
	if !reflect.DeepEqual(v["source"], wantSrc) {
		t.Errorf("source\n got %#v\nwant %#v", v["source"], wantSrc)
	}
}

func TestEncodeMySQLSource(t *testing.T) {
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg, WithSource(mysql.SourceBlock), WithConnectorName("inventory"))
	tab := &decoder.Table{Namespace: "shop", Name: "items", Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt64, Key: true}}}
	commit := time.UnixMilli(1_700_000_000_000)
	ch := &decoder.Change{Op: decoder.OpDelete, Table: tab, Before: []decoder.Value{set(decoder.Value{Int: 9})},
		Source: mysql.NewSourceInfo(commit, decoder.SnapshotFalse, "binlog.000003", 7758, "0-1-42", 1, 2)}
	topic, key, value, err := e.Encode(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	if topic != "cdc.shop.items" {
		t.Errorf("topic %q", topic)
	}
	if k := decodeWire(t, reg, "cdc.shop.items-key", key); k["id"] != int64(9) {
		t.Errorf("key %v (delete keys come from before)", k)
	}
	v := decodeWire(t, reg, "cdc.shop.items-value", value)
	wantSrc := map[string]any{
		"version": "test-1", "connector": "mysql", "name": "inventory", "ts_ms": commit.UnixMilli(),
		"snapshot": "false", "db": "shop", "sequence": nil, "ts_us": commit.UnixMicro(), "ts_ns": commit.UnixNano(),
		"table": "items", "server_id": int64(1), "gtid": "0-1-42", "file": "binlog.000003", "pos": int64(7758),
		"row": 2, "thread": nil, "query": nil,
	}
	if !reflect.DeepEqual(v["source"], wantSrc) {
		t.Errorf("source\n got %#v\nwant %#v", v["source"], wantSrc)
	}
	if v["after"] != nil || v["op"] != "d" {
		t.Errorf("after %v op %v", v["after"], v["op"])
	}
	before := unwrap(v["before"]).(map[string]any)
	if before["id"] != int64(9) {
		t.Errorf("before %v", before)
	}
}

func TestEncodeTruncate(t *testing.T) {
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	tab := allTypesTable()
	_, key, value, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpTruncate, Table: tab})
	if err != nil {
		t.Fatal(err)
	}
	if key != nil {
		t.Errorf("truncate key % x, want nil", key)
	}
	v := decodeWire(t, reg, "cdc.public.all_types-value", value)
	if v["before"] != nil || v["after"] != nil || v["op"] != "t" {
		t.Errorf("truncate envelope %v", v)
	}
}

func TestEncodeUnchangedPlaceholder(t *testing.T) {
	tab := &decoder.Table{Namespace: "public", Name: "docs", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "body", Type: decoder.TypeString, Optional: true},
		{Name: "raw", Type: decoder.TypeBytes},
		{Name: "meta", Type: decoder.TypeJSON, Optional: true},
		{Name: "tags", Type: decoder.TypeArray, Optional: true, Elem: &decoder.Column{Type: decoder.TypeString, Optional: true}},
		{Name: "labels", Type: decoder.TypeArray, Elem: &decoder.Column{Type: decoder.TypeString}},
		{Name: "perms", Type: decoder.TypeEnumSet, EnumValues: []string{"r", "w"}, Optional: true},
	}}
	unchanged := decoder.Value{State: decoder.ValueUnchanged}
	row := []decoder.Value{set(decoder.Value{Int: 1}), unchanged, unchanged, unchanged, unchanged, unchanged, unchanged}
	for _, ph := range []string{"", "__custom"} {
		reg := newFakeRegistry()
		var opts []Option
		want := DefaultPlaceholder
		if ph != "" {
			opts = append(opts, WithPlaceholder(ph))
			want = ph
		}
		e := newTestEncoder(t, reg, opts...)
		_, _, value, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpUpdate, Table: tab, After: row})
		if err != nil {
			t.Fatal(err)
		}
		after := unwrap(decodeWire(t, reg, "cdc.public.docs-value", value)["after"]).(map[string]any)
		if after["body"] != want || after["meta"] != want || after["perms"] != want ||
			!reflect.DeepEqual(after["raw"], []byte(want)) {
			t.Errorf("placeholder %q: got %#v", want, after)
		}
		if !reflect.DeepEqual(unwrap(after["tags"]), []any{want}) || !reflect.DeepEqual(after["labels"], []any{want}) {
			t.Errorf("array placeholder: got %#v %#v", after["tags"], after["labels"])
		}
	}
}

func TestEncodeValueErrors(t *testing.T) {
	tab := &decoder.Table{Namespace: "public", Name: "items", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true, SourceType: "int4"},
		{Name: "qty", Type: decoder.TypeInt16, SourceType: "int2"},
		{Name: "nums", Type: decoder.TypeArray, Optional: true, SourceType: "_int4", Elem: &decoder.Column{Type: decoder.TypeInt32}},
		{Name: "flags", Type: decoder.TypeBits, Precision: 12, Optional: true, SourceType: "bit(12)"},
		{Name: "yr", Type: decoder.TypeYear, Optional: true, SourceType: "year"},
	}}
	ok := []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Int: 2}), {}, {}, {}}
	for _, tc := range []struct {
		name   string
		row    []decoder.Value
		column string
		want   error
	}{
		{"unchanged int", []decoder.Value{ok[0], {State: decoder.ValueUnchanged}, {}}, "qty", ErrUnavailableValue},
		{"unchanged int array", []decoder.Value{ok[0], ok[1], {State: decoder.ValueUnchanged}}, "nums", ErrUnavailableValue},
		{"null required", []decoder.Value{ok[0], {}, {}}, "qty", ErrNullValue},
		{"missing required", []decoder.Value{ok[0]}, "qty", ErrNullValue},
		{"int16 overflow", []decoder.Value{ok[0], set(decoder.Value{Int: 40000}), {}}, "qty", ErrBadValue},
		{"null element", []decoder.Value{ok[0], ok[1], set(decoder.Value{Elems: []decoder.Value{{}}})}, "nums", ErrNullValue},
		// A Bits value must have the bytes of its length: a reader sizes the bit set from them.
		{"bits too short", []decoder.Value{ok[0], ok[1], {}, set(decoder.Value{Bytes: []byte{1}})}, "flags", ErrBadValue},
		{"bits too long", []decoder.Value{ok[0], ok[1], {}, set(decoder.Value{Bytes: []byte{1, 2, 3}})}, "flags", ErrBadValue},
		{"unchanged bits", []decoder.Value{ok[0], ok[1], {}, {State: decoder.ValueUnchanged}}, "flags", ErrUnavailableValue},
		{"year overflow", []decoder.Value{ok[0], ok[1], {}, {}, set(decoder.Value{Int: 1 << 40})}, "yr", ErrBadValue},
		{"too long", append(append([]decoder.Value{}, ok...), ok[0]), "", ErrBadValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEncoder(t, newFakeRegistry())
			_, _, _, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpCreate, Table: tab, After: tc.row})
			var ee *EncodeError
			if !errors.As(err, &ee) || !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want an *EncodeError wrapping %v", err, tc.want)
			}
			if ee.Column != tc.column || ee.Table != "public.items" {
				t.Errorf("error names %s.%q, want public.items.%q: %v", ee.Table, ee.Column, tc.column, err)
			}
		})
	}
}

func TestEncodeBeforeWithKeyOnly(t *testing.T) {
	// REPLICA IDENTITY DEFAULT: a delete's before has the key only; the other required
	// columns get their default or else their zero value (the epoch for a timestamp with
	// zone), as Debezium's JdbcValueConverters fill them.
	tab := &decoder.Table{Namespace: "public", Name: "items", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "qty", Type: decoder.TypeInt64},
		{Name: "label", Type: decoder.TypeString},
		{Name: "price", Type: decoder.TypeDecimal, Precision: 5, Scale: 2},
		{Name: "note", Type: decoder.TypeString, Optional: true},
		{Name: "flags", Type: decoder.TypeBits, Precision: 12},
		{Name: "yr", Type: decoder.TypeYear},
		{Name: "perms", Type: decoder.TypeEnumSet, EnumValues: []string{"r", "w"}},
		{Name: "at", Type: decoder.TypeZonedTimestamp},
		{Name: "tz", Type: decoder.TypeZonedTime},
		{Name: "rank", Type: decoder.TypeInt32, Default: &decoder.Value{State: decoder.ValueSet, Int: 7}},
	}}
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	_, _, value, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpDelete, Table: tab,
		Before: []decoder.Value{set(decoder.Value{Int: 5})}})
	if err != nil {
		t.Fatal(err)
	}
	before := unwrap(decodeWire(t, reg, "cdc.public.items-value", value)["before"]).(map[string]any)
	if before["id"] != 5 || before["qty"] != int64(0) || before["label"] != "" || before["note"] != nil ||
		!reflect.DeepEqual(before["flags"], []byte{0, 0}) || before["yr"] != 0 || before["perms"] != "" ||
		before["at"] != "1970-01-01T00:00:00Z" || before["tz"] != "00:00:00Z" || before["rank"] != 7 {
		t.Errorf("before %#v", before)
	}
	if r, ok := before["price"].(*big.Rat); !ok || r.Sign() != 0 {
		t.Errorf("price %#v, want 0", before["price"])
	}
}

func TestAppendLong(t *testing.T) {
	for _, tc := range []struct {
		v    int64
		want []byte
	}{{0, []byte{0}}, {-1, []byte{1}}, {1, []byte{2}}, {-64, []byte{0x7f}}, {64, []byte{0x80, 1}},
		{math.MaxInt64, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1}}} {
		if got := appendLong(nil, tc.v); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("appendLong(%d) = % x, want % x", tc.v, got, tc.want)
		}
	}
}

// FuzzEncodeRow builds rows of allTypesTable from fuzz input: encoding never panics, and what
// it accepts hamba decodes against the schema.
func FuzzEncodeRow(f *testing.F) {
	f.Add([]byte{1, 2, 3}, int64(5), 1.5)
	f.Add([]byte{}, int64(-1), 0.0)
	f.Add([]byte{0xff, 0x00, 0x80}, int64(1<<40), 1e300)
	tab := allTypesTable()
	schemas, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}, tab)
	if err != nil {
		f.Fatal(err)
	}
	plan, err := newRowPlan(tab, DefaultPlaceholder, format.Modes{}, func(*decoder.Column) bool { return true })
	if err != nil {
		f.Fatal(err)
	}
	row := rowRecord(schemas.Value)
	f.Fuzz(func(t *testing.T, data []byte, n int64, x float64) {
		vals := make([]decoder.Value, len(tab.Columns))
		for i := range vals {
			var sel byte
			if len(data) > 0 {
				sel = data[i%len(data)]
			}
			vals[i] = decoder.Value{State: decoder.ValueState(sel % 4), Int: n >> (sel % 64), Float: x,
				Bytes: data, Scale: int32(sel), Elems: []decoder.Value{{State: decoder.ValueState(sel % 3), Bytes: data, Int: n}}}
		}
		out, err := plan.appendRow(nil, vals, nullPolicy(n&1))
		if err != nil {
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("error is not an *EncodeError: %v", err)
			}
			return
		}
		var got map[string]any
		if err := avro.Unmarshal(row, out, &got); err != nil {
			t.Fatalf("accepted row does not decode: %v", err)
		}
	})
}
