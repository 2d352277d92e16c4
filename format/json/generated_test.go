package json

import (
	"context"
	stdjson "encoding/json"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/transform"
)

// TestSchemaMarksGeneratedColumns: a generated column's Connect schema carries the generated
// parameter beside the parameters its type has (a decimal's scale), the others none.
func TestSchemaMarksGeneratedColumns(t *testing.T) {
	tab := &decoder.Table{Namespace: "public", Name: "g", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "total", Type: decoder.TypeDecimal, Precision: 10, Scale: 2, Optional: true, Generated: true},
		{Name: "label", Type: decoder.TypeString, Generated: true},
	}}
	e := newEncoder(t, nil)
	after := []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Bytes: []byte{0x7b}}), set(decoder.Value{Bytes: []byte("x")})}
	rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: tab, After: after}}
	_, _, value, err := e.EncodeRecord(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Schema struct {
			Fields []struct {
				Field  string `json:"field"`
				Fields []struct {
					Field      string            `json:"field"`
					Parameters map[string]string `json:"parameters"`
				} `json:"fields"`
			} `json:"fields"`
		} `json:"schema"`
	}
	if err := stdjson.Unmarshal(value, &v); err != nil {
		t.Fatalf("%v: %s", err, value)
	}
	checked := 0
	for _, f := range v.Schema.Fields {
		if f.Field != "after" {
			continue
		}
		for _, c := range f.Fields {
			checked++
			got := c.Parameters[decoder.GeneratedParameter]
			if want := c.Field != "id"; want != (got == decoder.GeneratedStored) {
				t.Errorf("column %s: parameters %v", c.Field, c.Parameters)
			}
			if c.Field == "total" && c.Parameters["scale"] != "2" {
				t.Errorf("total lost its scale: %v", c.Parameters)
			}
		}
	}
	if checked != 3 {
		t.Fatalf("%d columns in the after schema, want 3: %s", checked, value)
	}
}
