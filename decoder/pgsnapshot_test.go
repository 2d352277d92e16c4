package decoder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// fixtureRelation is one Relation message of the fixture, as DescribeTable's caller would see
// the relation in the catalog, with the Table the stream built from it.
type fixtureRelation struct {
	id        uint32
	ns, name  string
	cols      []PGColumnInfo
	streamTbl *Table
}

// fixtureRows replays the fixture and returns its relations (the last description of each)
// and the raw text fields of the first all_types insert with the values Decode gave them.
func fixtureRows(t testing.TB) (map[string]fixtureRelation, *fakeCatalog, [][]byte, []Value) {
	t.Helper()
	msgs, cat := loadFixture(t)
	d := NewPGDecoder(cat)
	rels := map[string]fixtureRelation{}
	var fields [][]byte
	var after []Value
	for _, raw := range msgs {
		orig := bytes.Clone(raw) // Decode rewrites raw
		m, err := d.Decode(context.Background(), raw)
		if err != nil {
			continue // the fixture's two special values; TestPGFixtureReplay counts them
		}
		r := pgReader{buf: orig, off: 1, kind: orig[0]}
		if m.XID != 0 && m.Kind != PGBegin {
			r.off += 4
		}
		switch {
		case m.Kind == PGRelation:
			fr := fixtureRelation{streamTbl: m.Table}
			fr.id, fr.ns, fr.name, fr.cols = parseRelationColumns(t, &r)
			rels[fr.name] = fr
		case m.Kind == PGChange && m.Change.Op == OpCreate && m.Change.Table.Name == "all_types" && fields == nil:
			r.off += 4 + 1 // relation id, 'N'
			fields = parseTupleTexts(t, &r)
			after = m.Change.After
		}
	}
	if rels["all_types"].streamTbl == nil || fields == nil {
		t.Fatal("the fixture has no all_types relation or insert")
	}
	return rels, cat, fields, after
}

func parseRelationColumns(t testing.TB, r *pgReader) (uint32, string, string, []PGColumnInfo) {
	t.Helper()
	id, _ := r.u32()
	ns, _ := r.cstring()
	name, _ := r.cstring()
	_, _ = r.u8()
	n, err := r.u16()
	if err != nil {
		t.Fatalf("relation message: %v", err)
	}
	cols := make([]PGColumnInfo, n)
	for i := range cols {
		_, _ = r.u8() // flags: the catalog has none
		cols[i].Name, _ = r.cstring()
		cols[i].TypeOID, _ = r.u32()
		mod, err := r.u32()
		if err != nil {
			t.Fatalf("relation message column %d: %v", i, err)
		}
		cols[i].TypeMod = int32(mod)
	}
	return id, ns, name, cols
}

// parseTupleTexts returns a TupleData's fields as the snapshot's text rows hold them.
func parseTupleTexts(t testing.TB, r *pgReader) [][]byte {
	t.Helper()
	n, _ := r.u16()
	fields := make([][]byte, n)
	for i := range fields {
		tag, err := r.u8()
		if err != nil {
			t.Fatalf("tuple column %d: %v", i, err)
		}
		if tag == 'n' {
			continue
		}
		if tag != 't' {
			t.Fatalf("tuple column %d has kind %q, want t or n", i, tag)
		}
		size, _ := r.u32()
		b, err := r.bytes(size)
		if err != nil {
			t.Fatalf("tuple column %d: %v", i, err)
		}
		fields[i] = bytes.Clone(b)
	}
	return fields
}

func cloneFields(fields [][]byte) [][]byte {
	out := make([][]byte, len(fields))
	for i, f := range fields {
		if f != nil {
			out[i] = bytes.Clone(f)
		}
	}
	return out
}

