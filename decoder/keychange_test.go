package decoder

import "testing"

func TestSplitKeyChange(t *testing.T) {
	table := &Table{Namespace: "public", Name: "items", Columns: []Column{
		{Name: "id", Type: TypeInt32, Key: true},
		{Name: "name", Type: TypeString, Optional: true},
	}}
	row := func(id int64, name string) []Value {
		return []Value{{State: ValueSet, Int: id}, {State: ValueSet, Bytes: []byte(name)}}
	}
	for _, tc := range []struct {
		name  string
		c     Change
		split bool
	}{
		{"key changed", Change{Op: OpUpdate, Table: table, Before: row(1, "a"), After: row(2, "a")}, true},
		{"key kept, other column changed", Change{Op: OpUpdate, Table: table, Before: row(1, "a"), After: row(1, "b")}, false},
		{"no old row sent", Change{Op: OpUpdate, Table: table, After: row(2, "a")}, false},
		{"insert", Change{Op: OpCreate, Table: table, After: row(2, "a")}, false},
		{"delete", Change{Op: OpDelete, Table: table, Before: row(2, "a")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			del, create, split := SplitKeyChange(&tc.c)
			if split != tc.split {
				t.Fatalf("split = %v, want %v", split, tc.split)
			}
			if !split {
				return
			}
			if del.Op != OpDelete || del.After != nil || del.Before[0].Int != 1 {
				t.Errorf("delete = %+v, want op d with the old row and no after", del)
			}
			if create.Op != OpCreate || create.Before != nil || create.After[0].Int != 2 {
				t.Errorf("create = %+v, want op c with the new row and no before", create)
			}
			if tc.c.Op != OpUpdate {
				t.Errorf("the original change was modified")
			}
		})
	}
}
