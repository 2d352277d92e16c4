package snapshot

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

// orders is the table of most tests: key id, then a name and a count.
var orders = &decoder.Table{ID: 10, Namespace: "public", Name: "orders", Version: 1, Columns: []decoder.Column{
	{Name: "id", Type: decoder.TypeInt64, SourceTypeID: 20, Key: true},
	{Name: "name", Type: decoder.TypeString, SourceTypeID: 25, Optional: true},
	{Name: "n", Type: decoder.TypeInt32, SourceTypeID: 23, Optional: true},
}}

func setInt(v int64) decoder.Value { return decoder.Value{State: decoder.ValueSet, Int: v} }

func setStr(s string) decoder.Value { return decoder.Value{State: decoder.ValueSet, Bytes: []byte(s)} }

// order returns a full row of orders.
func order(id int64, name string) []decoder.Value {
	return []decoder.Value{setInt(id), setStr(name), setInt(id * 10)}
}

// keyOnly returns the before image PostgreSQL sends with the default replica identity: the key
// set, the other columns NULL.
func keyOnly(id int64) []decoder.Value {
	return []decoder.Value{setInt(id), {}, {}}
}

// chunk returns a window over the orders with the ids given.
func chunk(ids ...int64) *Window {
	rows := make([][]decoder.Value, len(ids))
	for i, id := range ids {
		rows[i] = order(id, fmt.Sprint("o", id))
	}
	return NewWindow("w1", orders, []int{0}, rows)
}

// ids returns the ids of the rows left in w, in order.
func ids(w *Window) []int64 {
	var out []int64
	for _, r := range w.Rows() {
		out = append(out, r[0].Int)
	}
	return out
}

func TestWindowObserve(t *testing.T) {
	tests := []struct {
		name    string
		changes []decoder.Change
		want    []int64
	}{
		{"nothing streamed", nil, []int64{1, 2, 3, 4}},
		{"update of a key in the chunk", []decoder.Change{
			{Op: decoder.OpUpdate, Table: orders, After: order(2, "new")},
		}, []int64{1, 3, 4}},
		{"update with a full before image", []decoder.Change{
			{Op: decoder.OpUpdate, Table: orders, Before: order(3, "o3"), After: order(3, "new")},
		}, []int64{1, 2, 4}},
		{"delete with only the key in the before image", []decoder.Change{
			{Op: decoder.OpDelete, Table: orders, Before: keyOnly(4)},
		}, []int64{1, 2, 3}},
		{"key change drops the old and the new key", []decoder.Change{
			{Op: decoder.OpUpdate, Table: orders, Before: keyOnly(1), After: order(3, "moved")},
		}, []int64{2, 4}},
		{"key change from outside the chunk drops the new key", []decoder.Change{
			{Op: decoder.OpUpdate, Table: orders, Before: keyOnly(99), After: order(2, "moved")},
		}, []int64{1, 3, 4}},
		{"insert of a key outside the chunk", []decoder.Change{
			{Op: decoder.OpCreate, Table: orders, After: order(5, "x")},
			{Op: decoder.OpCreate, Table: orders, After: order(0, "y")},
		}, []int64{1, 2, 3, 4}},
		{"insert of a key in the chunk (deleted and inserted again)", []decoder.Change{
			{Op: decoder.OpCreate, Table: orders, After: order(1, "again")},
		}, []int64{2, 3, 4}},
		{"the same key twice", []decoder.Change{
			{Op: decoder.OpUpdate, Table: orders, After: order(2, "a")},
			{Op: decoder.OpDelete, Table: orders, Before: keyOnly(2)},
		}, []int64{1, 3, 4}},
		{"same value in another column is not the key", []decoder.Change{
			// n of order 1 is 10; no row has key 10.
			{Op: decoder.OpUpdate, Table: orders, After: []decoder.Value{setInt(10), setStr("o1"), setInt(1)}},
		}, []int64{1, 2, 3, 4}},
		{"truncate empties the chunk", []decoder.Change{
			{Op: decoder.OpTruncate, Table: orders},
		}, nil},
		{"key NULL in the before image is matched through the after image", []decoder.Change{
			{Op: decoder.OpUpdate, Table: orders, Before: []decoder.Value{{}, {}, {}}, After: order(3, "z")},
		}, []int64{1, 2, 4}},
		{"key unchanged in the after image is matched through the before image", []decoder.Change{
			{Op: decoder.OpUpdate, Table: orders, Before: keyOnly(2),
				After: []decoder.Value{{State: decoder.ValueUnchanged}, setStr("z"), {}}},
		}, []int64{1, 3, 4}},
		{"images shorter than the key are ignored", []decoder.Change{
			{Op: decoder.OpUpdate, Table: orders, Before: []decoder.Value{}, After: nil},
		}, []int64{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := chunk(1, 2, 3, 4)
			for i := range tt.changes {
				w.Observe(&tt.changes[i])
			}
			if !w.Valid() {
				t.Fatal("window invalid after changes of the same table shape")
			}
			if got := ids(w); !slices.Equal(got, tt.want) {
				t.Errorf("rows left %v, want %v", got, tt.want)
			}
			if got, want := w.Dropped(), 4-len(tt.want); got != want {
				t.Errorf("Dropped() = %d, want %d", got, want)
			}
		})
	}
}

