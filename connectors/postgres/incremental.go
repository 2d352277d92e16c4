package postgres

import (
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pglogrepl"
	"github.com/rs/zerolog"
)

// watermarkPrefix is the prefix of the logical decoding messages that close an incremental
// snapshot's windows. Their content is "<slot>:<window id>": every slot of the database
// receives them, and each source acts only on its own.
const watermarkPrefix = "cdcd-watermark"

// incrementalProgress is how far an incremental snapshot got (see snapshot.IncrementalProgress):
// tables are "schema.table".
type incrementalProgress = snapshot.IncrementalProgress

// signal is one row inserted into the signal table.
type signal = snapshot.Signal

// incremental is the incremental snapshot's state on the stream's side: the signals of the
// open transaction, the progress, the open window. The assembler owns it.
type incremental struct {
	slot string
	// sigSchema and sigTable name the signal table.
	sigSchema, sigTable string
	// captured are the configured tables; empty means any table of the publication.
	captured []string
	// unwritten marks the ops (insert, update) whose changes the pipeline skips: they leave
	// the window's rows in place (see Config.SkippedOperations).
	unwritten [256]bool
	log       zerolog.Logger
	now       func() time.Time
	every     time.Duration

	prog *incrementalProgress
	// signals are those of the open transaction.
	signals snapshot.Signals
	// regaps are the re-reads the open transaction asks for, of tables whose changes the
	// publication lost (see publication.go).
	regaps []signal
	// window is the chunk waiting for its watermark; nil when none is read. windowNext is the
	// progress once its rows are out, windowRead how many rows the chunk held.
	window     *snapshot.Window
	windowNext *incrementalProgress
	// recent are the xids of the last transactions delivered, a ring: the chunk reader checks
	// that its snapshot sees them.
	recent     [recentXIDs]uint32
	recentNext int
	recentLen  int
	// cur is the progress of the table being read, from its first chunk; estimate is its
	// estimated row count, from the last chunk read.
	cur      *snapshot.Progress
	estimate float64
	board    *snapshot.Board
}

// recentXIDs is how many delivered transactions the visibility check covers: a transaction is
// delivered long after its commit became visible, except in a race of microseconds, so the
// last few suffice.
const recentXIDs = 64

func newIncremental(cfg Config, resume *incrementalProgress) *incremental {
	inc := &incremental{slot: cfg.Slot, captured: cfg.Tables, log: cfg.Logger, now: time.Now,
		every: cfg.SnapshotProgressEvery, prog: resume, board: cfg.Progress}
	inc.sigSchema, inc.sigTable, _ = splitTable(cfg.SignalTable)
	for _, op := range cfg.SkippedOperations {
		if op == decoder.OpCreate || op == decoder.OpUpdate {
			inc.unwritten[op] = true
		}
	}
	return inc
}

// isSignal tells whether t is the signal table.
func (inc *incremental) isSignal(t *decoder.Table) bool {
	return inc.sigTable != "" && t != nil && t.Name == inc.sigTable && t.Namespace == inc.sigSchema
}

// signalled takes a change of the signal table: an insert is a signal, applied when its
// transaction commits.
func (inc *incremental) signalled(ch *decoder.Change) {
	if ch.Op != decoder.OpCreate {
		return
	}
	inc.signals.Add(inc.log, inc.sigSchema+"."+inc.sigTable, ch.Table, ch.After)
}

// committed applies the signals of the transaction that commits, and notes its xid.
func (inc *incremental) committed(xid uint32) {
	inc.recent[inc.recentNext] = xid
	inc.recentNext = (inc.recentNext + 1) % recentXIDs
	inc.recentLen = min(inc.recentLen+1, recentXIDs)
	inc.signals.Apply(inc.execute, inc.stop)
	inc.applyResnapshots()
}

// aborted forgets the signals of a transaction the resume position drops.
func (inc *incremental) aborted() { inc.signals.Drop(); inc.regaps = inc.regaps[:0] }

func (inc *incremental) execute(sig signal) {
	prog, add := snapshot.Execute(inc.log, inc.prog, sig, snapshot.Tables{
		Form:      "schema.table",
		Qualified: func(t string) bool { _, _, ok := splitTable(t); return ok },
		Canonical: connectors.CanonicalTable,
		Signal:    connectors.JoinTable(inc.sigSchema, inc.sigTable),
		Captures:  func(t string) bool { return len(inc.captured) == 0 || slices.Contains(inc.captured, t) },
	})
	switch {
	case len(add) == 0:
	case inc.prog == nil:
		inc.prog, inc.cur = prog, nil
	case inc.window != nil:
		// The open window's progress replaces prog at its watermark: it must have them too.
		inc.prog = prog
		if inc.windowNext == nil {
			inc.windowNext = &incrementalProgress{ID: inc.prog.ID, Tables: slices.Clone(add)}
		} else {
			inc.windowNext = inc.windowNext.With(add)
		}
	default:
		inc.prog = prog
	}
}

