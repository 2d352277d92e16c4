package json

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/transform"
)

// TestNewTypes checks the schema and payload of the types issue 18 maps: XML, ltree, PostGIS
// geometry and geography, pgvector, bit varying, and a column of an unmapped type.
func TestNewTypes(t *testing.T) {
	tab := &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "x", Type: decoder.TypeXML, Optional: true},
		{Name: "p", Type: decoder.TypeLtree, Optional: true},
		{Name: "g", Type: decoder.TypeGeometry, Optional: true},
		{Name: "gg", Type: decoder.TypeGeography},
		{Name: "v", Type: decoder.TypeFloatVector, Optional: true},
		{Name: "dv", Type: decoder.TypeDoubleVector},
		{Name: "sv", Type: decoder.TypeSparseVector, Optional: true},
		{Name: "c", Type: decoder.TypeString, SourceType: "my\"type", Unmapped: true, Optional: true},
		{Name: "vb", Type: decoder.TypeBits, Precision: 2147483647, Scale: 1, Optional: true},
		{Name: "hm", Type: decoder.TypeStringMap, Optional: true},
	}}
	set := func(v decoder.Value) decoder.Value { v.State = decoder.ValueSet; return v }
	row := []decoder.Value{
		set(decoder.Value{Int: 1}),
		set(decoder.Value{Bytes: []byte("<a/>")}),
		set(decoder.Value{Bytes: []byte("a.b")}),
		set(decoder.Value{Bytes: []byte{1, 2, 3}, Int: 4326, Scale: 1}),
		set(decoder.Value{Bytes: []byte{4}}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Float: 1.5}), set(decoder.Value{Float: -2})}}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Float: 0.1}), set(decoder.Value{Float: -2})}}),
		set(decoder.Value{Int: 5, Elems: []decoder.Value{set(decoder.Value{Int: 1, Float: 1.5}), set(decoder.Value{Int: 3, Float: -0.1})}}),
		set(decoder.Value{Bytes: []byte("(1,2)")}),
		set(decoder.Value{Bytes: []byte{5}}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Bytes: []byte("a\"")}), set(decoder.Value{Bytes: []byte("1")}),
			set(decoder.Value{Bytes: []byte("b")}), {}}}),
	}
	e := newEncoder(t, nil)
	_, _, value, err := e.EncodeRecord(context.Background(), &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab, After: row,
		Source: postgres.NewSourceInfo(fixedNow, decoder.SnapshotFalse, 1, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Payload struct {
			After map[string]stdjson.RawMessage `json:"after"`
		} `json:"payload"`
	}
	if err := stdjson.Unmarshal(value, &msg); err != nil {
		t.Fatalf("%v: %s", err, value)
	}
	want := map[string]string{
		"x": `"<a/>"`, "p": `"a.b"`, "g": `{"wkb":"AQID","srid":4326}`, "gg": `{"wkb":"BA==","srid":null}`,
		"v": `[1.5,-2]`, "dv": `[0.1,-2]`, "sv": `{"dimensions":5,"vector":[[1,1.5],[3,-0.1]]}`, "c": `"(1,2)"`, "vb": `"BQ=="`, "hm": `{"a\"":"1","b":null}`,
	}
	for k, w := range want {
		if got := string(msg.Payload.After[k]); got != w {
			t.Errorf("after.%s = %s, want %s", k, got, w)
		}
	}
	for _, schema := range []string{
		`{"type":"string","optional":true,"name":"io.debezium.data.Xml","version":1,"field":"x"}`,
		`{"type":"string","optional":true,"name":"io.debezium.data.Ltree","version":1,"field":"p"}`,
		`{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":true,"name":"io.debezium.data.geometry.Geometry","version":1,"doc":"Geometry","field":"g"}`,
		`"optional":false,"name":"io.debezium.data.geometry.Geography","version":1,"doc":"Geography","field":"gg"}`,
		`{"type":"array","items":{"type":"float","optional":false},"optional":true,"name":"io.debezium.data.FloatVector","version":1,"field":"v"}`,
		`{"type":"array","items":{"type":"double","optional":false},"optional":false,"name":"io.debezium.data.DoubleVector","version":1,"field":"dv"}`,
		`{"type":"struct","fields":[{"type":"int16","optional":false,"field":"dimensions"},{"type":"map","keys":{"type":"int16","optional":false},"values":{"type":"double","optional":false},"optional":false,"field":"vector"}],"optional":true,"name":"io.debezium.data.SparseVector","version":1,"field":"sv"}`,
		`{"type":"string","optional":true,"parameters":{"__debezium.source.column.type":"my\"type"},"field":"c"}`,
		`{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"string","optional":true},"optional":true,"field":"hm"}`,
	} {
		if !bytes.Contains(value, []byte(schema)) {
			t.Errorf("schema lacks %s", schema)
		}
	}
	if !stdjson.Valid(value) {
		t.Errorf("not JSON: %s", value)
	}
	// A fixed-length Bits value must have its length; a varying one may be shorter.
	tab2 := &decoder.Table{Namespace: "public", Name: "b", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true}, {Name: "b", Type: decoder.TypeBits, Precision: 16},
	}}
	_, _, _, err = e.EncodeRecord(context.Background(), &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab2,
		After: []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Bytes: []byte{1}})}}})
	if err == nil {
		t.Error("a bit(16) value of 1 byte was accepted")
	}
}
