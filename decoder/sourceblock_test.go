package decoder

import (
	"errors"
	"testing"
)

// TestSourceBlockCheck checks that a malformed kind description is refused before any change
// is encoded with it.
func TestSourceBlockCheck(t *testing.T) {
	id := func(*SourceInfo) string { return "" }
	valid := func() *SourceBlock {
		return &SourceBlock{Connector: "k", DB: SourceNamespace, TransactionID: id, Fields: []SourceField{
			{Name: "a", Type: SourceFieldLong, Value: SourceSlotInt, Slot: SourceIntSlots - 1},
			{Name: "b", Type: SourceFieldString, Value: SourceSlotStr, Slot: SourceStrSlots - 1},
			{Name: "c", Type: SourceFieldString, Value: SourceTableName},
			{Name: "d", Type: SourceFieldLong, Optional: true, Value: SourceNull},
		}}
	}
	if err := valid().Check(); err != nil {
		t.Fatalf("valid block: %v", err)
	}
	for name, edit := range map[string]func(*SourceBlock){
		"no connector":       func(b *SourceBlock) { b.Connector = "" },
		"no db":              func(b *SourceBlock) { b.DB = SourceSlotInt },
		"no transaction id":  func(b *SourceBlock) { b.TransactionID = nil },
		"int slot too far":   func(b *SourceBlock) { b.Fields[0].Slot = SourceIntSlots },
		"str slot too far":   func(b *SourceBlock) { b.Fields[1].Slot = SourceStrSlots },
		"string in int slot": func(b *SourceBlock) { b.Fields[0].Type = SourceFieldString },
		"table name as long": func(b *SourceBlock) { b.Fields[2].Type = SourceFieldLong },
		"required null":      func(b *SourceBlock) { b.Fields[3].Optional = false },
		"no name":            func(b *SourceBlock) { b.Fields[0].Name = "" },
		"no value":           func(b *SourceBlock) { b.Fields[0].Value = 0 },
	} {
		b := valid()
		edit(b)
		if err := b.Check(); !errors.Is(err, ErrSourceBlock) {
			t.Errorf("%s: %v, want ErrSourceBlock", name, err)
		}
	}
	if err := (*SourceBlock)(nil).Check(); !errors.Is(err, ErrSourceBlock) {
		t.Errorf("nil block: %v", err)
	}
}
