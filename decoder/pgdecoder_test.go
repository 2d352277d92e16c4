package decoder

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"
)

// fakeCatalog is a PGCatalog from maps; it counts the calls so tests can check that the decoder
// asks only when relations are described.
type fakeCatalog struct {
	Relations     map[uint32]PGRelationInfo
	Types         map[uint32]PGTypeInfo
	relationCalls int
	typeCalls     int
}

var _ PGCatalog = (*fakeCatalog)(nil)

func (c *fakeCatalog) Relation(_ context.Context, id uint32) (PGRelationInfo, error) {
	c.relationCalls++
	info, ok := c.Relations[id]
	if !ok {
		return info, fmt.Errorf("no relation %d", id)
	}
	return info, nil
}

func (c *fakeCatalog) Type(_ context.Context, oid uint32) (PGTypeInfo, error) {
	c.typeCalls++
	ti, ok := c.Types[oid]
	if !ok {
		return PGTypeInfo{OID: oid, Kind: PGTypeBase, Name: fmt.Sprintf("type%d", oid)}, nil
	}
	return ti, nil
}

// msg builds a pgoutput message.
type msg []byte

func newMsg(tag byte) msg       { return msg{tag} }
func (m msg) u8(v byte) msg     { return append(m, v) }
func (m msg) u16(v uint16) msg  { return binary.BigEndian.AppendUint16(m, v) }
func (m msg) u32(v uint32) msg  { return binary.BigEndian.AppendUint32(m, v) }
func (m msg) u64(v uint64) msg  { return binary.BigEndian.AppendUint64(m, v) }
func (m msg) str(s string) msg  { return append(append(m, s...), 0) }
func (m msg) text(s string) msg { return append(m.u8('t').u32(uint32(len(s))), s...) }
func (m msg) bytes() []byte     { return append([]byte(nil), m...) }
func (m msg) col(name string, oid uint32, typmod int32, key bool) msg {
	flags := byte(0)
	if key {
		flags = 1
	}
	return m.u8(flags).str(name).u32(oid).u32(uint32(typmod))
}

const testRelID = 16400

// relationMsg describes public.t (id int4 key, name text, price numeric(10,2)).
func relationMsg(extra ...func(msg) msg) []byte {
	m := newMsg('R').u32(testRelID).str("public").str("t").u8('d')
	m = m.u16(uint16(3 + len(extra)))
	m = m.col("id", oidInt4, -1, true).col("name", oidText, -1, false).col("price", oidNumeric, numericTypmod(10, 2), false)
	for _, e := range extra {
		m = e(m)
	}
	return m.bytes()
}

func testCatalog() *fakeCatalog {
	return &fakeCatalog{Relations: map[uint32]PGRelationInfo{
		testRelID: {PrimaryKey: []string{"id"}, NotNull: []string{"id"}},
	}}
}

func mustDecode(t *testing.T, d *PGDecoder, data []byte) PGMessage {
	t.Helper()
	m, err := d.Decode(context.Background(), data)
	if err != nil {
		t.Fatalf("Decode(%q): %v", data, err)
	}
	return m
}

