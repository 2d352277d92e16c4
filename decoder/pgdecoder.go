package decoder

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"
)

// PGCatalog answers what pgoutput's Relation message does not say; connectors/postgres implements
// it with catalog queries. The decoder calls it only when a relation is (re)described, never per
// row. Both methods block on the network; an error stops decoding of that Relation message.
type PGCatalog interface {
	// Relation returns the primary-key and NOT NULL columns and the defaults of relation relID.
	Relation(ctx context.Context, relID uint32) (PGRelationInfo, error)
	// Type describes a type that is not built in (an enum, a domain, an array of either).
	Type(ctx context.Context, oid uint32) (PGTypeInfo, error)
}

// PGRelationInfo is what the catalog says about a relation.
type PGRelationInfo struct {
	// PrimaryKey are the record key's column names in key order: the primary key's, or the
	// columns of another unique index the source chooses (PostgreSQL: the replica identity
	// index); empty when the table has no key. The replica identity flags of a Relation
	// message are not used: under REPLICA IDENTITY FULL they mark every column.
	PrimaryKey []string
	// NotNull are the columns declared NOT NULL.
	NotNull []string
	// Defaults are the columns' defaults as PostgreSQL deparses them (pg_get_expr, in the
	// replication connection's DateStyle, IntervalStyle and TimeZone), by column name; a column
	// without a default is absent. Only constants become a Column.Default.
	Defaults map[string]string
	// Generated are the stored generated columns (PostgreSQL 12+); a Relation message
	// carries them only when the publication publishes them (PostgreSQL 18).
	Generated []string
}

// PGTypeKind is what kind of type a PGTypeInfo describes.
type PGTypeKind uint8

// The type kinds.
const (
	// PGTypeBase is a base type (built in or from an extension).
	PGTypeBase PGTypeKind = iota + 1
	// PGTypeEnum is an enum; PGTypeInfo.EnumLabels holds its labels.
	PGTypeEnum
	// PGTypeDomain is a domain; PGTypeInfo.BaseOID is its base type.
	PGTypeDomain
	// PGTypeArray is an array type; PGTypeInfo.ElemOID is its element type.
	PGTypeArray
)

// PGTypeInfo describes a PostgreSQL type.
type PGTypeInfo struct {
	OID       uint32
	Namespace string
	Name      string
	Kind      PGTypeKind
	// EnumLabels are a PGTypeEnum's labels, in the enum's sort order.
	EnumLabels []string
	// ElemOID is a PGTypeArray's element type.
	ElemOID uint32
	// BaseOID is a PGTypeDomain's base type.
	BaseOID uint32
}

// PGMessageKind says which pgoutput message a PGMessage carries.
type PGMessageKind uint8

// The message kinds, one per pgoutput message (protocol version 2).
const (
	PGBegin PGMessageKind = iota + 1
	PGCommit
	PGRelation
	PGType
	PGChange
	PGTruncate
	PGOrigin
	PGLogicalMessage
	PGStreamStart
	PGStreamStop
	PGStreamCommit
	PGStreamAbort
)

// String returns the kind's name.
func (k PGMessageKind) String() string {
	names := [...]string{"invalid", "begin", "commit", "relation", "type", "change", "truncate",
		"origin", "logical message", "stream start", "stream stop", "stream commit", "stream abort"}
	if int(k) < len(names) {
		return names[k]
	}
	return "invalid"
}

// PGTransactional says whether a logical decoding message (pg_logical_emit_message) belongs to
// its transaction.
type PGTransactional bool

// The two values of PGTransactional.
const (
	PGMessageNonTransactional PGTransactional = false
	PGMessageTransactional    PGTransactional = true
)

// PGStreamSegment says whether a Stream Start opens the first segment of its transaction.
type PGStreamSegment bool

// The two values of PGStreamSegment.
const (
	PGSegmentLater PGStreamSegment = false
	PGSegmentFirst PGStreamSegment = true
)