func TestPGDescribeTableMatchesRelation(t *testing.T) {
	rels, cat, _, _ := fixtureRows(t)
	d := NewPGDecoder(cat)
	for name, fr := range rels {
		tbl, err := d.DescribeTable(context.Background(), fr.id, fr.ns, fr.name, fr.cols)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// sameTable compares every column field, keys and Optional included, and elements.
		if !sameTable(tbl, fr.streamTbl) || tbl.Version != 1 {
			t.Errorf("%s: DescribeTable differs from the Relation message (version %d, %d columns, want %d)",
				name, tbl.Version, len(tbl.Columns), len(fr.streamTbl.Columns))
			for i := range min(len(tbl.Columns), len(fr.streamTbl.Columns)) {
				if !sameColumn(tbl.Columns[i], fr.streamTbl.Columns[i]) {
					t.Errorf("%s: column %d = %+v, want %+v", name, i, tbl.Columns[i], fr.streamTbl.Columns[i])
				}
			}
		}
		if len(tbl.Columns) == 0 || !tbl.Columns[0].Key || tbl.Columns[0].Optional {
			t.Errorf("%s: first column %+v, want the non-optional primary key", name, tbl.Columns[0])
		}
	}
	if len(rels) < 3 {
		t.Errorf("%d relations in the fixture, want all_types, specials and bulk", len(rels))
	}
	// The stream's relation cache is untouched: rows of a described relation are unknown to Decode.
	ins := newMsg('I').u32(rels["all_types"].id).u8('N').u16(0).bytes()
	if _, err := d.Decode(context.Background(), ins); !errors.Is(err, ErrPGUnknownRelation) {
		t.Errorf("Decode after DescribeTable: err = %v, want ErrPGUnknownRelation", err)
	}
}

func TestPGDescribeTableVersions(t *testing.T) {
	cat := testCatalog()
	d := NewPGDecoder(cat)
	cols := []PGColumnInfo{{"id", oidInt4, -1}, {"name", oidText, -1}}
	ctx := context.Background()
	t1, err := d.DescribeTable(ctx, testRelID, "public", "t", cols)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := d.DescribeTable(ctx, testRelID, "public", "t", cols)
	if err != nil || t2 != t1 {
		t.Fatalf("describing an unchanged relation again gave %p (err %v), want the same %p", t2, err, t1)
	}
	t3, err := d.DescribeTable(ctx, testRelID, "public", "t", append(cols, PGColumnInfo{"n", oidInt8, -1}))
	if err != nil || t3 == t1 || t3.Version != 2 || len(t3.Columns) != 3 {
		t.Fatalf("changed relation: %+v (err %v), want a new Table at version 2 with 3 columns", t3, err)
	}
	if err := d.DecodeText(t1, [][]byte{[]byte("1"), nil}, make([]Value, 2)); !errors.Is(err, ErrPGTableNotDescribed) {
		t.Errorf("DecodeText with a replaced Table: err = %v, want ErrPGTableNotDescribed", err)
	}
	dst := make([]Value, 3)
	if err := d.DecodeText(t3, [][]byte{[]byte("1"), []byte("x"), []byte("-9")}, dst); err != nil || dst[2].Int != -9 {
		t.Errorf("DecodeText with the new Table: %+v, %v", dst, err)
	}
}

func TestPGDescribeTableKeysAndErrors(t *testing.T) {
	ctx := context.Background()
	cols := []PGColumnInfo{{"id", oidInt4, -1}, {"name", oidText, -1}}

	// Without a primary key there are no replica identity flags to fall back on: no key.
	d := NewPGDecoder(&fakeCatalog{Relations: map[uint32]PGRelationInfo{testRelID: {NotNull: []string{"name"}}}})
	tbl, err := d.DescribeTable(ctx, testRelID, "public", "t", cols)
	if err != nil || tbl.Columns[0].Key || tbl.Columns[1].Key || !tbl.Columns[0].Optional || tbl.Columns[1].Optional {
		t.Errorf("table without a primary key: %+v, %v", tbl, err)
	}

	d = NewPGDecoder(&fakeCatalog{})
	if _, err := d.DescribeTable(ctx, testRelID, "public", "t", cols); err == nil {
		t.Error("a catalog failure must fail DescribeTable")
	}

	d = NewPGDecoder(testCatalog(), WithPGUnknownTypes(UnknownTypesFail))
	_, err = d.DescribeTable(ctx, testRelID, "public", "t", append(cols, PGColumnInfo{"geom", 30000, -1}))
	var ce *PGColumnError
	if !errors.Is(err, ErrPGUnknownType) || !errors.As(err, &ce) || ce.Column != "geom" {
		t.Errorf("unknown type: err = %v, want a *PGColumnError on geom with ErrPGUnknownType", err)
	}
}