func TestPGDecodeTransaction(t *testing.T) {
	cat := testCatalog()
	d := NewPGDecoder(cat)
	ts := int64(1_000_000) // one second after 2000-01-01
	begin := mustDecode(t, d, newMsg('B').u64(0x1000).u64(uint64(ts)).u32(77).bytes())
	if begin.Kind != PGBegin || begin.FinalLSN != 0x1000 || begin.XID != 77 ||
		!begin.CommitTime.Equal(time.Date(2000, 1, 1, 0, 0, 1, 0, time.UTC)) {
		t.Errorf("begin = %+v", begin)
	}
	rel := mustDecode(t, d, relationMsg())
	tbl := rel.Table
	if rel.Kind != PGRelation || tbl == nil || tbl.Namespace != "public" || tbl.Name != "t" || tbl.Version != 1 {
		t.Fatalf("relation = %+v", rel)
	}
	if c := tbl.Columns[0]; !c.Key || c.Optional || c.Type != TypeInt32 {
		t.Errorf("id column = %+v, want key, required, int32", c)
	}
	if c := tbl.Columns[2]; c.Key || !c.Optional || c.Type != TypeDecimal || c.Precision != 10 || c.Scale != 2 {
		t.Errorf("price column = %+v", c)
	}

	ins := mustDecode(t, d, newMsg('I').u32(testRelID).u8('N').u16(3).text("7").text("pen").text("1.25").bytes())
	c := ins.Change
	if ins.Kind != PGChange || c.Op != OpCreate || c.Table != tbl || c.Before != nil || len(c.After) != 3 {
		t.Fatalf("insert = %+v", ins)
	}
	if c.After[0].State != ValueSet || c.After[0].Int != 7 || string(c.After[1].Bytes) != "pen" ||
		string(c.After[2].Bytes) != "\x7d" {
		t.Errorf("insert values = %+v", c.After)
	}

	upd := mustDecode(t, d, newMsg('U').u32(testRelID).u8('N').u16(3).text("7").u8('u').u8('n').bytes())
	if upd.Change.Op != OpUpdate || upd.Change.Before != nil || upd.Change.After[1].State != ValueUnchanged ||
		upd.Change.After[2].State != ValueNull {
		t.Errorf("update without old tuple = %+v", upd.Change)
	}
	updKey := mustDecode(t, d, newMsg('U').u32(testRelID).u8('K').u16(3).text("7").u8('n').u8('n').
		u8('N').u16(3).text("8").text("pen").u8('n').bytes())
	if updKey.Change.Before == nil || updKey.Change.Before[0].Int != 7 || updKey.Change.After[0].Int != 8 {
		t.Errorf("update with key = %+v", updKey.Change)
	}
	updOld := mustDecode(t, d, newMsg('U').u32(testRelID).u8('O').u16(3).text("8").text("pen").u8('n').
		u8('N').u16(3).text("8").text("ink").u8('n').bytes())
	if string(updOld.Change.Before[1].Bytes) != "pen" || string(updOld.Change.After[1].Bytes) != "ink" {
		t.Errorf("update with old = %+v", updOld.Change)
	}
	del := mustDecode(t, d, newMsg('D').u32(testRelID).u8('K').u16(3).text("8").u8('n').u8('n').bytes())
	if del.Change.Op != OpDelete || del.Change.After != nil || del.Change.Before[0].Int != 8 {
		t.Errorf("delete = %+v", del.Change)
	}
	tr := mustDecode(t, d, newMsg('T').u32(1).u8(1).u32(testRelID).bytes())
	if tr.Kind != PGTruncate || len(tr.Tables) != 1 || tr.Tables[0] != tbl || tr.TruncateOptions != 1 {
		t.Errorf("truncate = %+v", tr)
	}
	_, err := d.Decode(context.Background(), newMsg('M').u8(1).u64(0x1001).str("pfx").u32(3).u8('a').bytes())
	if !errors.Is(err, ErrPGMalformed) {
		t.Errorf("logical message with a short body: err = %v, want ErrPGMalformed", err)
	}
	lm := mustDecode(t, d, append(newMsg('M').u8(1).u64(0x1001).str("pfx").u32(3), "abc"...).bytes())
	if lm.Kind != PGLogicalMessage || lm.Prefix != "pfx" || string(lm.Content) != "abc" || lm.Transactional != PGMessageTransactional {
		t.Errorf("logical message = %+v", lm)
	}
	orig := mustDecode(t, d, newMsg('O').u64(0x2000).str("node1").bytes())
	if orig.Kind != PGOrigin || orig.Prefix != "node1" || orig.CommitLSN != 0x2000 {
		t.Errorf("origin = %+v", orig)
	}
	commit := mustDecode(t, d, newMsg('C').u8(0).u64(0x1000).u64(0x1040).u64(uint64(ts)).bytes())
	if commit.Kind != PGCommit || commit.CommitLSN != 0x1000 || commit.EndLSN != 0x1040 || commit.CommitTime.IsZero() {
		t.Errorf("commit = %+v", commit)
	}
	if cat.relationCalls != 1 {
		t.Errorf("catalog asked %d times about relations, want 1 (once per Relation message)", cat.relationCalls)
	}
}