// PGMessage is one decoded pgoutput message. Only the fields its Kind names are set.
type PGMessage struct {
	Kind PGMessageKind
	// XID is set for Begin, Stream*, and for relations, types, changes, truncates and
	// messages inside a stream (0 outside).
	XID uint32
	// FinalLSN is Begin's: the LSN of the transaction's commit record.
	FinalLSN uint64
	// CommitLSN is Commit's and StreamCommit's; Origin's origin commit LSN; a logical message's
	// LSN.
	CommitLSN uint64
	// EndLSN is Commit's and StreamCommit's: the end of the transaction (resume after it from
	// here).
	EndLSN uint64
	// CommitTime is Begin's, Commit's and StreamCommit's.
	CommitTime time.Time
	// Change is PGChange's: Op c/u/d, Table, Before, After; Source is left for the caller.
	Change Change
	// Table is PGRelation's: the table as described now (the same pointer while its shape
	// does not change).
	Table *Table
	// Tables are PGTruncate's.
	Tables []*Table
	// Prefix is PGLogicalMessage's; Origin's name is also here.
	Prefix string
	// Content is PGLogicalMessage's.
	Content []byte
	// Transactional is PGLogicalMessage's.
	Transactional PGTransactional
	// FirstSegment is PGStreamStart's.
	FirstSegment PGStreamSegment
	// TypeOID, TypeNamespace and TypeName are PGType's.
	TypeOID       uint32
	TypeNamespace string
	TypeName      string
	// SubXID is PGStreamAbort's: the aborted (sub)transaction.
	SubXID uint32
	// TruncateOptions is PGTruncate's option bits (1 CASCADE, 2 RESTART IDENTITY).
	TruncateOptions uint8
}

// PGDecoder turns pgoutput messages (protocol version 2) into PGMessages with typed Changes,
// mapping types as Debezium's PostgreSQL connector does with its default settings
// (decimal.handling.mode=precise, time.precision.mode=adaptive, interval.handling.mode=numeric,
// binary.handling.mode=bytes).
//
// It reads both of pgoutput's value formats, column by column: TEXT, and BINARY (the
// option binary 'true', PostgreSQL 14 and later), each type's binary value becoming exactly the
// Value its text would. The text's spelling depends on the walsender's session settings: the
// replication connection must be opened with DateStyle=ISO, IntervalStyle=iso_8601,
// TimeZone=UTC, extra_float_digits=3 and bytea_output=hex, and client_encoding UTF8 for either
// format; other settings produce ErrPGBadValue errors, never silently wrong values.
//
// It keeps a cache of the relations described so far, each with one decoding plan per column
// and format chosen when the Relation message arrives. Decode may rewrite the bytes of data in
// place (for example a bytea's hex text becomes its bytes, a numeric's digits its
// two's-complement form), then copies the decoded bytes of a row into one buffer of their size:
// the returned message holds nothing of data, which the caller may reuse once Decode returns.
// A row's wire form is therefore not kept alive by the Change. In text a bytea's hex is twice
// its bytes, so a 100 MB bytea costs 300 MB while it is decoded (the message and the copy);
// in binary its bytes are sent as they are, and it costs 200 MB.
//
// A PGDecoder is not safe for concurrent use; one replication stream has one decoder.
type PGDecoder struct {
	catalog   PGCatalog
	relations map[uint32]*pgRelation
	inStream  bool
	// described holds DescribeTable's tables apart from the stream's cache (pgsnapshot.go).
	described pgDescribed
	// scratch holds the values binary plans write out (a uuid's text), for one row message;
	// reused, so that decoding allocates nothing per value.
	scratch []byte
	opts    pgOptions
}

// NewPGDecoder returns a decoder that asks catalog about relations and non-built-in types. A
// catalog that is also a PGTypeTexter gives the text of binary values of TextForm columns.
func NewPGDecoder(catalog PGCatalog, opts ...PGOption) *PGDecoder {
	d := &PGDecoder{catalog: catalog, relations: make(map[uint32]*pgRelation)}
	for _, o := range opts {
		o(&d.opts)
	}
	return d
}

