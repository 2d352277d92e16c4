package decoder

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// The conditions of DecodeText that are not a column's (those are *PGColumnError as in Decode).
var (
	// ErrPGTableNotDescribed: DecodeText was given a Table that DescribeTable did not return, or
	// one it has since replaced with a changed description of the same relation.
	ErrPGTableNotDescribed = errors.New("table not described by DescribeTable")
	// ErrPGRowShape: a row's field count or the destination's length differs from the table's
	// column count.
	ErrPGRowShape = errors.New("row does not match its table's columns")
)

// PGColumnInfo is one column of a relation as pg_attribute describes it (attnum order, dropped
// columns left out).
type PGColumnInfo struct {
	Name    string
	TypeOID uint32
	TypeMod int32
}

// pgDescribed holds the tables DescribeTable built, with their plans, one per relation: the
// latest description. It is separate from the stream's relation cache, and locked, so that a
// snapshot may describe and decode tables in another goroutine while the stream decodes.
type pgDescribed struct {
	mu        sync.Mutex
	relations map[uint32]*pgRelation
}

// DescribeTable builds the Table of relation relID from its catalog columns, exactly as a
// pgoutput Relation message with the same columns would (types and plans chosen once, keys and
// NOT NULL from the PGCatalog, enums, domains and arrays resolved through it), for reading the
// table outside the stream (snapshots). It does not change the stream's relation cache.
//
// The returned *Table is immutable. Describing an unchanged relation again returns the same
// pointer; a changed one gets a new Table with the next Version, and the previous one is no
// longer accepted by DecodeText. DescribeTable and DecodeText may run concurrently with each
// other and with Decode, provided the PGCatalog is safe for concurrent use.
//
// A column whose values are its type's text (Column.TextForm: an unmapped type, a range) must
// be read cast to text (SELECT col::text): DecodeBinary takes its binary value as text's.
func (d *PGDecoder) DescribeTable(ctx context.Context, relID uint32, namespace, name string, cols []PGColumnInfo) (*Table, error) {
	rcs := make([]pgRelColumn, len(cols))
	for i, c := range cols {
		rcs[i] = pgRelColumn{name: c.Name, typeID: c.TypeOID, typmod: c.TypeMod}
	}
	table, plans, binPlans, err := d.describeRelation(ctx, relID, namespace, name, rcs)
	if err != nil {
		return nil, err
	}
	for i := range table.Columns {
		if table.Columns[i].TextForm {
			// The reader selects a TextForm column cast to text (see DescribeTable): its
			// binary value is text's, the bytes of the text.
			binPlans[i] = binRaw
		}
	}
	s := &d.described
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.relations[relID]; ok {
		if sameTable(old.table, table) {
			return old.table, nil
		}
		table.Version = old.table.Version + 1
	}
	if s.relations == nil {
		s.relations = make(map[uint32]*pgRelation)
	}
	s.relations[relID] = &pgRelation{table: table, plans: plans, binPlans: binPlans}
	d.reportUnmapped(table)
	return table, nil
}

// DecodeText decodes one row whose fields are in PostgreSQL's text output format (nil is
// NULL), in the order of t's columns, into dst, with the plans DescribeTable chose for t. The
// session must have the settings PGDecoder documents. Values may point into fields, and fields
// may be rewritten in place, as Decode does; each dst element is overwritten (NULL or
// ValueSet), so dst may be reused between rows. On error dst holds a partial row.
func (d *PGDecoder) DecodeText(t *Table, fields [][]byte, dst []Value) error {
	return d.decodeFields(t, fields, dst, nil)
}

// DecodeBinary decodes one row whose fields are in PostgreSQL's binary format (each type's send
// function's output, as COPY ... (FORMAT binary) writes it; nil is NULL), in the order of t's
// columns, into dst, with the binary plans DescribeTable chose for t: each value is what
// DecodeText makes of the same value's text. The row's values are then moved to one buffer of
// their size (one allocation), so that they hold nothing of fields, which the caller may
// reuse, nor of scratch, which binary plans may write to (a uuid's text) and the caller
// should keep from row to row. Each dst element is overwritten; on error dst holds a partial
// row.
func (d *PGDecoder) DecodeBinary(t *Table, fields [][]byte, dst []Value, scratch *[]byte) error {
	*scratch = (*scratch)[:0]
	if err := d.decodeFields(t, fields, dst, scratch); err != nil {
		return err
	}
	ownValues(dst)
	if cap(*scratch) > maxKeptScratch {
		*scratch = nil
	}
	return nil
}

// decodeFields is DecodeText (scratch nil: the text plans) and DecodeBinary (the binary plans,
// which may write to scratch) but for what DecodeBinary does after: one loop, whose branch
// on scratch is the same for every field of a row.
func (d *PGDecoder) decodeFields(t *Table, fields [][]byte, dst []Value, scratch *[]byte) error {
	rel, err := d.describedRow(t, fields, dst)
	if err != nil {
		return err
	}
	return rel.decodeRow(fields, dst, scratch)
}