func TestPGDecodeStreamMessagesCarryXID(t *testing.T) {
	d := NewPGDecoder(testCatalog())
	start := mustDecode(t, d, newMsg('S').u32(900).u8(1).bytes())
	if start.Kind != PGStreamStart || start.XID != 900 || start.FirstSegment != PGSegmentFirst {
		t.Errorf("stream start = %+v", start)
	}
	relInStream := append(newMsg('R').u32(900), relationMsg()[1:]...).bytes()
	rel := mustDecode(t, d, relInStream)
	if rel.XID != 900 || rel.Table == nil {
		t.Errorf("relation in stream = %+v", rel)
	}
	ins := mustDecode(t, d, newMsg('I').u32(900).u32(testRelID).u8('N').u16(3).text("1").u8('n').u8('n').bytes())
	if ins.XID != 900 || ins.Change.After[0].Int != 1 {
		t.Errorf("insert in stream = %+v", ins)
	}
	if m := mustDecode(t, d, newMsg('E').bytes()); m.Kind != PGStreamStop {
		t.Errorf("stream stop = %+v", m)
	}
	ins = mustDecode(t, d, newMsg('I').u32(testRelID).u8('N').u16(3).text("2").u8('n').u8('n').bytes())
	if ins.XID != 0 || ins.Change.After[0].Int != 2 {
		t.Errorf("insert after stream = %+v", ins)
	}
	sc := mustDecode(t, d, newMsg('c').u32(900).u8(0).u64(0x10).u64(0x20).u64(0).bytes())
	if sc.Kind != PGStreamCommit || sc.XID != 900 || sc.CommitLSN != 0x10 || sc.EndLSN != 0x20 {
		t.Errorf("stream commit = %+v", sc)
	}
	sa := mustDecode(t, d, newMsg('A').u32(900).u32(901).bytes())
	if sa.Kind != PGStreamAbort || sa.XID != 900 || sa.SubXID != 901 {
		t.Errorf("stream abort = %+v", sa)
	}
	if _, err := d.Decode(context.Background(), newMsg('E').bytes()); !errors.Is(err, ErrPGMalformed) {
		t.Errorf("stream stop outside a stream: err = %v, want ErrPGMalformed", err)
	}
}

func TestPGDecodeRelationVersions(t *testing.T) {
	cat := testCatalog()
	d := NewPGDecoder(cat)
	first := mustDecode(t, d, relationMsg()).Table
	again := mustDecode(t, d, relationMsg()).Table
	if again != first {
		t.Errorf("same shape described again gave a new *Table")
	}
	wider := mustDecode(t, d, relationMsg(func(m msg) msg { return m.col("note", oidVarchar, 24, false) })).Table
	if wider == first || wider.Version != 2 || len(wider.Columns) != 4 {
		t.Errorf("added column: table %p version %d cols %d, want a new table, version 2, 4 columns",
			wider, wider.Version, len(wider.Columns))
	}
	if len(first.Columns) != 3 {
		t.Errorf("the first *Table changed: %d columns", len(first.Columns))
	}
	// Rows decode against the latest description.
	ins := mustDecode(t, d, newMsg('I').u32(testRelID).u8('N').u16(4).text("1").u8('n').u8('n').text("x").bytes())
	if ins.Change.Table != wider {
		t.Errorf("insert uses table version %d, want 2", ins.Change.Table.Version)
	}
	if cat.relationCalls != 3 {
		t.Errorf("catalog relation calls = %d, want 3", cat.relationCalls)
	}
}

