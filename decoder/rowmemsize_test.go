package decoder

import (
	"testing"
	"unsafe"
)

func TestRowMemSize(t *testing.T) {
	v := int(unsafe.Sizeof(Value{}))
	row := []Value{
		{State: ValueNull},
		{Bytes: make([]byte, 1000)},
		{Elems: []Value{{Bytes: []byte("ab")}, {Int: 1}}},
	}
	want := 3*v + 1000 + 2*v + 2
	if got := RowMemSize(row); got != want {
		t.Errorf("RowMemSize = %d, want %d", got, want)
	}
	if got := RowMemSize(nil); got != 0 {
		t.Errorf("RowMemSize(nil) = %d, want 0", got)
	}
	// A Change's size is its struct plus its rows'.
	ch := &Change{After: row}
	if got := ch.MemSize() - int(unsafe.Sizeof(*ch)); got != want {
		t.Errorf("MemSize - struct = %d, want RowMemSize %d", got, want)
	}
}
