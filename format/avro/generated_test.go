package avro

import (
	"testing"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
)

// TestSchemaMarksGeneratedColumns: a generated column's field carries the generated property,
// the others none.
func TestSchemaMarksGeneratedColumns(t *testing.T) {
	tab := &decoder.Table{Namespace: "public", Name: "g", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "total", Type: decoder.TypeDecimal, Precision: 10, Scale: 2, Optional: true, Generated: true},
		{Name: "label", Type: decoder.TypeString, Generated: true},
	}}
	s, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}, tab)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rowRecord(s.Value).Fields() {
		got := f.Prop(decoder.GeneratedParameter)
		if want := f.Name() != "id"; want != (got == decoder.GeneratedStored) {
			t.Errorf("field %s: %s = %v", f.Name(), decoder.GeneratedParameter, got)
		}
	}
}
