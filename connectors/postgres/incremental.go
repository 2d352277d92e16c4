package postgres

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pglogrepl"
	"github.com/rs/zerolog"
)

// watermarkPrefix is the prefix of the logical decoding messages that close an incremental
// snapshot's windows. Their content is "<slot>:<window id>": every slot of the database
// receives them, and each source acts only on its own.
const watermarkPrefix = "cdcd-watermark"

// The signal types of the signal table, Debezium's names.
const (
	signalExecuteSnapshot = "execute-snapshot"
	signalStopSnapshot    = "stop-snapshot"
)

// maxSignalID bounds the id of a signal, which every position of the snapshot carries.
const maxSignalID = 256

// incrementalProgress is how far an incremental snapshot got: the tables still to read, the
// one being read first; within it, the last key emitted (After) and the greatest key it had
// when its reading began (Max, nil before that was read), as text.
type incrementalProgress struct {
	ID     string   `json:"id"`
	Tables []string `json:"tables"`
	After  []string `json:"after,omitempty"`
	Max    []string `json:"max,omitempty"`
}

// check rejects progress that cannot come from this package.
func (p *incrementalProgress) check() error {
	switch {
	case p.ID == "" || len(p.ID) > maxSignalID:
		return fmt.Errorf("incremental snapshot id of %d bytes", len(p.ID))
	case len(p.Tables) == 0:
		return fmt.Errorf("incremental snapshot %s without tables", p.ID)
	case p.Max != nil && len(p.Max) == 0:
		// encode omits an empty key: it would not read back the same.
		return fmt.Errorf("incremental snapshot %s has an empty greatest key", p.ID)
	case p.After != nil && p.Max == nil:
		return fmt.Errorf("incremental snapshot %s resumes after a key without a greatest key", p.ID)
	case p.After != nil && len(p.After) != len(p.Max):
		return fmt.Errorf("incremental snapshot %s has %d key values after and %d in the greatest key", p.ID, len(p.After), len(p.Max))
	}
	for _, t := range p.Tables {
		if _, _, ok := splitTable(t); !ok {
			return fmt.Errorf("incremental snapshot table %q is not schema.table", t)
		}
	}
	return nil
}

// next returns the progress once the current table is done: the next table from its start,
// or nil when none is left.
func (p *incrementalProgress) next() *incrementalProgress {
	if len(p.Tables) <= 1 {
		return nil
	}
	return &incrementalProgress{ID: p.ID, Tables: slices.Clone(p.Tables[1:])}
}

// with returns p with the tables add after its own: a new value, since p may be shared with
// positions already encoded.
func (p *incrementalProgress) with(add []string) *incrementalProgress {
	out := *p
	out.Tables = append(slices.Clone(p.Tables), add...)
	return &out
}

// without returns p without the tables drop, nil when none is left (or p is nil). The point
// reached in the first table is kept when that table is.
func (p *incrementalProgress) without(drop []string) *incrementalProgress {
	if p == nil {
		return nil
	}
	left := slices.DeleteFunc(slices.Clone(p.Tables), func(t string) bool { return slices.Contains(drop, t) })
	if len(left) == 0 {
		return nil
	}
	out := &incrementalProgress{ID: p.ID, Tables: left}
	if left[0] == p.Tables[0] {
		out.After, out.Max = p.After, p.Max
	}
	return out
}

// signal is one row inserted into the signal table.
type signal struct {
	id, kind string
	// tables are the data-collections the signal names.
	tables []string
}

// signalData is the JSON of a signal's data column, as Debezium reads it.
type signalData struct {
	DataCollections []string `json:"data-collections"`
	Type            string   `json:"type"`
}

