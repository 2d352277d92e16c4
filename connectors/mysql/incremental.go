package mysql

import (
	"fmt"
	"slices"
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

	prog    *IncrementalProgress
	pending []signal
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
	sig, err := snapshot.ParseSignal(t, row)
	if err != nil {
		inc.log.Error().Err(err).Str("signal_table", inc.sc.signal).Msg("signal ignored")
		return
	}
	inc.pending = append(inc.pending, sig)
}

// committed applies the signals of the transaction that commits.
func (inc *incremental) committed() {
	for _, sig := range inc.pending {
		switch sig.Kind {
		case snapshot.SignalExecute:
			inc.execute(sig)
		case snapshot.SignalStop:
			inc.stop(sig)
		}
	}
	inc.pending = inc.pending[:0]
}

// aborted forgets the signals of a transaction that is not delivered.
func (inc *incremental) aborted() { inc.pending = inc.pending[:0] }

func (inc *incremental) execute(sig signal) {
	if inc.flavor != FlavorMariaDB {
		inc.log.Error().Str("signal", sig.ID).
			Msg("incremental snapshots need MariaDB for now (its consistent snapshot reports its binlog position; MySQL's does not); signal ignored")
		return
	}
	var add []string
	for _, t := range sig.Tables {
		if c, err := connectors.CanonicalTable(t); err == nil {
			t = c // "shop"."x" names shop.x
		}
		db, name, ok := splitTable(t)
		switch {
		case !ok:
			inc.log.Error().Str("signal", sig.ID).Str("table", t).Msg("incremental snapshot: table name is not database.table; skipped")
		case t == inc.sc.signal:
			inc.log.Error().Str("signal", sig.ID).Str("table", t).Msg("incremental snapshot: the signal table is not captured; skipped")
		case !inc.sc.captures(db, name):
			inc.log.Error().Str("signal", sig.ID).Str("table", t).Msg("incremental snapshot: table is not captured by this connector; skipped")
		case inc.prog != nil && slices.Contains(inc.prog.Tables, t), slices.Contains(add, t):
		default:
			add = append(add, t)
		}
	}
	if len(add) == 0 {
		return
	}
	if inc.prog == nil {
		inc.prog = &IncrementalProgress{ID: sig.ID, Tables: add}
		inc.cur = nil
		inc.log.Info().Str("signal", sig.ID).Strs("tables", add).Msg("incremental snapshot starting")
		return
	}
	// Added to the running snapshot, as Debezium does: a new progress value, since positions
	// already encoded share it.
	p := *inc.prog
	p.Tables = append(slices.Clone(p.Tables), add...)
	inc.prog = &p
	// The held chunk's progress after it lacks the added tables: it is read again.
	inc.held = nil
	inc.log.Info().Str("signal", sig.ID).Str("snapshot", p.ID).Strs("tables", add).Msg("incremental snapshot: tables added")
}

func (inc *incremental) stop(sig signal) {
	if inc.prog == nil {
		return
	}
	if len(sig.Tables) == 0 {
		inc.log.Info().Str("signal", sig.ID).Str("snapshot", inc.prog.ID).Msg("incremental snapshot stopped")
		inc.prog, inc.held = nil, nil
		return
	}
	left := slices.DeleteFunc(slices.Clone(inc.prog.Tables), func(t string) bool { return slices.Contains(sig.Tables, t) })
	p := &IncrementalProgress{ID: inc.prog.ID, Tables: left}
	if len(left) > 0 && left[0] == inc.prog.Tables[0] {
		p.After, p.Max = inc.prog.After, inc.prog.Max
	} else {
		inc.cur = nil
	}
	// The held chunk was read for the progress before: read again from the new one.
	inc.held = nil
	inc.log.Info().Str("signal", sig.ID).Str("snapshot", p.ID).Strs("tables", sig.Tables).Msg("incremental snapshot: tables stopped")
	if len(left) == 0 {
		p = nil
	}
	inc.prog = p
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
	if inc.cur == nil || inc.cur.Table() != c.name {
		inc.cur = snapshot.NewProgress(inc.log, incrementalLogEvery, inc.now, "incremental snapshot", c.name, float64(c.estimate))
		inc.cur.ReportTo(inc.board, true)
	}
	inc.cur.Add(len(c.rows))
	inc.prog = c.next
	commit := begin
	commit.Incremental = inc.prog
	if err := emit(connectors.Event{Kind: connectors.EventCommit, Position: commit.encode(0)}); err != nil {
		return err
	}
	if inc.prog == nil || inc.prog.Tables[0] != c.name {
		inc.cur.Done()
		inc.cur = nil
		if inc.prog == nil {
			inc.log.Info().Msg("incremental snapshot done")
		}
	}
	return nil
}
