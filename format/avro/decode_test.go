package avro

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
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

// TestDecoderShowsMySQLTypes runs bit(n), year and set from the MySQL decoder through the
// encoder and back: the values as Debezium's JSON converter shows Bits (base64 of the
// little-endian bytes), Year and EnumSet, and the semantic names in the registered schema.
func TestDecoderShowsMySQLTypes(t *testing.T) {
	ctx := context.Background()
	tab, err := decoder.NewMySQLTable("shop", "perms", []decoder.MySQLColumnDef{
		{Name: "id", ColumnType: "int(11)", Key: true},
		{Name: "flags", ColumnType: "bit(12)", Nullable: true},
		{Name: "on", ColumnType: "bit(1)", Nullable: true},
		{Name: "yr", ColumnType: "year(4)", Nullable: true},
		{Name: "perms", ColumnType: "set('r','w','x')", Charset: "utf8mb4", Nullable: true},
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := decoder.NewMySQLRowDecoder(tab)
	if err != nil {
		t.Fatal(err)
	}
	after := make([]decoder.Value, len(tab.Columns))
	// go-mysql's binlog values: bit as an int, year as an int, set as its bitmap.
	if err := rows.Decode([]any{int32(7), int64(0xa03), int64(1), 2024, int64(5)}, after); err != nil {
		t.Fatal(err)
	}
	reg := newFakeRegistry()
	enc := newTestEncoder(t, reg, WithSource(mysql.SourceBlock))
	_, _, value, err := enc.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: tab, After: after})
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewDecoder(reg).DecodeJSON(ctx, value)
	if err != nil {
		t.Fatal(err)
	}
	row, _ := json.Marshal(got.(map[string]any)["after"])
	if want := `{"flags":"Awo=","id":7,"on":true,"perms":"r,x","yr":2024}`; string(row) != want {
		t.Errorf("after = %s, want %s", row, want)
	}
	schema := reg.subjects["cdc.shop.perms-value"][0].Schema
	for _, want := range []string{
		`"connect.parameters":{"length":"12"},"connect.name":"io.debezium.data.Bits"`,
		`"connect.name":"io.debezium.time.Year"`,
		`"connect.parameters":{"allowed":"r,w,x"},"connect.name":"io.debezium.data.EnumSet"`,
	} {
		if !strings.Contains(schema, want) {
			t.Errorf("value schema lacks %s", want)
		}
	}
}