func TestPGDecodeTextAllTypes(t *testing.T) {
	rels, cat, fields, after := fixtureRows(t)
	at := rels["all_types"]
	d := NewPGDecoder(cat)
	tbl, err := d.DescribeTable(context.Background(), at.id, at.ns, at.name, at.cols)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]Value, len(tbl.Columns))
	if err := d.DecodeText(tbl, cloneFields(fields), dst); err != nil {
		t.Fatal(err)
	}
	checkAllTypesRow(t, tbl, dst)
	for i, c := range tbl.Columns {
		if dst[i].State != after[i].State || !sameValue(dst[i], after[i]) {
			t.Errorf("%s: DecodeText = %+v, Decode = %+v", c.Name, dst[i], after[i])
		}
	}

	// The same dst, reused for a row of NULLs, must not keep the previous row's values.
	if err := d.DecodeText(tbl, make([][]byte, len(tbl.Columns)), dst); err != nil {
		t.Fatal(err)
	}
	for i, v := range dst {
		if v.State != ValueNull || v.Int != 0 || v.Bytes != nil || v.Elems != nil || v.Float != 0 || v.Scale != 0 {
			t.Errorf("%s: NULL field decoded as %+v", tbl.Columns[i].Name, v)
		}
	}
	// An empty (non-nil) field is a value, not NULL.
	idx := -1
	for i, c := range tbl.Columns {
		if c.Name == "c_text" {
			idx = i
		}
	}
	row := make([][]byte, len(tbl.Columns))
	row[idx] = []byte{}
	if err := d.DecodeText(tbl, row, dst); err != nil || dst[idx].State != ValueSet || len(dst[idx].Bytes) != 0 {
		t.Errorf("empty text: %+v, %v", dst[idx], err)
	}
}

func TestPGDecodeTextErrors(t *testing.T) {
	d := NewPGDecoder(testCatalog())
	tbl, err := d.DescribeTable(context.Background(), testRelID, "public", "t",
		[]PGColumnInfo{{"id", oidInt4, -1}, {"name", oidText, -1}, {"price", oidNumeric, numericTypmod(10, 2)}})
	if err != nil {
		t.Fatal(err)
	}
	row := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i, f := range s {
			out[i] = []byte(f)
		}
		return out
	}
	other := &Table{ID: testRelID, Namespace: "public", Name: "t", Columns: tbl.Columns, Version: 1}
	cases := []struct {
		name   string
		tbl    *Table
		fields [][]byte
		dst    int
		want   error
		column string
	}{
		{"too few fields", tbl, row("1", "a"), 3, ErrPGRowShape, ""},
		{"too many fields", tbl, row("1", "a", "2", "3"), 3, ErrPGRowShape, ""},
		{"short dst", tbl, row("1", "a", "2"), 2, ErrPGRowShape, ""},
		{"nil table", nil, row("1", "a", "2"), 3, ErrPGTableNotDescribed, ""},
		{"table not from DescribeTable", other, row("1", "a", "2"), 3, ErrPGTableNotDescribed, ""},
		{"bad int", tbl, row("one", "a", "2"), 3, ErrPGBadValue, "id"},
		{"numeric NaN", tbl, row("1", "a", "NaN"), 3, ErrPGSpecialValue, "price"},
	}
	for _, c := range cases {
		err := d.DecodeText(c.tbl, c.fields, make([]Value, c.dst))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			continue
		}
		var ce *PGColumnError
		if got := errors.As(err, &ce); got != (c.column != "") || (got && ce.Column != c.column) {
			t.Errorf("%s: err = %v, want a column error on %q", c.name, err, c.column)
		}
	}
}

// lockedCatalog makes a fakeCatalog safe for concurrent use, as the connector's Catalog is.
type lockedCatalog struct {
	mu  sync.Mutex
	cat *fakeCatalog
}

func (c *lockedCatalog) Relation(ctx context.Context, id uint32) (PGRelationInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cat.Relation(ctx, id)
}

func (c *lockedCatalog) Type(ctx context.Context, oid uint32) (PGTypeInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cat.Type(ctx, oid)
}