// TestPGDecodeKeyIsTheCatalogs checks that the key columns are the catalog's, never the
// Relation message's replica identity flags (every column under REPLICA IDENTITY FULL), so
// that the stream and DescribeTable key a table alike.
func TestPGDecodeKeyIsTheCatalogs(t *testing.T) {
	cat := &fakeCatalog{Relations: map[uint32]PGRelationInfo{testRelID: {}}}
	d := NewPGDecoder(cat)
	tbl := mustDecode(t, d, relationMsg()).Table
	for _, c := range tbl.Columns {
		if c.Key {
			t.Errorf("without a key in the catalog, column %s is a key column (flagged in the Relation message)", c.Name)
		}
	}
	cat.Relations[testRelID] = PGRelationInfo{PrimaryKey: []string{"name"}}
	tbl = mustDecode(t, d, relationMsg()).Table
	if tbl.Columns[0].Key || !tbl.Columns[1].Key {
		t.Errorf("the primary key must win over the replica identity flag: %+v", tbl.Columns)
	}
}

func TestPGDecodeCustomTypes(t *testing.T) {
	cat := testCatalog()
	cat.Types = map[uint32]PGTypeInfo{
		20001: {OID: 20001, Name: "mood", Kind: PGTypeEnum, EnumLabels: []string{"sad", "happy"}},
		20002: {OID: 20002, Name: "_mood", Kind: PGTypeArray, ElemOID: 20001},
		20003: {OID: 20003, Name: "price", Kind: PGTypeDomain, BaseOID: oidNumeric},
		20004: {OID: 20004, Name: "loop", Kind: PGTypeDomain, BaseOID: 20004},
	}
	d := NewPGDecoder(cat)
	tbl := mustDecode(t, d, relationMsg(
		func(m msg) msg { return m.col("mood", 20001, -1, false) },
		func(m msg) msg { return m.col("moods", 20002, -1, false) },
		func(m msg) msg { return m.col("p", 20003, -1, false) },
	)).Table
	mood, moods, p := tbl.Columns[3], tbl.Columns[4], tbl.Columns[5]
	if mood.Type != TypeEnum || mood.SourceType != "mood" || len(mood.EnumValues) != 2 {
		t.Errorf("enum column = %+v", mood)
	}
	if moods.Type != TypeArray || moods.Elem == nil || moods.Elem.Type != TypeEnum || moods.Elem.EnumValues[1] != "happy" {
		t.Errorf("enum array column = %+v", moods)
	}
	if p.Type != TypeVariableDecimal || p.SourceType != "price" || p.SourceTypeID != 20003 {
		t.Errorf("domain column = %+v", p)
	}
	ins := mustDecode(t, d, newMsg('I').u32(testRelID).u8('N').u16(6).text("1").u8('n').u8('n').
		text("happy").text("{sad,NULL}").text("2.50").bytes())
	a := ins.Change.After
	if string(a[3].Bytes) != "happy" || len(a[4].Elems) != 2 || string(a[4].Elems[0].Bytes) != "sad" ||
		a[4].Elems[1].State != ValueNull || a[5].Scale != 1 || string(a[5].Bytes) != "\x19" {
		t.Errorf("custom values = %+v", a[3:])
	}

	_, err := d.Decode(context.Background(), relationMsg(func(m msg) msg { return m.col("l", 20004, -1, false) }))
	if !errors.Is(err, ErrPGUnknownType) {
		t.Errorf("domain cycle: err = %v, want ErrPGUnknownType", err)
	}
}

func TestPGDecodeUnknownType(t *testing.T) {
	d := NewPGDecoder(testCatalog(), WithPGUnknownTypes(UnknownTypesFail))
	_, err := d.Decode(context.Background(), relationMsg(func(m msg) msg { return m.col("geom", 30000, -1, false) }))
	var ce *PGColumnError
	if !errors.Is(err, ErrPGUnknownType) || !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *PGColumnError with ErrPGUnknownType", err)
	}
	if ce.Table != "t" || ce.Column != "geom" || ce.SourceType != "type30000" {
		t.Errorf("error names %+v, want table t, column geom, type type30000", ce)
	}
}

