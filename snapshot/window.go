// Package snapshot holds what the sources share of their snapshots, once: the snapshot-mode
// decision at a start (DecideStart), the chunk loop of an initial snapshot with its byte budget
// and resume positions (ChunkLoop, ChunkSizer), the signals of an incremental snapshot and
// their effect on its progress (Signals, Execute, Stop, IncrementalProgress), the reading of
// its chunks up to the greatest key (ReadWindow), its deduplication window (below), and the
// progress figures of every table read (Progress, Board).
//
// What differs between databases is the source's, behind small interfaces this package owns:
// a ChunkSource (how a table is described, paged, sized, positioned and emitted) for the
// chunk loop, WindowQueries (the greatest key, the keyset chunk query) for an incremental
// chunk, and words and facts for the decisions (StartState, StartWords, Tables). The package
// knows no database driver and no Kafka client: it stands on the decoder's values alone.
//
// # The window
//
// The deduplication window of an incremental snapshot is how a chunk of rows read while the
// stream goes on never lets an older value of a row reach Kafka after a newer one (the
// watermark method of DBLog).
//
// An incremental snapshot reads a table in chunks, by primary key, on a normal connection,
// while the source keeps streaming. For one chunk:
//
//  1. The source notes the point P of the stream it has reached (it read the stream up to P
//     and stopped there, between two transactions).
//  2. It reads the chunk, rows with keys in (after, max] in key order, in a new transaction.
//  3. It writes a high watermark into the change stream (a PostgreSQL logical decoding message;
//     a row in a signal table for MySQL), after the read's transaction ended.
//  4. Streaming goes on from P. Every streamed change of the table before the high watermark
//     is given to [Window.Observe], which removes the changed key from the chunk: the stream
//     carries that row's newest value itself, and the snapshot's copy may be older.
//  5. At the high watermark, the rows left ([Window.Rows]) are emitted, op r: no change of
//     them committed between P and the watermark, so the value read is the newest as of the
//     watermark, and every later change is streamed after it.
//
// A transaction that committed before P is visible to the read, as long as it is visible
// to every snapshot taken after the stream delivered it; the sources check that (PostgreSQL:
// the recently streamed xids against the read's snapshot) and read again otherwise.
package snapshot

import (
	"encoding/binary"
	"math"

	"github.com/cdcd-dev/cdcd/decoder"
)

// Window is one chunk of an incremental snapshot waiting for its high watermark. It is not
// safe for concurrent use: the stream's goroutine owns it.
type Window struct {
	// ID names the window's watermark in the stream.
	ID string
	// Table describes the rows of the chunk.
	Table *decoder.Table
	rows  [][]decoder.Value
	// keyIdx are the positions of the key columns in a row.
	keyIdx []int
	// index maps a row's encoded key to its position in rows; dropped rows become nil.
	index  map[string]int
	keyBuf []byte
	// invalid is set when the table changed shape or was truncated meanwhile: the chunk must
	// be read again.
	invalid bool
}

// NewWindow returns the window of the chunk rows of table tbl, whose key columns are at
// keyIdx in each row. The window keeps rows: the caller gives them up.
func NewWindow(id string, tbl *decoder.Table, keyIdx []int, rows [][]decoder.Value) *Window {
	w := &Window{ID: id, Table: tbl, rows: rows, keyIdx: keyIdx, index: make(map[string]int, len(rows))}
	for i, row := range rows {
		w.keyBuf = AppendKey(w.keyBuf[:0], row, keyIdx)
		w.index[string(w.keyBuf)] = i
	}
	return w
}

// Covers tells whether a change of t concerns this window's table. Tables are compared by
// namespace and name: the stream and the snapshot each build their own descriptions.
func (w *Window) Covers(t *decoder.Table) bool {
	return t != nil && w.Table != nil && t.Namespace == w.Table.Namespace && t.Name == w.Table.Name
}

// Observe takes a streamed change of the window's table (see Covers) committed before the
// high watermark: its keys, before and after, leave the chunk. A truncate empties it. A change
// whose table no longer has the chunk's columns makes the window invalid (see Valid): its rows
// were read under another shape, so the chunk must be read again.
func (w *Window) Observe(c *decoder.Change) {
	if w.invalid || c == nil {
		return
	}
	if !sameShape(c.Table, w.Table) {
		w.invalid = true
		return
	}
	switch c.Op {
	case decoder.OpTruncate:
		clear(w.rows)
		clear(w.index)
		return
	}
	w.drop(c.Before)
	w.drop(c.After)
}

// drop removes the row with row's key, when row holds the whole key.
func (w *Window) drop(row []decoder.Value) {
	if len(row) == 0 {
		return
	}
	for _, k := range w.keyIdx {
		if k >= len(row) || row[k].State != decoder.ValueSet {
			// A key value not sent (NULL or an unchanged TOASTed one) cannot be matched; the
			// other image of the change names the row.
			return
		}
	}
	w.keyBuf = AppendKey(w.keyBuf[:0], row, w.keyIdx)
	if i, ok := w.index[string(w.keyBuf)]; ok {
		w.rows[i] = nil
		delete(w.index, string(w.keyBuf))
	}
}

// Valid tells whether the chunk's rows can still be emitted; false means it must be read again.
func (w *Window) Valid() bool { return !w.invalid }

// Rows returns the rows left, in the order read.
func (w *Window) Rows() [][]decoder.Value {
	out := make([][]decoder.Value, 0, len(w.index))
	for _, r := range w.rows {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Dropped returns how many rows of the chunk the stream replaced.
func (w *Window) Dropped() int {
	n := 0
	for _, r := range w.rows {
		if r == nil {
			n++
		}
	}
	return n
}

// sameShape tells whether rows of a and b line up column by column.
func sameShape(a, b *decoder.Table) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || len(a.Columns) != len(b.Columns) {
		return false
	}
	for i := range a.Columns {
		ca, cb := &a.Columns[i], &b.Columns[i]
		if ca.Name != cb.Name || ca.Type != cb.Type || ca.SourceTypeID != cb.SourceTypeID || ca.Scale != cb.Scale {
			return false
		}
	}
	return true
}

// AppendKey appends an encoding of the values at idx of row to dst: equal keys, as the
// decoders produce them for the same column type, encode equally, and different ones
// differently (each value is tagged and length-prefixed).
func AppendKey(dst []byte, row []decoder.Value, idx []int) []byte {
	for _, i := range idx {
		dst = appendValue(dst, &row[i])
	}
	return dst
}

func appendValue(dst []byte, v *decoder.Value) []byte {
	dst = append(dst, byte(v.State))
	if v.State != decoder.ValueSet {
		return dst
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.Int))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v.Float))
	dst = binary.BigEndian.AppendUint32(dst, uint32(v.Scale))
	dst = binary.AppendUvarint(dst, uint64(len(v.Bytes)))
	dst = append(dst, v.Bytes...)
	dst = binary.AppendUvarint(dst, uint64(len(v.Elems)))
	for i := range v.Elems {
		dst = appendValue(dst, &v.Elems[i])
	}
	return dst
}
