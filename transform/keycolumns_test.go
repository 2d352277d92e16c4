package transform

import (
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func TestKeyColumns(t *testing.T) {
	k, err := ParseKeyColumns(`inventory.customers:email, region ; (.*)\.orders:customer_id`)
	if err != nil {
		t.Fatal(err)
	}
	customers := &decoder.Table{Namespace: "inventory", Name: "customers", Version: 1, Columns: []decoder.Column{
		{Name: "id", Key: true}, {Name: "email"}, {Name: "region"}}}
	orders := &decoder.Table{Namespace: "shop", Name: "orders", Version: 1, Columns: []decoder.Column{
		{Name: "id", Key: true}, {Name: "customer_id"}}}
	other := &decoder.Table{Namespace: "shop", Name: "orders_old", Columns: []decoder.Column{{Name: "id", Key: true}}}
	row := []decoder.Value{{State: decoder.ValueSet, Int: 1}, {State: decoder.ValueSet, Bytes: []byte("a@b")}, {State: decoder.ValueSet}}

	c := &decoder.Change{Op: decoder.OpCreate, Table: customers, After: row}
	out, err := k.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, col := range out.Table.Columns {
		if col.Key {
			keys = append(keys, col.Name)
		}
	}
	if len(keys) != 2 || keys[0] != "email" || keys[1] != "region" {
		t.Errorf("key columns %v, want email, region", keys)
	}
	if !customers.Columns[0].Key || customers.Columns[1].Key {
		t.Errorf("the source table was changed: %+v", customers.Columns)
	}
	if &out.After[0] != &row[0] || out.Table.Name != "customers" || out.Table.Version != 1 {
		t.Errorf("the rows or the table's identity changed")
	}
	// The same table gives the same derived table: the encoders cache per *Table.
	again, _ := k.Apply(&decoder.Change{Op: decoder.OpDelete, Table: customers, Before: row})
	if again.Table != out.Table {
		t.Errorf("a second change of the table has another derived table")
	}
	if o, _ := k.Apply(&decoder.Change{Op: decoder.OpCreate, Table: orders}); !o.Table.Columns[1].Key || o.Table.Columns[0].Key {
		t.Errorf("orders keys %+v", o.Table.Columns)
	}
	// The table regex is matched whole.
	if o, _ := k.Apply(&decoder.Change{Op: decoder.OpCreate, Table: other}); o.Table != other {
		t.Errorf("orders_old matched")
	}
	// A column the table lacks.
	k2, _ := ParseKeyColumns(`shop.orders:nope`)
	if _, err := k2.Apply(&decoder.Change{Op: decoder.OpCreate, Table: orders}); !errors.Is(err, ErrNoKeyColumn) {
		t.Errorf("missing column: %v", err)
	}
}

func TestParseKeyColumnsRejects(t *testing.T) {
	for _, spec := range []string{"inventory.customers", "inventory.customers:", ":a", "inv(.customers:a"} {
		if _, err := ParseKeyColumns(spec); err == nil {
			t.Errorf("%q accepted", spec)
		}
	}
	if k, err := ParseKeyColumns(" ; "); k != nil || err != nil {
		t.Errorf("empty: %v %v", k, err)
	}
}
