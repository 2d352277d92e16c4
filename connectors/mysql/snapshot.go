package mysql

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/rs/zerolog"
)

// This file turns the rows of an initial snapshot into source transactions, one per chunk,
// whose Commit positions record the progress. Reading (snapshotsql.go) is behind snapReader so
// that the chunking and resume rules are tested without a server.

// snapshotProgressEvery is how often the snapshot logs its progress.
const snapshotProgressEvery = 5 * time.Second

// snapRow is one row as a text query returns it: []byte per column, nil for NULL.
type snapRow []any

// snapReader reads the captured tables inside one consistent snapshot.
type snapReader interface {
	// chunk returns up to limit rows of table t after the key values after (nil: from the
	// start), in primary key order, and whether more follow. A table without a primary key is
	// read whole in one chunk.
	chunk(ctx context.Context, t *tableDef, after []string, limit int) (rows []snapRow, more bool, err error)
	// hasRows tells whether table t holds a row.
	hasRows(ctx context.Context, t *tableDef) (bool, error)
	// estimate returns the server's estimate of t's rows (negative: unknown), for the log.
	estimate(ctx context.Context, t *tableDef) float64
	// rowBytes estimates the size of t's rows, in snapRowSize's bytes, from a sample of them;
	// 0 when it has none.
	rowBytes(ctx context.Context, t *tableDef) (float64, error)
}

// snapshotter emits the snapshot of the model's tables, read with rd, as source transactions.
type snapshotter struct {
	rd     snapReader
	model  *schemaModel
	tables map[string]*capturedTable
	limit  int
	// budget caps the bytes of a keyed table's chunks (see snapshot.ChunkSizer); 0 or
	// less: none.
	budget int64
	// at is the snapshot's point: every position's GTIDs/File/Pos, and where streaming starts.
	at Position
	// signal is the signal table, tracked but never read: signals are not data.
	signal string
	now    func() time.Time
	// log receives the progress, every so often.
	log   zerolog.Logger
	every time.Duration
	// board receives the progress, for the status.
	board *snapshot.Board
}

