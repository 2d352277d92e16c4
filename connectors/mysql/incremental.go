package mysql

import (
	"fmt"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/rs/zerolog"
)

// This file is the incremental snapshot's state on the stream's side: the signals, the
// progress every position carries, and the chunk read but not emitted yet. The assembler owns
// it; chunks are read by incrementalread.go. It has no network code.

// incrementalLogEvery is how often the progress of the table being read is logged.
const incrementalLogEvery = 10 * time.Second

// IncrementalProgress is how far an incremental snapshot got (see
// snapshot.IncrementalProgress): tables are "database.table", key values as text like
// SnapshotProgress.After (hex for binary columns).
type IncrementalProgress = snapshot.IncrementalProgress

// signal is one row inserted into the signal table.
type signal = snapshot.Signal

// binlogPoint is a point in the binlog: a file and a byte offset in it.
type binlogPoint struct {
	file string
	pos  uint64
}

// reached tells whether a stream standing at p has read everything before s: p is at or
// after s (a later file counts as after). Points of binlogs of different names are not
// comparable and never reached.
func (p binlogPoint) reached(s binlogPoint) bool {
	c, ok := compareFilePos(p.file, p.pos, s.file, s.pos)
	return ok && c >= 0
}

// after tells whether p is strictly after s, both comparable.
func (p binlogPoint) after(s binlogPoint) bool {
	c, ok := compareFilePos(p.file, p.pos, s.file, s.pos)
	return ok && c > 0
}

// advance moves p to q when q is later. A point of a binlog of another name (a failover)
// replaces p: the old one says nothing of the new binlog.
func (p *binlogPoint) advance(q binlogPoint) {
	c, ok := compareFilePos(p.file, p.pos, q.file, q.pos)
	if !ok || c < 0 {
		*p = q
	}
}

func (p binlogPoint) String() string { return fmt.Sprintf("%s:%d", p.file, p.pos) }

// chunk is an incremental snapshot's chunk read but not emitted yet: the rows of table name,
// decoded with ct (the description when it was read), as of binlog point at, and the
// progress once they are out.
type chunk struct {
	at   binlogPoint
	name string
	// ct is nil for a chunk without rows that only moves the progress (a table skipped).
	ct   *capturedTable
	rows [][]decoder.Value
	next *IncrementalProgress
	// estimate is the table's row count as information_schema.TABLES estimates it.
	estimate int64
}

// incremental is the incremental snapshot's state on the stream's side.
type incremental struct {
	flavor Flavor
	sc     scope
	log    zerolog.Logger
	now    func() time.Time

	prog *IncrementalProgress
	// signals are those of the open transaction.
	signals snapshot.Signals
	// held is the chunk read and waiting for the stream to reach its point; nil when none.
	held *chunk
	// waitEvent defers the next chunk until the stream has handled one more event: the last
	// read failed on a table whose definition the stream has not caught up with yet.
	waitEvent bool

	// cur is the progress of the table being read, from its first chunk; board receives it.
	cur   *snapshot.Progress
	board *snapshot.Board
}

func newIncremental(flavor Flavor, sc scope, log zerolog.Logger, resume *IncrementalProgress) *incremental {
	return &incremental{flavor: flavor, sc: sc, log: log, now: time.Now, prog: resume}
}

// signalled takes a row inserted into the signal table: a signal, applied when its
// transaction commits. A bad one is logged and ignored.
func (inc *incremental) signalled(t *decoder.Table, row []decoder.Value) {
	inc.signals.Add(inc.log, inc.sc.signal, t, row)
}

// committed applies the signals of the transaction that commits.
func (inc *incremental) committed() { inc.signals.Apply(inc.execute, inc.stop) }

// aborted forgets the signals of a transaction that is not delivered.
func (inc *incremental) aborted() { inc.signals.Drop() }

func (inc *incremental) execute(sig signal) {
	if inc.flavor != FlavorMariaDB {
		inc.log.Error().Str("signal", sig.ID).
			Msg("incremental snapshots need MariaDB for now (its consistent snapshot reports its binlog position; MySQL's does not); signal ignored")
		return
	}
	prog, add := snapshot.Execute(inc.log, inc.prog, sig, snapshot.Tables{
		Form:      "database.table",
		Qualified: func(t string) bool { _, _, ok := splitTable(t); return ok },
		Canonical: connectors.CanonicalTable,
		Signal:    inc.sc.signal,
		Captures:  func(t string) bool { db, name, _ := splitTable(t); return inc.sc.captures(db, name) },
	})
	switch {
	case len(add) == 0:
	case inc.prog == nil:
		inc.prog, inc.cur = prog, nil
	default:
		// The held chunk's progress after it lacks the added tables: it is read again.
		inc.prog, inc.held = prog, nil
	}
}

func (inc *incremental) stop(sig signal) {
	prog, current := snapshot.Stop(inc.log, inc.prog, sig)
	if inc.prog == nil {
		return
	}
	if current {
		inc.cur = nil
	}
	// The held chunk was read for the progress before: read again from the new one.
	inc.prog, inc.held = prog, nil
}

// needsChunk tells whether a chunk is to be read now.
func (inc *incremental) needsChunk() bool {
	return inc.prog != nil && inc.held == nil && !inc.waitEvent
}

// emit sends the held chunk as one source transaction at position at (the stream's position,
// between two transactions): Begin with the progress before it, its rows, Commit with the
// progress after. tables are the stream's current descriptions: a chunk whose table changed
// since it was read is dropped and read again instead.
func (inc *incremental) emit(at Position, tables map[string]*capturedTable, emit func(connectors.Event) error) error {
	c := inc.held
	inc.held = nil
	if c.ct != nil && tables[c.name] != c.ct {
		inc.log.Info().Str("table", c.name).Msg("incremental snapshot: the table changed shape during a chunk; reading it again")
		return nil
	}
	begin := at
	begin.Tx, begin.Snapshot, begin.Incremental = "", nil, inc.prog
	if err := emit(connectors.Event{Kind: connectors.EventBegin, Position: begin.encode(0)}); err != nil {
		return err
	}
	now := inc.now()
	for _, row := range c.rows {
		ch := &decoder.Change{Op: decoder.OpRead, Table: c.ct.table, After: row, Source: NewSourceInfo(
			now.UTC(), decoder.SnapshotIncremental, at.File, at.Pos, "", 0, 0)}
		if err := emit(connectors.Event{Kind: connectors.EventChange, Change: ch}); err != nil {
			return err
		}
	}
	reading := snapshot.Reading{Log: inc.log, Every: incrementalLogEvery, Now: inc.now, Board: inc.board}
	inc.cur = reading.Read(inc.cur, c.name, float64(c.estimate), len(c.rows))
	inc.prog = c.next
	commit := begin
	commit.Incremental = inc.prog
	if err := emit(connectors.Event{Kind: connectors.EventCommit, Position: commit.encode(0)}); err != nil {
		return err
	}
	inc.cur = reading.Next(inc.cur, c.name, inc.prog)
	return nil
}
