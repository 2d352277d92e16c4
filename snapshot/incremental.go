package snapshot

import (
	"context"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/rs/zerolog"
)

// This file is the signal machine of an incremental snapshot that both sources share: signals
// are gathered while their transaction is read and applied when it commits (execute-snapshot
// starts a snapshot or adds tables to the running one; stop-snapshot removes tables, or ends
// it), and the progress of the table being read is kept chunk after chunk. What a source does
// with its chunk in flight when a signal changes the progress (read it again, or carry the
// change into it) is the source's.

// Signals are the signals of the transaction being read, applied when it commits. The zero
// Signals is ready.
type Signals struct {
	pending []Signal
}

// Add takes row, inserted into the signal table described by t (named table, for the log): a
// signal, applied when its transaction commits. A bad one is logged and ignored.
func (s *Signals) Add(log zerolog.Logger, table string, t *decoder.Table, row []decoder.Value) {
	sig, err := ParseSignal(t, row)
	if err != nil {
		log.Error().Err(err).Str("signal_table", table).Msg("signal ignored")
		return
	}
	s.pending = append(s.pending, sig)
}

// Apply hands the signals of the transaction that commits, in order, to execute or stop, and
// forgets them.
func (s *Signals) Apply(execute, stop func(Signal)) {
	for _, sig := range s.pending {
		switch sig.Kind {
		case SignalExecute:
			execute(sig)
		case SignalStop:
			stop(sig)
		}
	}
	s.pending = s.pending[:0]
}

// Drop forgets the signals of a transaction that is not delivered.
func (s *Signals) Drop() { s.pending = s.pending[:0] }

// Tables are what Execute needs to know of a source's tables.
type Tables struct {
	// Form is how a qualified name reads ("schema.table"); Qualified tells whether a name is
	// one.
	Form      string
	Qualified func(name string) bool
	// Canonical returns a name's canonical form ("public"."x" names public.x), or an error
	// when it has none other than itself.
	Canonical func(name string) (string, error)
	// Signal names the signal table.
	Signal string
	// Captures tells whether the source captures the table of a qualified name.
	Captures func(name string) bool
}

// Execute applies an execute-snapshot signal to prog, the running snapshot (nil: none). A
// table sig names is taken in its canonical form, and skipped, with an error log, when it is
// not a qualified name, the signal table, or a table the source does not capture; and
// skipped when the snapshot reads it already. It returns the progress with the tables added
// after its own (a new value: positions already encoded share prog), or a new snapshot of
// them when none ran, and the tables added; none: prog unchanged.
func Execute(log zerolog.Logger, prog *IncrementalProgress, sig Signal, tables Tables) (*IncrementalProgress, []string) {
	var add []string
	for _, t := range sig.Tables {
		if c, err := tables.Canonical(t); err == nil {
			t = c
		}
		switch {
		case !tables.Qualified(t):
			log.Error().Str("signal", sig.ID).Str("table", t).Msg("incremental snapshot: table name is not " + tables.Form + "; skipped")
		case t == tables.Signal:
			log.Error().Str("signal", sig.ID).Str("table", t).Msg("incremental snapshot: the signal table is not captured; skipped")
		case !tables.Captures(t):
			log.Error().Str("signal", sig.ID).Str("table", t).Msg("incremental snapshot: table is not captured by this connector; skipped")
		case prog != nil && slices.Contains(prog.Tables, t), slices.Contains(add, t):
		default:
			add = append(add, t)
		}
	}
	switch {
	case len(add) == 0:
		return prog, nil
	case prog == nil:
		log.Info().Str("signal", sig.ID).Strs("tables", add).Msg("incremental snapshot starting")
		return &IncrementalProgress{ID: sig.ID, Tables: add}, add
	}
	// Added to the running snapshot, as Debezium does.
	log.Info().Str("signal", sig.ID).Str("snapshot", prog.ID).Strs("tables", add).Msg("incremental snapshot: tables added")
	return prog.With(add), add
}