// pgEpoch is PostgreSQL's timestamp epoch; pgoutput's times are microseconds since it.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func pgTime(micros int64) time.Time { return pgEpoch.Add(time.Duration(micros) * time.Microsecond) }

// Decode decodes one pgoutput message, the WALData of one XLogData. It tracks Stream Start and
// Stop itself: the messages between them carry an xid. Relation messages may call the catalog
// (hence ctx); nothing else blocks. Decode may rewrite data, even when it fails; the returned
// message does not point into it.
func (d *PGDecoder) Decode(ctx context.Context, data []byte) (PGMessage, error) {
	r := pgReader{buf: data}
	if len(data) == 0 {
		return PGMessage{}, r.fail("empty message")
	}
	r.kind = data[0]
	r.off = 1
	switch r.kind {
	case 'B':
		return d.decodeBegin(&r)
	case 'C':
		return d.decodeCommit(&r)
	case 'O':
		return d.decodeOrigin(&r)
	case 'R':
		return d.decodeRelation(ctx, &r)
	case 'Y':
		return d.decodeType(&r)
	case 'I', 'U', 'D':
		return d.decodeRow(ctx, &r)
	case 'T':
		return d.decodeTruncate(&r)
	case 'M':
		return d.decodeLogicalMessage(&r)
	case 'S':
		return d.decodeStreamStart(&r)
	case 'E':
		if !d.inStream {
			return PGMessage{}, r.fail("stream stop outside a stream")
		}
		d.inStream = false
		return PGMessage{Kind: PGStreamStop}, nil
	case 'c':
		return d.decodeStreamCommit(&r)
	case 'A':
		return d.decodeStreamAbort(&r)
	default:
		r.off = 0
		return PGMessage{}, r.fail("unknown message tag")
	}
}

func (d *PGDecoder) decodeBegin(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGBegin}
	var ts int64
	var err error
	if m.FinalLSN, err = r.u64(); err != nil {
		return m, err
	}
	if ts, err = r.i64(); err != nil {
		return m, err
	}
	if m.XID, err = r.u32(); err != nil {
		return m, err
	}
	m.CommitTime = pgTime(ts)
	return m, nil
}

func (d *PGDecoder) decodeCommit(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGCommit}
	if _, err := r.u8(); err != nil { // flags, unused
		return m, err
	}
	return m, r.commitTail(&m)
}

// commitTail reads the commit LSN, end LSN and commit time that Commit and Stream Commit share.
func (r *pgReader) commitTail(m *PGMessage) error {
	var err error
	if m.CommitLSN, err = r.u64(); err != nil {
		return err
	}
	if m.EndLSN, err = r.u64(); err != nil {
		return err
	}
	ts, err := r.i64()
	if err != nil {
		return err
	}
	m.CommitTime = pgTime(ts)
	return nil
}

func (d *PGDecoder) decodeOrigin(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGOrigin}
	var err error
	if m.CommitLSN, err = r.u64(); err != nil {
		return m, err
	}
	m.Prefix, err = r.cstring()
	return m, err
}

// streamXID reads the xid that messages inside a stream carry.
func (d *PGDecoder) streamXID(r *pgReader) (uint32, error) {
	if !d.inStream {
		return 0, nil
	}
	return r.u32()
}

func (d *PGDecoder) decodeType(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGType}
	var err error
	if m.XID, err = d.streamXID(r); err != nil {
		return m, err
	}
	if m.TypeOID, err = r.u32(); err != nil {
		return m, err
	}
	if m.TypeNamespace, err = r.cstring(); err != nil {
		return m, err
	}
	m.TypeName, err = r.cstring()
	return m, err
}