func (inc *incremental) stop(sig signal) {
	prog, current := snapshot.Stop(inc.log, inc.prog, sig)
	if inc.prog == nil {
		return
	}
	if current {
		// The table being read is stopped: its window's rows must not come out.
		inc.window, inc.windowNext = nil, nil
		inc.cur = nil
	} else if inc.window != nil {
		// The open window's progress replaces prog at its watermark: the stopped tables
		// must be gone from it too.
		inc.windowNext = inc.windowNext.Without(sig.Tables)
	}
	inc.prog = prog
}

// needsChunk tells whether a chunk is to be read now.
func (inc *incremental) needsChunk() bool { return inc.prog != nil && inc.window == nil }

// opened takes the window of the chunk just read and the progress once its rows are out.
func (inc *incremental) opened(w *snapshot.Window, next *incrementalProgress, estimate float64) {
	inc.window, inc.windowNext, inc.estimate = w, next, estimate
}

// observe takes a streamed change of a captured table, before the window's watermark.
func (inc *incremental) observe(ch *decoder.Change) {
	if inc.window == nil || !inc.window.Covers(ch.Table) {
		return
	}
	if del, create, split := decoder.SplitKeyChange(ch); split {
		// Written as a delete and a create, each skipped or not on its own (pipeline).
		inc.observeWritten(del)
		inc.observeWritten(create)
		return
	}
	inc.observeWritten(ch)
}

// observeWritten hands ch to the window, without its rows when the pipeline will not write
// it: the window still checks the table's shape, but keeps the rows ch changed.
func (inc *incremental) observeWritten(ch *decoder.Change) {
	if inc.unwritten[ch.Op] {
		shape := *ch
		shape.Before, shape.After = nil, nil
		ch = &shape
	}
	inc.window.Observe(ch)
}

// watermark handles a watermark message at walStart. When it closes this source's open
// window, the rows left are emitted as one source transaction after prevEnd, whose Commit
// carries the progress past them; a window the table's change of shape made invalid is read
// again instead.
func (inc *incremental) watermark(content []byte, walStart, prevEnd pglogrepl.LSN, emit func(connectors.Event) error) error {
	w := inc.window
	if w == nil || string(content) != inc.slot+":"+w.ID {
		return nil // another slot's, or a window of a run before a restart
	}
	inc.window = nil
	if !w.Valid() {
		inc.log.Info().Str("table", w.Table.Namespace+"."+w.Table.Name).
			Msg("incremental snapshot: the table changed shape during a chunk; reading it again")
		return nil
	}
	rows := w.Rows()
	if err := emit(connectors.Event{Kind: connectors.EventBegin, Position: position{lsn: prevEnd, incr: inc.prog}.encode()}); err != nil {
		return err
	}
	now := inc.now()
	for _, row := range rows {
		ch := &decoder.Change{Op: decoder.OpRead, Table: w.Table, After: row,
			Source: NewSourceInfo(now, decoder.SnapshotIncremental, 0, uint64(walStart))}
		if err := emit(connectors.Event{Kind: connectors.EventChange, Change: ch}); err != nil {
			return err
		}
	}
	done := inc.prog.Tables[0]
	reading := snapshot.Reading{Log: inc.log, Every: inc.every, Now: inc.now, Board: inc.board}
	inc.cur = reading.Read(inc.cur, done, inc.estimate, len(rows))
	inc.prog, inc.windowNext = inc.windowNext, nil
	if err := emit(connectors.Event{Kind: connectors.EventCommit, Position: position{lsn: prevEnd, incr: inc.prog}.encode()}); err != nil {
		return err
	}
	inc.cur = reading.Next(inc.cur, done, inc.prog)
	inc.log.Debug().Str("table", done).Int("rows", len(rows)).Int("replaced_by_stream", w.Dropped()).Msg("incremental snapshot chunk emitted")
	return nil
}

// delivered returns the xids of the last transactions delivered.
func (inc *incremental) delivered() []uint32 {
	out := make([]uint32, 0, inc.recentLen)
	for i := range inc.recentLen {
		out = append(out, inc.recent[(inc.recentNext-1-i+recentXIDs)%recentXIDs])
	}
	return out
}