// TestPGDescribeTableConcurrentWithDecode runs a snapshot's calls beside the stream's on one
// decoder; the race detector is the assertion, with the values decoded on both sides.
func TestPGDescribeTableConcurrentWithDecode(t *testing.T) {
	d := NewPGDecoder(&lockedCatalog{cat: testCatalog()})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		for i := range 50 {
			if _, err := d.Decode(ctx, relationMsg()); err != nil {
				errs <- err
				return
			}
			m, err := d.Decode(ctx, newMsg('I').u32(testRelID).u8('N').u16(3).text(fmt.Sprint(i)).u8('n').u8('n').bytes())
			if err != nil || m.Change.After[0].Int != int64(i) {
				errs <- fmt.Errorf("stream row %d: %+v, %w", i, m.Change.After, err)
				return
			}
		}
	})
	wg.Go(func() {
		dst := make([]Value, 1)
		for i := range 50 {
			tbl, err := d.DescribeTable(ctx, testRelID, "public", "t", []PGColumnInfo{{"id", oidInt8, -1}})
			if err == nil {
				err = d.DecodeText(tbl, [][]byte{[]byte(fmt.Sprint(-i))}, dst)
			}
			if err != nil || dst[0].Int != int64(-i) {
				errs <- fmt.Errorf("snapshot row %d: %+v, %w", i, dst, err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// textFixture describes the 10-column table of BenchmarkPGDecodeInsert and returns one row of it.
func textFixture(tb testing.TB) (*PGDecoder, *Table, [][]byte) {
	d := NewPGDecoder(testCatalog())
	tbl, err := d.DescribeTable(context.Background(), testRelID, "public", "orders", []PGColumnInfo{
		{"id", oidInt4, -1}, {"customer", oidInt8, -1}, {"note", oidText, -1}, {"status", oidVarchar, 20 + 4},
		{"paid", oidBool, -1}, {"amount", oidNumeric, numericTypmod(10, 2)}, {"created", oidTimestamptz, -1},
		{"weight", oidFloat8, -1}, {"due", oidDate, -1}, {"ref", oidUUID, -1},
	})
	if err != nil {
		tb.Fatal(err)
	}
	row := [][]byte{[]byte("123456"), []byte("9876543210"), []byte("leave at the door"), []byte("shipped"),
		[]byte("t"), []byte("1234.56"), []byte("2024-02-29 13:14:15.123456+00"), []byte("12.5"),
		[]byte("2024-03-01"), []byte("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}
	return d, tbl, row
}

// BenchmarkPGDecodeText decodes a 10-column snapshot row into a reused dst: no allocation.
func BenchmarkPGDecodeText(b *testing.B) {
	d, tbl, row := textFixture(b)
	buf := cloneFields(row)
	dst := make([]Value, len(tbl.Columns))
	b.ReportAllocs()
	for b.Loop() {
		for i := range row {
			copy(buf[i], row[i]) // DecodeText rewrites its input in place
		}
		if err := d.DecodeText(tbl, buf, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPGDecodeTextAllocations pins the benchmark's allocation count, and its values.
func TestPGDecodeTextAllocations(t *testing.T) {
	d, tbl, row := textFixture(t)
	buf := cloneFields(row)
	dst := make([]Value, len(tbl.Columns))
	allocs := testing.AllocsPerRun(100, func() {
		for i := range row {
			copy(buf[i], row[i])
		}
		if err := d.DecodeText(tbl, buf, dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("decoding a 10-column text row allocates %v times, want 0", allocs)
	}
	if got := string(dst[6].Bytes); got != "2024-02-29T13:14:15.123456Z" || dst[0].Int != 123456 || dst[4].Int != 1 {
		t.Errorf("decoded row = %+v", dst)
	}
}

// FuzzPGDecodeText decodes rows of the fixture's all_types table: fields are separated by NUL
// bytes and a field of "\N" is NULL. It must never panic, and a failure must be a
// *PGColumnError or ErrPGRowShape. The seed corpus is in testdata/fuzz/FuzzPGDecodeText.
func FuzzPGDecodeText(f *testing.F) {
	rels, cat, fields, _ := fixtureRows(f)
	f.Add(joinFuzzFields(fields))
	at := rels["all_types"]
	d := NewPGDecoder(cat)
	tbl, err := d.DescribeTable(context.Background(), at.id, at.ns, at.name, at.cols)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		row := bytes.Split(data, []byte{0})
		for i, r := range row {
			if string(r) == `\N` {
				row[i] = nil
			}
		}
		dst := make([]Value, len(tbl.Columns))
		err := d.DecodeText(tbl, row, dst)
		var ce *PGColumnError
		if err != nil && !errors.As(err, &ce) && !errors.Is(err, ErrPGRowShape) {
			t.Fatalf("untyped error: %v", err)
		}
		if err == nil && len(row) != len(tbl.Columns) {
			t.Fatalf("%d fields decoded for %d columns", len(row), len(tbl.Columns))
		}
	})
}

func joinFuzzFields(fields [][]byte) []byte {
	var out []byte
	for i, f := range fields {
		if i > 0 {
			out = append(out, 0)
		}
		if f == nil {
			f = []byte(`\N`)
		}
		out = append(out, f...)
	}
	return out
}