func TestWindowRowsKeepReadOrderAndValues(t *testing.T) {
	w := chunk(7, 3, 5)
	w.Observe(&decoder.Change{Op: decoder.OpDelete, Table: orders, Before: keyOnly(3)})
	rows := w.Rows()
	if len(rows) != 2 || rows[0][0].Int != 7 || rows[1][0].Int != 5 || string(rows[1][1].Bytes) != "o5" {
		t.Errorf("rows = %+v, want 7 then 5 as read", rows)
	}
}

func TestWindowShapeChangeInvalidates(t *testing.T) {
	// A new description of the same table with the same columns (another *Table, a higher
	// Version) still lines up: the stream and the snapshot build their own.
	same := *orders
	same.Version = 2
	same.ID = 11
	w := chunk(1, 2)
	w.Observe(&decoder.Change{Op: decoder.OpUpdate, Table: &same, After: order(1, "x")})
	if !w.Valid() || !slices.Equal(ids(w), []int64{2}) {
		t.Fatalf("same shape: valid %t, rows %v", w.Valid(), ids(w))
	}

	change := func(f func(*decoder.Table)) *decoder.Table {
		t := *orders
		t.Columns = slices.Clone(orders.Columns)
		f(&t)
		return &t
	}
	for name, tbl := range map[string]*decoder.Table{
		"column added": change(func(t *decoder.Table) {
			t.Columns = append(t.Columns, decoder.Column{Name: "extra", Type: decoder.TypeString})
		}),
		"column dropped":    change(func(t *decoder.Table) { t.Columns = t.Columns[:2] }),
		"column renamed":    change(func(t *decoder.Table) { t.Columns[1].Name = "title" }),
		"type changed":      change(func(t *decoder.Table) { t.Columns[2].Type = decoder.TypeInt64 }),
		"source type":       change(func(t *decoder.Table) { t.Columns[2].SourceTypeID = 20 }),
		"scale changed":     change(func(t *decoder.Table) { t.Columns[2].Scale = 2 }),
		"no table at all":   nil,
		"columns reordered": change(func(t *decoder.Table) { t.Columns[1], t.Columns[2] = t.Columns[2], t.Columns[1] }),
	} {
		w := chunk(1, 2)
		// A change of a key outside the chunk: the shape alone decides.
		w.Observe(&decoder.Change{Op: decoder.OpCreate, Table: tbl, After: []decoder.Value{setInt(50), {}, {}, {}}})
		if w.Valid() {
			t.Errorf("%s: window still valid", name)
		}
		// Once invalid, later changes change nothing and do not panic.
		w.Observe(&decoder.Change{Op: decoder.OpDelete, Table: orders, Before: keyOnly(1)})
		w.Observe(nil)
		if w.Valid() {
			t.Errorf("%s: window valid again", name)
		}
	}
}

func TestWindowCompositeKey(t *testing.T) {
	// Key (region, id) at columns 2 and 0: the key's order, not the table's.
	tbl := &decoder.Table{Namespace: "s", Name: "t", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "v", Type: decoder.TypeString},
		{Name: "region", Type: decoder.TypeString, Key: true},
	}}
	row := func(id int64, region string) []decoder.Value {
		return []decoder.Value{setInt(id), setStr("v"), setStr(region)}
	}
	w := NewWindow("c", tbl, []int{2, 0}, [][]decoder.Value{row(1, "eu"), row(1, "us"), row(2, "eu")})
	w.Observe(&decoder.Change{Op: decoder.OpUpdate, Table: tbl, After: row(2, "us")})                           // not in the chunk
	w.Observe(&decoder.Change{Op: decoder.OpUpdate, Table: tbl, After: row(1, "us")})                           // in it
	w.Observe(&decoder.Change{Op: decoder.OpDelete, Table: tbl, Before: []decoder.Value{{}, {}, setStr("eu")}}) // half a key
	rows := w.Rows()
	if len(rows) != 2 || string(rows[0][2].Bytes) != "eu" || rows[0][0].Int != 1 || rows[1][0].Int != 2 {
		t.Errorf("rows left %+v, want (eu,1) and (eu,2)", rows)
	}
	if w.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want 1", w.Dropped())
	}
}

