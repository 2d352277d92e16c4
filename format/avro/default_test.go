package avro

import (
	"context"
	"math/big"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
)

func dflt(v decoder.Value) *decoder.Value { v.State = decoder.ValueSet; return &v }

// defaultsTable is items with a column of each common type that has a constant default.
func defaultsTable() *decoder.Table {
	return &decoder.Table{Namespace: "public", Name: "items", Version: 2, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "n", Type: decoder.TypeInt32, Default: dflt(decoder.Value{Int: 5})},
		{Name: "big", Type: decoder.TypeInt64, Default: dflt(decoder.Value{Int: -9000000000})},
		{Name: "label", Type: decoder.TypeString, Default: dflt(decoder.Value{Bytes: []byte("it's")})},
		{Name: "ok", Type: decoder.TypeBool, Default: dflt(decoder.Value{Int: 1})},
		// 12.50 at scale 2: unscaled 1250 = 0x04e2; 0xe2 is a code point above 127.
		{Name: "price", Type: decoder.TypeDecimal, Precision: 10, Scale: 2, Default: dflt(decoder.Value{Bytes: []byte{0x04, 0xe2}})},
		{Name: "num", Type: decoder.TypeVariableDecimal, Default: dflt(decoder.Value{Bytes: []byte{0xff}, Scale: 1})},
		{Name: "day", Type: decoder.TypeDate, Default: dflt(decoder.Value{Int: 18262})},
		{Name: "at", Type: decoder.TypeTimestampMicros, Default: dflt(decoder.Value{Int: 1577836800000000})},
		{Name: "note", Type: decoder.TypeString, Optional: true, Default: dflt(decoder.Value{Bytes: []byte("none")})},
		{Name: "tags", Type: decoder.TypeArray, Elem: &decoder.Column{Type: decoder.TypeString, Optional: true},
			Default: dflt(decoder.Value{})},
		{Name: "ratio", Type: decoder.TypeFloat64, Default: dflt(decoder.Value{Float: 0.5})},
	}}
}

func TestSchemaCarriesDefaults(t *testing.T) {
	s, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}, defaultsTable())
	if err != nil {
		t.Fatal(err)
	}
	row := rowRecord(s.Value)
	want := map[string]any{
		"n": 5, "big": int64(-9000000000), "label": "it's", "ok": true, "price": []byte{0x04, 0xe2},
		"day": 18262, "at": int64(1577836800000000), "note": "none", "ratio": 0.5,
	}
	for _, f := range row.Fields() {
		if f.Name() == "id" {
			if f.HasDefault() {
				t.Errorf("id has a default")
			}
			continue
		}
		if !f.HasDefault() {
			t.Errorf("field %s has no default", f.Name())
			continue
		}
		switch f.Name() {
		case "num":
			m := f.Default().(map[string]any)
			if m["scale"] != 1 || string(m["value"].([]byte)) != "\xff" {
				t.Errorf("num default %#v", m)
			}
		case "tags":
			if a, ok := f.Default().([]any); !ok || len(a) != 0 {
				t.Errorf("tags default %#v", f.Default())
			}
		case "price":
			if string(f.Default().([]byte)) != string(want["price"].([]byte)) {
				t.Errorf("price default %#v", f.Default())
			}
		default:
			if f.Default() != want[f.Name()] {
				t.Errorf("field %s default %#v (%T), want %#v", f.Name(), f.Default(), f.Default(), want[f.Name()])
			}
		}
	}
	// An optional field with a default has the type first in its union, as AvroConverter writes it.
	for _, f := range row.Fields() {
		if f.Name() == "note" {
			if u := f.Type().(*avro.UnionSchema); u.Types()[0].Type() != avro.String {
				t.Errorf("note union %s, want string first", u)
			}
		}
	}

	// The table before the columns were added: adding them is BACKWARD compatible.
	old := &decoder.Table{Namespace: "public", Name: "items", Version: 1, Columns: defaultsTable().Columns[:1]}
	os, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}, old)
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []Compatibility{CompatBackward, CompatFull, CompatFullTransitive} {
		if err := CheckCompatible(level, s.Value, []avro.Schema{os.Value}); err != nil {
			t.Errorf("%s: adding columns with defaults: %v", level, err)
		}
	}
}

func TestEncodeOptionalWithDefault(t *testing.T) {
	tab := defaultsTable()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	after := make([]decoder.Value, len(tab.Columns))
	for i, c := range tab.Columns {
		if c.Default != nil {
			after[i] = *c.Default
		}
	}
	after[0] = set(decoder.Value{Int: 1})
	for _, note := range []decoder.Value{{}, set(decoder.Value{Bytes: []byte("x")})} {
		after[9] = note
		_, _, value, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpCreate, Table: tab, After: after})
		if err != nil {
			t.Fatal(err)
		}
		got := unwrap(decodeWire(t, reg, "cdc.public.items-value", value)["after"]).(map[string]any)
		wantNote := any(nil)
		if note.State == decoder.ValueSet {
			wantNote = "x"
		}
		if got["note"] != wantNote || got["n"] != 5 || got["label"] != "it's" {
			t.Errorf("after %#v", got)
		}
		if r, ok := got["price"].(*big.Rat); !ok || r.FloatString(2) != "12.50" {
			t.Errorf("price %#v", got["price"])
		}
	}
}

// Upgrading from schemas without defaults: the first schema with them (fields gaining a
// default, a nullable field's union reordered) is compatible with the old one at every level,
// key and value, so the connector goes on.
func TestSchemaWithDefaultsCompatibleWithOneWithout(t *testing.T) {
	with := defaultsTable()
	with.Columns[0].Default = dflt(decoder.Value{Int: 1}) // a key column's default
	without := defaultsTable()
	for i := range without.Columns {
		without.Columns[i].Default = nil
	}
	n := Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}
	a, err := DeriveSchemas(n, without)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DeriveSchemas(n, with)
	if err != nil {
		t.Fatal(err)
	}
	// FULL_TRANSITIVE checks both directions: it covers every other level.
	if err := CheckCompatible("FULL_TRANSITIVE", b.Value, []avro.Schema{a.Value}); err != nil {
		t.Errorf("value: %v", err)
	}
	if err := CheckCompatible("FULL_TRANSITIVE", b.Key, []avro.Schema{a.Key}); err != nil {
		t.Errorf("key: %v", err)
	}
}