// parseSignal reads a row of the signal table: columns id, type and data (JSON).
func parseSignal(ch *decoder.Change) (signal, error) {
	var sig signal
	var data string
	for i, c := range ch.Table.Columns {
		if i >= len(ch.After) || ch.After[i].State != decoder.ValueSet {
			continue
		}
		switch c.Name {
		case "id":
			sig.id = string(ch.After[i].Bytes)
		case "type":
			sig.kind = string(ch.After[i].Bytes)
		case "data":
			data = string(ch.After[i].Bytes)
		}
	}
	switch {
	case sig.id == "":
		return sig, fmt.Errorf("signal without an id")
	case len(sig.id) > maxSignalID:
		return sig, fmt.Errorf("signal id of %d bytes (at most %d)", len(sig.id), maxSignalID)
	case sig.kind != signalExecuteSnapshot && sig.kind != signalStopSnapshot:
		return sig, fmt.Errorf("signal %s: type %q is not supported (use %s or %s)", sig.id, sig.kind, signalExecuteSnapshot, signalStopSnapshot)
	}
	var d signalData
	if strings.TrimSpace(data) != "" {
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return sig, fmt.Errorf("signal %s: data is not JSON like {\"data-collections\": [\"public.orders\"]}: %w", sig.id, err)
		}
	}
	if d.Type != "" && !strings.EqualFold(d.Type, "incremental") {
		return sig, fmt.Errorf("signal %s: snapshot type %q is not supported (use incremental)", sig.id, d.Type)
	}
	if sig.kind == signalExecuteSnapshot && len(d.DataCollections) == 0 {
		return sig, fmt.Errorf("signal %s: %s names no data-collections", sig.id, signalExecuteSnapshot)
	}
	sig.tables = d.DataCollections
	return sig, nil
}

// incremental is the incremental snapshot's state on the stream's side: the signals of the
// open transaction, the progress, the open window. The assembler owns it.
type incremental struct {
	slot string
	// sigSchema and sigTable name the signal table.
	sigSchema, sigTable string
	// captured are the configured tables; empty means any table of the publication.
	captured []string
	log      zerolog.Logger
	now      func() time.Time
	every    time.Duration

	prog    *incrementalProgress
	pending []signal
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
	sig, err := parseSignal(ch)
	if err != nil {
		inc.log.Error().Err(err).Str("signal_table", inc.sigSchema+"."+inc.sigTable).Msg("signal ignored")
		return
	}
	inc.pending = append(inc.pending, sig)
}

// committed applies the signals of the transaction that commits, and notes its xid.
func (inc *incremental) committed(xid uint32) {
	inc.recent[inc.recentNext] = xid
	inc.recentNext = (inc.recentNext + 1) % recentXIDs
	inc.recentLen = min(inc.recentLen+1, recentXIDs)
	for _, sig := range inc.pending {
		switch sig.kind {
		case signalExecuteSnapshot:
			inc.execute(sig)
		case signalStopSnapshot:
			inc.stop(sig)
		}
	}
	inc.pending = inc.pending[:0]
}

// aborted forgets the signals of a transaction the resume position drops.
func (inc *incremental) aborted() { inc.pending = inc.pending[:0] }

func (inc *incremental) execute(sig signal) {
	var add []string
	for _, t := range sig.tables {
		switch _, _, ok := splitTable(t); {
		case !ok:
			inc.log.Error().Str("signal", sig.id).Str("table", t).Msg("incremental snapshot: table name is not schema.table; skipped")
		case t == inc.sigSchema+"."+inc.sigTable:
			inc.log.Error().Str("signal", sig.id).Str("table", t).Msg("incremental snapshot: the signal table is not captured; skipped")
		case len(inc.captured) > 0 && !slices.Contains(inc.captured, t):
			inc.log.Error().Str("signal", sig.id).Str("table", t).Msg("incremental snapshot: table is not captured by this connector; skipped")
		case inc.prog != nil && slices.Contains(inc.prog.Tables, t), slices.Contains(add, t):
		default:
			add = append(add, t)
		}
	}
	if len(add) == 0 {
		return
	}
	if inc.prog == nil {
		inc.prog = &incrementalProgress{ID: sig.id, Tables: add}
		inc.cur = nil
		inc.log.Info().Str("signal", sig.id).Strs("tables", add).Msg("incremental snapshot starting")
		return
	}
	// Added to the running snapshot, as Debezium does: a new progress value, since positions
	// already encoded share nothing with it but their bytes.
	inc.prog = inc.prog.with(add)
	if inc.window != nil {
		// The open window's progress replaces prog at its watermark: it must have them too.
		if inc.windowNext == nil {
			inc.windowNext = &incrementalProgress{ID: inc.prog.ID, Tables: slices.Clone(add)}
		} else {
			inc.windowNext = inc.windowNext.with(add)
		}
	}
	inc.log.Info().Str("signal", sig.id).Str("snapshot", inc.prog.ID).Strs("tables", add).Msg("incremental snapshot: tables added")
}