func (d *PGDecoder) decodeRow(ctx context.Context, r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGChange}
	var err error
	if m.XID, err = d.streamXID(r); err != nil {
		return m, err
	}
	relID, err := r.u32()
	if err != nil {
		return m, err
	}
	rel, ok := d.relations[relID]
	if !ok {
		return m, &PGMessageError{Kind: r.kind, Offset: r.off - 4,
			Reason: "relation id " + utoa(relID) + " not described", Err: ErrPGUnknownRelation}
	}
	m.Change.Table = rel.table
	d.scratch = d.scratch[:0]
	scratch := &d.scratch
	tag, err := r.u8()
	if err != nil {
		return m, err
	}
	switch r.kind {
	case 'I':
		m.Change.Op = OpCreate
		if tag != 'N' {
			return m, r.failAt(r.off-1, "insert without a new tuple")
		}
		m.Change.After, err = rel.readTuple(ctx, d, r, scratch)
	case 'U':
		m.Change.Op = OpUpdate
		if tag == 'K' || tag == 'O' {
			if m.Change.Before, err = rel.readTuple(ctx, d, r, scratch); err != nil {
				return m, err
			}
			if tag, err = r.u8(); err != nil {
				return m, err
			}
		}
		if tag != 'N' {
			return m, r.failAt(r.off-1, "update without a new tuple")
		}
		m.Change.After, err = rel.readTuple(ctx, d, r, scratch)
	case 'D':
		m.Change.Op = OpDelete
		if tag != 'K' && tag != 'O' {
			return m, r.failAt(r.off-1, "delete without a key or old tuple")
		}
		m.Change.Before, err = rel.readTuple(ctx, d, r, scratch)
	}
	if err == nil && r.off != len(r.buf) {
		err = r.fail("trailing bytes after the tuple")
	}
	if err == nil {
		ownValues(m.Change.Before, m.Change.After)
	}
	if cap(d.scratch) > maxKeptScratch {
		d.scratch = nil // one huge row's text must not stay with the decoder
	}
	return m, err
}

// maxKeptScratch is the largest scratch buffer kept from one row to the next.
const maxKeptScratch = 1 << 20

// ownValues moves the bytes of rows' values, which point into the message, to one buffer
// allocated at their total size: one allocation per row, and nothing of the message (whose
// text may be twice the values, as a bytea's hex is) kept alive with the Change.
func ownValues(rows ...[]Value) {
	n := 0
	for _, row := range rows {
		n += valueBytes(row)
	}
	arena := make([]byte, 0, n)
	for _, row := range rows {
		arena = moveValues(arena, row)
	}
}

func valueBytes(vals []Value) int {
	n := 0
	for i := range vals {
		n += len(vals[i].Bytes) + valueBytes(vals[i].Elems)
	}
	return n
}

func moveValues(arena []byte, vals []Value) []byte {
	for i := range vals {
		v := &vals[i]
		switch {
		case v.Bytes == nil:
		case len(v.Bytes) == 0:
			v.Bytes = []byte{} // an empty slice into the message would still hold it
		default:
			start := len(arena)
			arena = append(arena, v.Bytes...)
			v.Bytes = arena[start:len(arena):len(arena)]
		}
		arena = moveValues(arena, v.Elems)
	}
	return arena
}

func (d *PGDecoder) decodeTruncate(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGTruncate}
	var err error
	if m.XID, err = d.streamXID(r); err != nil {
		return m, err
	}
	n, err := r.u32()
	if err != nil {
		return m, err
	}
	if m.TruncateOptions, err = r.u8(); err != nil {
		return m, err
	}
	if uint64(n)*4 > uint64(r.remaining()) {
		return m, r.fail("relation count exceeds the message")
	}
	m.Tables = make([]*Table, 0, n)
	for range n {
		id, _ := r.u32()
		rel, ok := d.relations[id]
		if !ok {
			return m, &PGMessageError{Kind: r.kind, Offset: r.off - 4,
				Reason: "relation id " + utoa(id) + " not described", Err: ErrPGUnknownRelation}
		}
		m.Tables = append(m.Tables, rel.table)
	}
	return m, nil
}