// Stop applies a stop-snapshot signal to prog, the running snapshot (nil: none): without
// tables, the snapshot ends; with, they leave it. It returns the progress left (nil: none),
// and whether the reading of the table being read stops (so its chunk in flight must not
// come out).
func Stop(log zerolog.Logger, prog *IncrementalProgress, sig Signal) (*IncrementalProgress, bool) {
	if prog == nil {
		return nil, false
	}
	if len(sig.Tables) == 0 {
		log.Info().Str("signal", sig.ID).Str("snapshot", prog.ID).Msg("incremental snapshot stopped")
		return nil, true
	}
	p := prog.Without(sig.Tables)
	log.Info().Str("signal", sig.ID).Str("snapshot", prog.ID).Strs("tables", sig.Tables).Msg("incremental snapshot: tables stopped")
	return p, p == nil || p.Tables[0] != prog.Tables[0]
}

// Reading is where an incremental snapshot reports the progress of the table it reads.
type Reading struct {
	Log   zerolog.Logger
	Every time.Duration
	Now   func() time.Time
	Board *Board
}

// Read counts the n rows of a chunk of table, estimated at estimate rows, in cur, the
// progress of the table being read (nil, or another table's: a new one is started), and
// returns it.
func (r Reading) Read(cur *Progress, table string, estimate float64, n int) *Progress {
	if cur == nil || cur.Table() != table {
		cur = NewProgress(r.Log, r.Every, r.Now, "incremental snapshot", table, estimate)
		cur.ReportTo(r.Board, true)
	}
	cur.Add(n)
	return cur
}

// Next ends cur, the progress of table, when next, the snapshot's progress once the chunk
// is out, no longer reads it: it returns nil then, else cur.
func (r Reading) Next(cur *Progress, table string, next *IncrementalProgress) *Progress {
	if next != nil && next.Tables[0] == table {
		return cur
	}
	cur.Done()
	if next == nil {
		r.Log.Info().Msg("incremental snapshot done")
	}
	return nil
}

// WindowQueries are a source's queries on the table an incremental snapshot reads, inside the
// transaction of one chunk.
type WindowQueries interface {
	// MaxKey reads the table's greatest key, as text; nil when the table is empty.
	MaxKey(ctx context.Context) ([]string, error)
	// Limit returns how many rows the chunk reads at most (see RowSizes).
	Limit(ctx context.Context) (int, error)
	// Keyset reads, in key order, at most limit rows with keys after the key values after
	// (nil: from the start) and up to and including upTo: their values, the key of the last
	// one when more follow, and whether more do.
	Keyset(ctx context.Context, after, upTo []string, limit int) (rows [][]decoder.Value, last []string, more bool, err error)
}

// ReadWindow reads with q the chunk of the table being read that prog points at: rows after
// prog.After up to the greatest key the table had when its reading began (prog.Max; read now
// when the reading begins). It returns the rows and the progress once they are out: the
// next table's when they end the table (an empty table has no rows).
func ReadWindow(ctx context.Context, q WindowQueries, prog *IncrementalProgress) ([][]decoder.Value, *IncrementalProgress, error) {
	upTo := prog.Max
	if upTo == nil {
		var err error
		if upTo, err = q.MaxKey(ctx); err != nil {
			return nil, nil, err
		}
		if upTo == nil {
			return nil, prog.Next(), nil // empty
		}
	}
	limit, err := q.Limit(ctx)
	if err != nil {
		return nil, nil, err
	}
	rows, last, more, err := q.Keyset(ctx, prog.After, upTo, limit)
	if err != nil {
		return nil, nil, err
	}
	if !more {
		return rows, prog.Next(), nil
	}
	return rows, &IncrementalProgress{ID: prog.ID, Tables: prog.Tables, After: last, Max: upTo}, nil
}
