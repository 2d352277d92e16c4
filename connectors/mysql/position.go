package mysql

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/offsets"
)

// Position is a point in the binlog: the transactions before it (GTIDs), the binlog file and
// offset of that point, and, inside a transaction, which one (Tx). See the package
// documentation for what each event's position holds and how Stream resumes from it.
type Position struct {
	// GTIDs are the transactions completed before this point.
	GTIDs GTIDSet
	// File and Pos are the binlog file and byte offset of this point.
	File string
	Pos  uint64
	// Tx is the GTID of the transaction that starts here, for a position inside it (a Begin
	// position); empty at a transaction boundary.
	Tx string
	// Snapshot, set only on the positions of an unfinished initial snapshot, is where its
	// reading goes on; GTIDs, File and Pos are then the snapshot's point, where streaming
	// starts after it.
	Snapshot *SnapshotProgress
	// Incremental, set on every position while an incremental snapshot runs (never with
	// Snapshot), is how far it got.
	Incremental *IncrementalProgress
}

// SnapshotProgress is how far an initial snapshot got: the table read next, and the primary
// key values (as text; hex for binary columns) of the last row read from it, nil for its start.
type SnapshotProgress struct {
	Table string   `json:"table"`
	After []string `json:"after,omitempty"`
}

// positionJSON is the wire form of a Position in offsets.Position.Source.
type positionJSON struct {
	Flavor string `json:"flavor"`
	GTIDs  string `json:"gtids"`
	File   string `json:"file,omitempty"`
	Pos    uint64 `json:"pos,omitempty"`
	Tx     string `json:"tx,omitempty"`

	Snapshot *SnapshotProgress `json:"snapshot,omitempty"`
	// Incremental is written last, so that positions without one read as before.
	Incremental *IncrementalProgress `json:"incremental,omitempty"`
}

// IsZero tells whether p is the zero Position: start at the server's current binlog end.
func (p Position) IsZero() bool {
	return p.GTIDs.flavor == FlavorUnknown && p.File == "" && p.Pos == 0 && p.Tx == "" && p.Snapshot == nil && p.Incremental == nil
}

// streaming returns p without its snapshot progress: where streaming starts.
func (p Position) streaming() Position {
	p.Snapshot = nil
	return p
}

// String returns p as the JSON stored in offsets.Position.Source; ParsePosition reads it back.
func (p Position) String() string {
	if p.IsZero() {
		return ""
	}
	w := positionJSON{Flavor: p.GTIDs.flavor.String(), GTIDs: p.GTIDs.String(), File: p.File, Pos: p.Pos, Tx: p.Tx, Snapshot: p.Snapshot,
		Incremental: p.Incremental}
	// Marshalling strings and a number cannot fail.
	b, _ := json.Marshal(w)
	return string(b)
}