func (d *PGDecoder) decodeLogicalMessage(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGLogicalMessage}
	var err error
	if m.XID, err = d.streamXID(r); err != nil {
		return m, err
	}
	flags, err := r.u8()
	if err != nil {
		return m, err
	}
	m.Transactional = PGTransactional(flags&1 == 1)
	if m.CommitLSN, err = r.u64(); err != nil {
		return m, err
	}
	if m.Prefix, err = r.cstring(); err != nil {
		return m, err
	}
	n, err := r.u32()
	if err != nil {
		return m, err
	}
	m.Content, err = r.bytes(n)
	m.Content = bytes.Clone(m.Content) // the message is the caller's again once Decode returns
	return m, err
}

func (d *PGDecoder) decodeStreamStart(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGStreamStart}
	if d.inStream {
		return m, r.fail("stream start inside a stream")
	}
	var err error
	if m.XID, err = r.u32(); err != nil {
		return m, err
	}
	first, err := r.u8()
	if err != nil {
		return m, err
	}
	m.FirstSegment = PGStreamSegment(first == 1)
	d.inStream = true
	return m, nil
}

func (d *PGDecoder) decodeStreamCommit(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGStreamCommit}
	var err error
	if m.XID, err = r.u32(); err != nil {
		return m, err
	}
	if _, err = r.u8(); err != nil { // flags, unused
		return m, err
	}
	return m, r.commitTail(&m)
}

func (d *PGDecoder) decodeStreamAbort(r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGStreamAbort}
	var err error
	if m.XID, err = r.u32(); err != nil {
		return m, err
	}
	// Protocol 4 appends the abort LSN and time; version 2 ends here, and both are accepted.
	m.SubXID, err = r.u32()
	return m, err
}

// pgReader reads one message, checking the length before every read.
type pgReader struct {
	buf  []byte
	off  int
	kind byte
}

func (r *pgReader) remaining() int { return len(r.buf) - r.off }

func (r *pgReader) fail(reason string) error { return r.failAt(r.off, reason) }

func (r *pgReader) failAt(off int, reason string) error {
	return &PGMessageError{Kind: r.kind, Offset: off, Reason: reason}
}

func (r *pgReader) short(what string) error { return r.fail("truncated: no room for " + what) }

func (r *pgReader) u8() (byte, error) {
	if r.remaining() < 1 {
		return 0, r.short("a byte")
	}
	b := r.buf[r.off]
	r.off++
	return b, nil
}

func (r *pgReader) u16() (uint16, error) {
	if r.remaining() < 2 {
		return 0, r.short("an int16")
	}
	v := binary.BigEndian.Uint16(r.buf[r.off:])
	r.off += 2
	return v, nil
}

func (r *pgReader) u32() (uint32, error) {
	if r.remaining() < 4 {
		return 0, r.short("an int32")
	}
	v := binary.BigEndian.Uint32(r.buf[r.off:])
	r.off += 4
	return v, nil
}

func (r *pgReader) u64() (uint64, error) {
	if r.remaining() < 8 {
		return 0, r.short("an int64")
	}
	v := binary.BigEndian.Uint64(r.buf[r.off:])
	r.off += 8
	return v, nil
}

func (r *pgReader) i64() (int64, error) {
	v, err := r.u64()
	return int64(v), err
}

// bytes returns the next n bytes, pointing into the message.
func (r *pgReader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(r.remaining()) {
		return nil, r.fail("length " + utoa(n) + " exceeds the message")
	}
	b := r.buf[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

// cstring reads a NUL-terminated string (copied: names outlive the message).
func (r *pgReader) cstring() (string, error) {
	for i := r.off; i < len(r.buf); i++ {
		if r.buf[i] == 0 {
			s := string(r.buf[r.off:i])
			r.off = i + 1
			return s, nil
		}
	}
	return "", r.short("a NUL-terminated string")
}

func utoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