func TestWindowCovers(t *testing.T) {
	w := chunk(1)
	for _, tt := range []struct {
		t    *decoder.Table
		want bool
	}{
		{orders, true},
		{&decoder.Table{Namespace: "public", Name: "orders"}, true},
		{&decoder.Table{Namespace: "other", Name: "orders"}, false},
		{&decoder.Table{Namespace: "public", Name: "Orders"}, false},
		{nil, false},
	} {
		if got := w.Covers(tt.t); got != tt.want {
			t.Errorf("Covers(%+v) = %t, want %t", tt.t, got, tt.want)
		}
	}
	// The empty window of a table that cannot be read covers nothing, and its rows are none.
	empty := NewWindow("e", nil, nil, nil)
	if empty.Covers(orders) || len(empty.Rows()) != 0 || empty.Dropped() != 0 || !empty.Valid() {
		t.Errorf("empty window: covers %t, rows %d, dropped %d, valid %t",
			empty.Covers(orders), len(empty.Rows()), empty.Dropped(), empty.Valid())
	}
}

func TestAppendKeyDistinguishes(t *testing.T) {
	key := func(vs ...decoder.Value) []byte { return AppendKey(nil, vs, seq(len(vs))) }
	pairs := []struct {
		name string
		a, b []byte
	}{
		{`("ab","c") and ("a","bc")`, key(setStr("ab"), setStr("c")), key(setStr("a"), setStr("bc"))},
		{`("", "x") and ("x", "")`, key(setStr(""), setStr("x")), key(setStr("x"), setStr(""))},
		{`int 1 and string "1"`, key(setInt(1)), key(setStr("1"))},
		{`int 1 and string "\x01"`, key(setInt(1)), key(setStr("\x01"))},
		{`int 0 and NULL`, key(setInt(0)), key(decoder.Value{})},
		{`NULL and unchanged`, key(decoder.Value{}), key(decoder.Value{State: decoder.ValueUnchanged})},
		{`empty string and NULL`, key(setStr("")), key(decoder.Value{})},
		{`int 1 and 2`, key(setInt(1)), key(setInt(2))},
		{`decimal scale 1 and 2`, key(decoder.Value{State: decoder.ValueSet, Bytes: []byte{10}, Scale: 1}),
			key(decoder.Value{State: decoder.ValueSet, Bytes: []byte{10}, Scale: 2})},
		{`array [1,2] and [1],[2]`, key(decoder.Value{State: decoder.ValueSet, Elems: []decoder.Value{setInt(1), setInt(2)}}),
			key(decoder.Value{State: decoder.ValueSet, Elems: []decoder.Value{setInt(1)}}, decoder.Value{State: decoder.ValueSet, Elems: []decoder.Value{setInt(2)}})},
	}
	for _, p := range pairs {
		if bytes.Equal(p.a, p.b) {
			t.Errorf("%s encode equally: %x", p.name, p.a)
		}
	}
	// Equal values encode equally, whatever buffer holds their bytes, and AppendKey appends.
	a := AppendKey([]byte("prefix"), []decoder.Value{setStr("k"), setInt(3)}, []int{1, 0})
	b := AppendKey([]byte("prefix"), []decoder.Value{{State: decoder.ValueSet, Bytes: append(make([]byte, 0, 8), 'k')}, setInt(3)}, []int{1, 0})
	if !bytes.Equal(a, b) || !bytes.HasPrefix(a, []byte("prefix")) {
		t.Errorf("equal keys: %x and %x", a, b)
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestWindowObserveDoesNotAllocate checks the hot path: every streamed change of the table
// goes through Observe while a chunk is open, and most match no row of it.
func TestWindowObserveDoesNotAllocate(t *testing.T) {
	w := chunk(1, 2, 3, 4)
	miss := &decoder.Change{Op: decoder.OpUpdate, Table: orders, Before: keyOnly(100), After: order(100, "a long enough name")}
	w.Observe(miss) // grows the key buffer once
	if n := testing.AllocsPerRun(100, func() { w.Observe(miss) }); n != 0 {
		t.Errorf("Observe of a change outside the chunk allocates %.1f times", n)
	}
	if len(w.Rows()) != 4 {
		t.Errorf("rows left %d, want 4", len(w.Rows()))
	}
}

func BenchmarkWindowObserveMiss(b *testing.B) {
	rows := make([][]decoder.Value, 1024)
	for i := range rows {
		rows[i] = order(int64(i), "name")
	}
	w := NewWindow("b", orders, []int{0}, rows)
	miss := &decoder.Change{Op: decoder.OpUpdate, Table: orders, Before: keyOnly(5000), After: order(5000, "x")}
	b.ReportAllocs()
	for b.Loop() {
		w.Observe(miss)
	}
}