// ParsePosition reads the JSON String writes; the empty string is the zero Position.
func ParsePosition(s string) (Position, error) {
	if s == "" {
		return Position{}, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var w positionJSON
	if err := dec.Decode(&w); err != nil {
		return Position{}, badPosition("%s: %v", s, err)
	}
	if dec.More() {
		return Position{}, badPosition("%s: trailing data", s)
	}
	f, ok := parseFlavor(w.Flavor)
	if !ok {
		return Position{}, badPosition("%s: flavor %q is neither mysql nor mariadb", s, w.Flavor)
	}
	set, err := ParseGTIDSet(f, w.GTIDs)
	if err != nil {
		return Position{}, badPosition("%s: %v", s, err)
	}
	if (w.File == "") != (w.Pos == 0) {
		return Position{}, badPosition("%s: file and pos go together", s)
	}
	if w.Tx != "" {
		if _, err := set.With(w.Tx); err != nil {
			return Position{}, badPosition("%s: tx: %v", s, err)
		}
	}
	if set.IsEmpty() && w.File == "" {
		return Position{}, badPosition("%s: neither GTIDs nor file and pos", s)
	}
	if w.Snapshot != nil {
		if _, _, ok := splitTable(w.Snapshot.Table); !ok || w.Tx != "" {
			return Position{}, badPosition("%s: snapshot progress needs a database.table and no tx", s)
		}
	}
	if w.Incremental != nil {
		if err := w.Incremental.Check(validTable); err != nil {
			return Position{}, badPosition("%s: %v", s, err)
		}
		if w.Snapshot != nil {
			return Position{}, badPosition("%s: an incremental snapshot during the initial one", s)
		}
	}
	return Position{GTIDs: set, File: w.File, Pos: w.Pos, Tx: w.Tx, Snapshot: w.Snapshot, Incremental: w.Incremental}, nil
}

// encode returns p with skip as an offsets.Position.
func (p Position) encode(skip int64) offsets.Position {
	return offsets.Position{Source: json.RawMessage(p.String()), Skip: skip}
}

// decodePosition reads an offsets.Position; the zero one gives the zero Position.
func decodePosition(pos offsets.Position) (Position, int64, error) {
	if pos.IsZero() {
		return Position{}, 0, nil
	}
	if pos.Skip < 0 {
		return Position{}, 0, badPosition("negative skip %d in %s", pos.Skip, pos)
	}
	p, err := ParsePosition(string(bytes.TrimSpace(pos.Source)))
	if err != nil {
		return Position{}, 0, err
	}
	if pos.Skip > 0 && p.Snapshot != nil {
		// A snapshot chunk's Begin stored with a Skip (the pipeline cut the chunk): the chunk
		// is read again whole, in a new snapshot that need not order its rows alike.
		return p, 0, nil
	}
	if pos.Skip > 0 && p.Tx == "" {
		// A Begin between two binlog transactions opens one of the source's own: an
		// incremental snapshot chunk, read again whole as above, or a heartbeat, of which
		// nothing is left to deliver (its Begin is the stream's position). The Skip can exceed
		// the heartbeat's one record: resumed at that Begin, the pipeline counts on from the
		// stored Skip when the next heartbeat's Begin is the same position.
		return p, 0, nil
	}
	return p, pos.Skip, nil
}

// compare orders p and q, -1, 0 or +1, and tells whether they are comparable at all. The GTID
// sets decide when they differ: one must contain the other. With equal sets, the binlog
// coordinates decide (a Begin position sits at its GTID event, after the previous commit); at
// equal coordinates a commit position (no Tx) is the end of the transaction before the one a
// Begin position (with Tx) opens, so it comes first. (A Begin and the commit of its own
// transaction have different GTID sets.) Snapshot progress is not compared: the positions of
// one snapshot all sit at its point.
func (p Position) compare(q Position) (int, bool) {
	if p.GTIDs.flavor != q.GTIDs.flavor && !p.GTIDs.IsEmpty() && !q.GTIDs.IsEmpty() {
		return 0, false
	}
	if !p.GTIDs.Equal(q.GTIDs) {
		switch {
		case q.GTIDs.Contains(p.GTIDs):
			return -1, true
		case p.GTIDs.Contains(q.GTIDs):
			return 1, true
		default:
			return 0, false
		}
	}
	c, ok := compareFilePos(p.File, p.Pos, q.File, q.Pos)
	if !ok || c != 0 {
		return c, ok
	}
	switch {
	case p.Tx == q.Tx:
		return 0, true
	case p.Tx == "":
		return -1, true
	case q.Tx == "":
		return 1, true
	}
	return 0, false
}

// compareFilePos orders binlog coordinates. Files of one basename are ordered by their
// numeric extension (mysql-bin.000009 < mysql-bin.000010); files of different basenames are
// not comparable.
func compareFilePos(f1 string, p1 uint64, f2 string, p2 uint64) (int, bool) {
	if f1 == "" || f2 == "" {
		return 0, f1 == f2
	}
	if f1 != f2 {
		b1, n1, ok1 := splitBinlogName(f1)
		b2, n2, ok2 := splitBinlogName(f2)
		if !ok1 || !ok2 || b1 != b2 {
			return 0, false
		}
		if n1 < n2 {
			return -1, true
		}
		return 1, true
	}
	switch {
	case p1 < p2:
		return -1, true
	case p1 > p2:
		return 1, true
	}
	return 0, true
}

func splitBinlogName(f string) (string, uint64, bool) {
	i := strings.LastIndexByte(f, '.')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(f[i+1:], 10, 64)
	return f[:i], n, err == nil
}

// frontier is a resume point that only moves forward: a position and the changes of its
// transaction already delivered.
type frontier struct {
	pos  Position
	skip int64
}

// advance moves f to (p, skip), failing with ErrPositionBackwards when that is behind f, or
// not comparable with it (another server's binlog, a GTID set that is not a superset).
func (f *frontier) advance(p Position, skip int64) error {
	if f.pos.IsZero() {
		f.pos, f.skip = p, skip
		return nil
	}
	c, ok := f.pos.compare(p)
	if !ok {
		return badPositionBackwards(f.pos, f.skip, p, skip, "not comparable")
	}
	if c > 0 || c == 0 && skip < f.skip {
		return badPositionBackwards(f.pos, f.skip, p, skip, "behind")
	}
	f.pos, f.skip = p, skip
	return nil
}

func badPositionBackwards(from Position, fromSkip int64, to Position, toSkip int64, why string) error {
	return &backwardsError{from: from.encode(fromSkip).String(), to: to.encode(toSkip).String(), why: why}
}

type backwardsError struct{ from, to, why string }

func (e *backwardsError) Error() string {
	return ErrPositionBackwards.Error() + ": " + e.to + " is " + e.why + " " + e.from
}

func (e *backwardsError) Unwrap() error { return ErrPositionBackwards }