func TestPGDecodeValueErrors(t *testing.T) {
	d := NewPGDecoder(testCatalog())
	mustDecode(t, d, relationMsg())
	cases := []struct {
		name   string
		data   []byte
		want   error
		column string
	}{
		{"binary int4 of 3 bytes", newMsg('I').u32(testRelID).u8('N').u16(3).u8('b').u32(3).u8(0).u8(0).u8(7).u8('n').u8('n').bytes(), ErrPGBadValue, "id"},
		{"numeric NaN", newMsg('I').u32(testRelID).u8('N').u16(3).text("1").u8('n').text("NaN").bytes(), ErrPGSpecialValue, "price"},
		{"bad int", newMsg('I').u32(testRelID).u8('N').u16(3).text("one").u8('n').u8('n').bytes(), ErrPGBadValue, "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Decode(context.Background(), tc.data)
			var ce *PGColumnError
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) || ce.Column != tc.column || ce.Table != "t" {
				t.Errorf("err = %v, want %v naming column %s of t", err, tc.want, tc.column)
			}
		})
	}
}

func TestPGDecodeMalformed(t *testing.T) {
	d := NewPGDecoder(testCatalog())
	mustDecode(t, d, relationMsg())
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"unknown tag", []byte{'Z'}},
		{"short begin", newMsg('B').u64(1).bytes()},
		{"short commit", newMsg('C').u8(0).u64(1).bytes()},
		{"unterminated string", newMsg('O').u64(1).u8('a').bytes()},
		{"relation column count too big", newMsg('R').u32(1).str("s").str("t").u8('d').u16(1000).bytes()},
		{"relation trailing bytes", append(relationMsg(), 0)},
		{"unknown relation", newMsg('I').u32(999).u8('N').u16(0).bytes()},
		{"insert without N", newMsg('I').u32(testRelID).u8('K').u16(3).bytes()},
		{"tuple column count", newMsg('I').u32(testRelID).u8('N').u16(2).u8('n').u8('n').bytes()},
		{"tuple length past end", newMsg('I').u32(testRelID).u8('N').u16(3).u8('t').u32(1 << 30).bytes()},
		{"tuple unknown kind", newMsg('I').u32(testRelID).u8('N').u16(3).u8('x').bytes()},
		{"tuple trailing bytes", newMsg('I').u32(testRelID).u8('N').u16(3).u8('n').u8('n').u8('n').u8(0).bytes()},
		{"update without new", newMsg('U').u32(testRelID).u8('K').u16(3).u8('n').u8('n').u8('n').u8('X').bytes()},
		{"delete without old", newMsg('D').u32(testRelID).u8('N').u16(3).bytes()},
		{"truncate count too big", newMsg('T').u32(1 << 30).u8(0).bytes()},
		{"truncate unknown relation", newMsg('T').u32(1).u8(0).u32(5).bytes()},
		{"message length past end", newMsg('M').u8(0).u64(1).str("p").u32(10).bytes()},
		{"stream start short", newMsg('S').u32(1).bytes()},
		{"stream abort short", newMsg('A').u32(1).bytes()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Decode(context.Background(), tc.data)
			var me *PGMessageError
			if !errors.Is(err, ErrPGMalformed) || !errors.As(err, &me) || me.Reason == "" {
				t.Errorf("err = %v, want a *PGMessageError", err)
			}
		})
	}
}

func TestPGDecodeCatalogErrorStopsRelation(t *testing.T) {
	d := NewPGDecoder(&fakeCatalog{})
	if _, err := d.Decode(context.Background(), relationMsg()); err == nil {
		t.Fatal("a failing catalog must fail the Relation message")
	}
	_, err := d.Decode(context.Background(), newMsg('I').u32(testRelID).u8('N').u16(3).text("1").u8('n').u8('n').bytes())
	if !errors.Is(err, ErrPGUnknownRelation) || !errors.Is(err, ErrPGMalformed) {
		t.Errorf("a row of a relation that failed to describe: err = %v, want unknown relation", err)
	}
}
