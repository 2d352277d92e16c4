package decoder

import (
	"errors"
	"reflect"
	"testing"
)

// TestPGDecodeBinaryToArena decodes many rows into one RowArena: each row keeps the values
// DecodeBinary gives it, whatever the rows after it and their fields and scratch become, and the
// rows share the arena's blocks (a handful of allocations for a hundred rows, not one each).
func TestPGDecodeBinaryToArena(t *testing.T) {
	d, tbl, _ := textFixture(t)
	want := make([]Value, len(tbl.Columns))
	var scratch []byte
	if err := d.DecodeBinary(tbl, binaryFields(), want, &scratch); err != nil {
		t.Fatal(err)
	}
	const n = 100
	rows := make([][]Value, n)
	var arena RowArena
	fields := binaryFields()
	for i := range rows {
		rows[i] = make([]Value, len(tbl.Columns))
	}
	allocs := testing.AllocsPerRun(1, func() {
		for i := range rows {
			if err := d.DecodeBinaryTo(tbl, fields, rows[i], &scratch, &arena); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs > 2 {
		t.Errorf("decoding %d rows into an arena allocates %v times, want at most 2", n, allocs)
	}
	for _, f := range fields {
		clear(f)
	}
	clear(scratch[:cap(scratch)])
	for i, row := range rows {
		if !reflect.DeepEqual(row, want) {
			t.Fatalf("row %d = %+v after its fields, its scratch and the rows after it changed, want %+v", i, row, want)
		}
	}
	// A row larger than a block gets a block of its own; the values before it are untouched.
	big := binaryFields()
	big[2] = make([]byte, 3*rowArenaBlock)
	for i := range big[2] {
		big[2][i] = 'x'
	}
	large := make([]Value, len(tbl.Columns))
	if err := d.DecodeBinaryTo(tbl, big, large, &scratch, &arena); err != nil {
		t.Fatal(err)
	}
	if len(large[2].Bytes) != 3*rowArenaBlock || cap(large[2].Bytes) != len(large[2].Bytes) {
		t.Errorf("the large value has %d bytes (cap %d), want %d", len(large[2].Bytes), cap(large[2].Bytes), 3*rowArenaBlock)
	}
	if !reflect.DeepEqual(rows[n-1], want) {
		t.Errorf("the last row changed with a large row after it: %+v", rows[n-1])
	}
}

// TestPGBinaryRows checks the per-table decoder of a snapshot chunk: its rows are
// DecodeBinary's, a row of the wrong shape and a table not described are refused, and rows cost
// no allocation of their own.
func TestPGBinaryRows(t *testing.T) {
	d, tbl, _ := textFixture(t)
	want := make([]Value, len(tbl.Columns))
	var scratch []byte
	if err := d.DecodeBinary(tbl, binaryFields(), want, &scratch); err != nil {
		t.Fatal(err)
	}
	rows, err := d.BinaryRows(tbl)
	if err != nil {
		t.Fatal(err)
	}
	var arena RowArena
	got := make([]Value, len(tbl.Columns))
	got[0].Float = 99 // a reused row: what its column's plan does not write must not stay
	fields := binaryFields()
	allocs := testing.AllocsPerRun(100, func() {
		if err := rows.Decode(fields, got, &scratch, &arena); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.1 { // an arena block now and then
		t.Errorf("decoding a row allocates %v times, want none but the arena's blocks", allocs)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row = %+v, want DecodeBinary's %+v", got, want)
	}
	if err := rows.Decode(fields[:9], got[:9], &scratch, &arena); !errors.Is(err, ErrPGRowShape) {
		t.Errorf("9 fields: %v, want ErrPGRowShape", err)
	}
	if _, err := d.BinaryRows(&Table{ID: 1}); !errors.Is(err, ErrPGTableNotDescribed) {
		t.Errorf("a table not described: %v, want ErrPGTableNotDescribed", err)
	}
	if _, err := d.BinaryRows(nil); !errors.Is(err, ErrPGTableNotDescribed) {
		t.Errorf("a nil table: %v, want ErrPGTableNotDescribed", err)
	}
}