// order returns the captured tables' names in reading order: by name.
func (s *snapshotter) order() []string {
	names := make([]string, 0, len(s.model.Tables))
	for k := range s.model.Tables {
		if k != s.signal {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// firstProgress returns where a new snapshot starts: the first table, or nil when no captured
// table holds a row (nothing to read: the first start's schema record carries the plain
// streaming position, as without a snapshot).
func (s *snapshotter) firstProgress(ctx context.Context) (*SnapshotProgress, error) {
	order := s.order()
	empty, err := s.nothingIn(ctx, order)
	if err != nil || empty {
		return nil, err
	}
	return &SnapshotProgress{Table: order[0]}, nil
}

// nothingIn tells whether none of tables holds a row.
func (s *snapshotter) nothingIn(ctx context.Context, tables []string) (bool, error) {
	for _, name := range tables {
		has, err := s.rd.hasRows(ctx, s.model.Tables[name])
		if err != nil {
			return false, fmt.Errorf("mysql source: snapshot: looking for rows in %s: %w", name, err)
		}
		if has {
			return false, nil
		}
	}
	return true, nil
}

// run reads from start (the progress of the position Stream resumes from, or firstProgress's)
// to the end and emits one transaction per non-empty chunk; the last chunk's Commit carries
// the plain streaming position s.at. first says whether the very first row read is the
// snapshot's first (source.snapshot "first").
func (s *snapshotter) run(ctx context.Context, start *SnapshotProgress, first bool, emit func(connectors.Event) error) error {
	order := s.order()
	ti := slices.Index(order, start.Table)
	if ti < 0 {
		return badPosition("the snapshot resumes in table %s, which is not captured", start.Table)
	}
	prev := s.at
	prev.Snapshot = start
	after := start.After
	if after != nil && len(after) != len(keyColumns(s.model.Tables[start.Table])) {
		return badPosition("the snapshot of %s resumes after %d key values; its primary key has %d columns",
			start.Table, len(after), len(keyColumns(s.model.Tables[start.Table])))
	}
	for ; ti < len(order); ti++ {
		name := order[ti]
		t, ct := s.model.Tables[name], s.tables[name]
		prog := snapshot.NewProgress(s.log, s.every, s.now, "snapshot", name, s.rd.estimate(ctx, t))
		prog.ReportTo(s.board, false)
		sizer, err := s.sizer(ctx, t)
		if err != nil {
			return err
		}
		for {
			rows, more, err := s.rd.chunk(ctx, t, after, sizer.Limit())
			if err != nil {
				return fmt.Errorf("mysql source: snapshot of %s: %w", name, err)
			}
			prog.Add(len(rows))
			if sizer.Observe(len(rows), snapRowsSize(rows)) {
				s.log.Info().Str("table", name).Int("chunk_rows", sizer.Limit()).Int64("chunk_bytes", s.budget).
					Msg("snapshot: rows wider than estimated, smaller chunks")
			}
			final := false
			if !more {
				if final, err = s.nothingIn(ctx, order[ti+1:]); err != nil {
					return err
				}
			}
			commit := s.at
			switch {
			case final:
			case more:
				if after, err = lastKey(t, rows[len(rows)-1]); err != nil {
					return fmt.Errorf("mysql source: snapshot of %s: %w", name, err)
				}
				commit.Snapshot = &SnapshotProgress{Table: name, After: after}
			default:
				commit.Snapshot = &SnapshotProgress{Table: order[ti+1]}
			}
			if len(rows) > 0 || final {
				if err := s.emitChunk(ct, rows, prev, commit, &first, final, emit); err != nil {
					return err
				}
				prev = commit
			}
			if final {
				prog.Done()
				return nil
			}
			if !more {
				prog.Done()
				after = nil
				break
			}
		}
	}
	// Only reached when the tables emptied meanwhile: end the snapshot explicitly.
	return s.emitChunk(nil, nil, prev, s.at, &first, true, emit)
}

// sizer returns the chunk sizer of table t: the configured row limit, capped by the byte
// budget for the sampled size of t's rows. A keyless table is read whole: no budget.
func (s *snapshotter) sizer(ctx context.Context, t *tableDef) (*snapshot.ChunkSizer, error) {
	if s.budget <= 0 || len(keyColumns(t)) == 0 {
		return snapshot.NewChunkSizer(s.limit, 0, 0), nil
	}
	avg, err := s.rd.rowBytes(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("mysql source: snapshot of %s: %w", t.key(), err)
	}
	sz := snapshot.NewChunkSizer(s.limit, s.budget, avg)
	if sz.Limit() < s.limit {
		s.log.Info().Str("table", t.key()).Float64("row_bytes", avg).Int("chunk_rows", sz.Limit()).Int64("chunk_bytes", s.budget).
			Msg("snapshot: wide rows, chunks capped by snapshot_chunk_bytes")
	}
	return sz, nil
}

// emitChunk emits one chunk as a source transaction from position begin to commit.
func (s *snapshotter) emitChunk(ct *capturedTable, rows []snapRow, begin, commit Position, first *bool, final bool,
	emit func(connectors.Event) error) error {
	if err := emit(connectors.Event{Kind: connectors.EventBegin, Position: begin.encode(0)}); err != nil {
		return err
	}
	now := s.now().UTC()
	for i, row := range rows {
		mark := decoder.SnapshotTrue
		switch {
		case final && i == len(rows)-1:
			// On a one-row snapshot "last" wins: it tells that the stream that follows is whole.
			mark = decoder.SnapshotLast
		case *first:
			mark = decoder.SnapshotFirst
		}
		*first = false
		after, err := decodeRow(ct, row)
		if err != nil {
			return connectors.PrefixOnce("mysql source: ", fmt.Errorf("mysql source: snapshot of %s: %w", ct.table.Name, err))
		}
		ch := &decoder.Change{Op: decoder.OpRead, Table: ct.table, After: after, Source: decoder.SourceInfo{
			CommitTime: now, Snapshot: mark, File: s.at.File, Pos: s.at.Pos}}
		if err := emit(connectors.Event{Kind: connectors.EventChange, Change: ch}); err != nil {
			return err
		}
	}
	return emit(connectors.Event{Kind: connectors.EventCommit, Position: commit.encode(0)})
}

// readSchemaNow reads the captured tables' schemas from information_schema on a connection
// of its own (the snapshot's is busy in its transaction).
func (s *Source) readSchemaNow(ctx context.Context) (*schemaModel, error) {
	db, err := connect(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	return readSchema(ctx, db, s.cfg)
}

// newSnapshotter prepares the snapshot of model's tables read in ss, at position at.
func (s *Source) newSnapshotter(ss *snapSession, model *schemaModel, at Position) (*snapshotter, error) {
	tables, err := newSchemaTracker(s.cfg, model).capturedTables()
	if err != nil {
		return nil, err
	}
	return &snapshotter{rd: sqlSnapReader{q: ss.conn}, model: model, tables: tables,
		limit: s.cfg.SnapshotChunkRows, budget: s.cfg.SnapshotChunkBytes, at: at, now: time.Now, signal: s.cfg.SignalTable, log: s.cfg.Logger, every: snapshotProgressEvery, board: s.cfg.Progress}, nil
}
