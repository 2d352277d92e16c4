package avro

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

// TestLastCodecFollowsTheTable: records alternating between tables, and a table's new version
// between records of its old one, each get their own table's topic and schema ids, whatever
// the codec of the record before (Encoder.last).
func TestLastCodecFollowsTheTable(t *testing.T) {
	ctx := context.Background()
	e := newTestEncoder(t, newFakeRegistry())
	items1, items2 := itemsTable(1, decoder.TypeInt32), itemsTable(2, decoder.TypeInt64)
	orders := &decoder.Table{Namespace: "public", Name: "orders", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "price", Type: decoder.TypeInt32},
	}}
	type seen struct {
		topic        string
		keyID, valID uint32
	}
	first := map[*decoder.Table]seen{}
	for i, tab := range []*decoder.Table{items1, orders, items1, items1, orders, items2, items1, items2, orders} {
		topic, key, value, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: tab, After: itemsRow(set(decoder.Value{Int: 3}))})
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		got := seen{topic, binary.BigEndian.Uint32(key[1:5]), binary.BigEndian.Uint32(value[1:5])}
		if want, ok := first[tab]; ok && got != want {
			t.Fatalf("record %d of %s v%d: %+v, the table's first record had %+v", i, tab.Name, tab.Version, got, want)
		}
		first[tab] = got
	}
	if first[items1].topic != "cdc.public.items" || first[orders].topic != "cdc.public.orders" {
		t.Fatalf("topics %+v", first)
	}
	if first[items1].valID == first[items2].valID || first[items1].valID == first[orders].valID {
		t.Fatalf("value schema ids %+v: each table version has its own", first)
	}
}