// decodeRow is decodeFields's loop, on the relation's plans: dst has been zeroed and the row's
// shape checked.
func (rel *pgRelation) decodeRow(fields [][]byte, dst []Value, scratch *[]byte) error {
	var err error
	for i, f := range fields {
		if f == nil {
			continue
		}
		if scratch == nil {
			err = rel.plans[i](f, &dst[i])
		} else if rel.binPlans[i] == nil { // every supported type has one: a guard
			err = ErrPGBinaryFormat
		} else {
			err = rel.binPlans[i](f, &dst[i], scratch)
		}
		if err != nil {
			return rel.columnError(i, err)
		}
		dst[i].State = ValueSet
	}
	return nil
}

// describedRow returns the relation DescribeTable built for t, checking the row's shape, and
// zeroes dst, which decodeFields then fills: plans fill only the fields their type uses, so a
// reused dst must not keep the rest, and a NULL is the zero Value.
func (d *PGDecoder) describedRow(t *Table, fields [][]byte, dst []Value) (*pgRelation, error) {
	if t == nil {
		return nil, fmt.Errorf("decoding a row: %w: nil table", ErrPGTableNotDescribed)
	}
	s := &d.described
	s.mu.Lock()
	rel := s.relations[t.ID]
	s.mu.Unlock()
	if rel == nil || rel.table != t {
		return nil, fmt.Errorf("decoding a row of %s.%s (id %d, version %d): %w",
			t.Namespace, t.Name, t.ID, t.Version, ErrPGTableNotDescribed)
	}
	if len(fields) != len(rel.plans) || len(dst) != len(rel.plans) {
		return nil, fmt.Errorf("decoding a row of %s.%s: %d fields into %d values for %d columns: %w",
			t.Namespace, t.Name, len(fields), len(dst), len(rel.plans), ErrPGRowShape)
	}
	clear(dst)
	return rel, nil
}

// rowArenaBlock is the size of a RowArena's blocks: large enough that a chunk of small rows
// costs a few allocations, small enough that the bytes a block holds past the rows still in
// use stay negligible.
const rowArenaBlock = 64 << 10

// RowArena holds the bytes of decoded rows in shared blocks (DecodeBinaryTo): one allocation
// per block rather than one per row, for a snapshot that decodes rows by the thousand. A block
// stays alive while a value in it does; a row larger than a block gets a block of its own
// size. The zero RowArena is ready; it is not safe for concurrent use.
type RowArena struct {
	buf []byte
}

// own moves the bytes of vals into the arena.
func (a *RowArena) own(vals []Value) {
	n := valueBytes(vals)
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(n, rowArenaBlock))
	}
	// moveValues caps each value's slice at its length, so that what the arena appends later
	// never reaches into a value.
	a.buf = moveValues(a.buf, vals)
}

// DecodeBinaryTo is DecodeBinary with the row's values moved to arena rather than to a
// buffer of their own: the same values, without an allocation per row.
func (d *PGDecoder) DecodeBinaryTo(t *Table, fields [][]byte, dst []Value, scratch *[]byte, arena *RowArena) error {
	*scratch = (*scratch)[:0]
	if err := d.decodeFields(t, fields, dst, scratch); err != nil {
		return err
	}
	arena.own(dst)
	if cap(*scratch) > maxKeptScratch {
		*scratch = nil
	}
	return nil
}

// PGBinaryRows decodes rows of one described table in PostgreSQL's binary format, exactly as
// DecodeBinaryTo does, with the table looked up once rather than for every row: for the rows of
// one snapshot chunk. It keeps the plans of the description it was made from: a row decoded
// after DescribeTable replaced that description still decodes as the Table it was made for.
type PGBinaryRows struct {
	rel *pgRelation
}

// BinaryRows returns the decoder of t's binary rows; t must be the latest Table DescribeTable
// returned for its relation (else ErrPGTableNotDescribed).
func (d *PGDecoder) BinaryRows(t *Table) (PGBinaryRows, error) {
	if t == nil {
		return PGBinaryRows{}, fmt.Errorf("decoding rows: %w: nil table", ErrPGTableNotDescribed)
	}
	s := &d.described
	s.mu.Lock()
	rel := s.relations[t.ID]
	s.mu.Unlock()
	if rel == nil || rel.table != t {
		return PGBinaryRows{}, fmt.Errorf("decoding rows of %s.%s (id %d, version %d): %w",
			t.Namespace, t.Name, t.ID, t.Version, ErrPGTableNotDescribed)
	}
	return PGBinaryRows{rel: rel}, nil
}

// Decode is DecodeBinaryTo of one row.
func (r PGBinaryRows) Decode(fields [][]byte, dst []Value, scratch *[]byte, arena *RowArena) error {
	rel := r.rel
	if len(fields) != len(rel.plans) || len(dst) != len(rel.plans) {
		return fmt.Errorf("decoding a row of %s.%s: %d fields into %d values for %d columns: %w",
			rel.table.Namespace, rel.table.Name, len(fields), len(dst), len(rel.plans), ErrPGRowShape)
	}
	clear(dst)
	*scratch = (*scratch)[:0]
	if err := rel.decodeRow(fields, dst, scratch); err != nil {
		return err
	}
	arena.own(dst)
	if cap(*scratch) > maxKeptScratch {
		*scratch = nil
	}
	return nil
}