func (inc *incremental) stop(sig signal) {
	if inc.prog == nil {
		return
	}
	if len(sig.tables) == 0 {
		inc.log.Info().Str("signal", sig.id).Str("snapshot", inc.prog.ID).Msg("incremental snapshot stopped")
		inc.prog, inc.window, inc.windowNext = nil, nil, nil
		return
	}
	p := inc.prog.without(sig.tables)
	if p == nil || p.Tables[0] != inc.prog.Tables[0] {
		// The table being read is stopped: its window's rows must not come out.
		inc.window, inc.windowNext = nil, nil
		inc.cur = nil
	} else if inc.window != nil {
		// The open window's progress replaces prog at its watermark: the stopped tables
		// must be gone from it too.
		inc.windowNext = inc.windowNext.without(sig.tables)
	}
	inc.log.Info().Str("signal", sig.id).Str("snapshot", inc.prog.ID).Strs("tables", sig.tables).Msg("incremental snapshot: tables stopped")
	inc.prog = p
}

// needsChunk tells whether a chunk is to be read now.
func (inc *incremental) needsChunk() bool { return inc.prog != nil && inc.window == nil }

// opened takes the window of the chunk just read and the progress once its rows are out.
func (inc *incremental) opened(w *snapshot.Window, next *incrementalProgress, estimate float64) {
	inc.window, inc.windowNext, inc.estimate = w, next, estimate
}

// observe takes a streamed change of a captured table, before the window's watermark.
func (inc *incremental) observe(ch *decoder.Change) {
	if inc.window != nil && inc.window.Covers(ch.Table) {
		inc.window.Observe(ch)
	}
}

// watermark handles a watermark message at walStart. When it closes this source's open
// window, the rows left are emitted as one source transaction after prevEnd, whose Commit
// carries the progress past them; a window the table's change of shape made invalid is read
// again instead.
func (inc *incremental) watermark(content []byte, walStart, prevEnd pglogrepl.LSN, emit func(pipeline.Event) error) error {
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
	if err := emit(pipeline.Event{Kind: pipeline.EventBegin, Position: position{lsn: prevEnd, incr: inc.prog}.encode()}); err != nil {
		return err
	}
	now := inc.now()
	for _, row := range rows {
		ch := &decoder.Change{Op: decoder.OpRead, Table: w.Table, After: row,
			Source: decoder.SourceInfo{CommitTime: now, Snapshot: decoder.SnapshotIncremental, LSN: uint64(walStart)}}
		if err := emit(pipeline.Event{Kind: pipeline.EventChange, Change: ch}); err != nil {
			return err
		}
	}
	done := inc.prog.Tables[0]
	if inc.cur == nil || inc.cur.Table() != done {
		inc.cur = snapshot.NewProgress(inc.log, inc.every, inc.now, "incremental snapshot", done, inc.estimate)
		inc.cur.ReportTo(inc.board, true)
	}
	inc.cur.Add(len(rows))
	inc.prog, inc.windowNext = inc.windowNext, nil
	if err := emit(pipeline.Event{Kind: pipeline.EventCommit, Position: position{lsn: prevEnd, incr: inc.prog}.encode()}); err != nil {
		return err
	}
	if inc.prog == nil || inc.prog.Tables[0] != done {
		inc.cur.Done()
		inc.cur = nil
		if inc.prog == nil {
			inc.log.Info().Msg("incremental snapshot done")
		}
	}
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
