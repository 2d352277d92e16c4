package schemaregistry

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func TestDecoderShowsWhatTheEncoderWrote(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	enc := newTestEncoder(t, reg)
	table := &decoder.Table{Namespace: "public", Name: "items", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "price", Type: decoder.TypeDecimal, Precision: 10, Scale: 2, Optional: true},
		{Name: "tags", Type: decoder.TypeArray, Optional: true, Elem: &decoder.Column{Type: decoder.TypeString, Optional: true}},
		{Name: "blob", Type: decoder.TypeBytes, Optional: true},
	}}
	after := []decoder.Value{
		set(decoder.Value{Int: 7}),
		set(decoder.Value{Bytes: []byte{0x04, 0xd2}}), // 1234 at scale 2
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Bytes: []byte("a")}), {}}}),
		set(decoder.Value{Bytes: []byte{1, 2}}),
	}
	_, key, value, err := enc.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: table, After: after})
	if err != nil {
		t.Fatal(err)
	}
	dec := NewDecoder(reg)
	gotKey, err := dec.DecodeJSON(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	gotValue, err := dec.DecodeJSON(ctx, value)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := json.Marshal(gotKey)
	if string(k) != `{"id":7}` {
		t.Errorf("key = %s", k)
	}
	row, _ := json.Marshal(gotValue.(map[string]any)["after"])
	if string(row) != `{"blob":"AQI=","id":7,"price":"12.34","tags":["a",null]}` {
		t.Errorf("after = %s", row)
	}
	if op := gotValue.(map[string]any)["op"]; op != "c" {
		t.Errorf("op = %v", op)
	}
	if v, err := dec.DecodeJSON(ctx, nil); v != nil || err != nil {
		t.Errorf("tombstone = %v, %v; want nil, nil", v, err)
	}
	if _, err := dec.DecodeJSON(ctx, []byte("{}")); !errors.Is(err, ErrNotWireFormat) {
		t.Errorf("plain JSON: err = %v, want ErrNotWireFormat", err)
	}
}
