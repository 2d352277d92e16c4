package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pglogrepl"
	"github.com/rs/zerolog"
)

// snapCursor is where a table's reading goes on: after the key values after (keyset), or at
// page (ctid ranges). The zero cursor is the table's start. upTo, when set, bounds a keyset
// reading: no row with a greater key is read (an incremental snapshot reads up to the
// greatest key the table had when it began).
type snapCursor struct {
	after []string
	upTo  []string
	page  uint32
}

// snapReader reads the captured tables inside one database snapshot. pgSnapReader is the real
// one; the tests use a fake, so the chunking and resume rules below are tested without a
// server.
type snapReader interface {
	// describe returns what the snapshot needs of table name ("schema.table").
	describe(ctx context.Context, name string) (*snapTable, *decoder.Table, error)
	// chunk returns the rows from cur on, in the table's reading order: about limit of them
	// (exactly up to limit by key; by ctid, the pages thought to hold that many), never none
	// while more follow. next is the cursor after them; more tells whether rows follow.
	chunk(ctx context.Context, t *snapTable, cur snapCursor, limit int) (rows [][]decoder.Value, next snapCursor, more bool, err error)
	// hasRows tells whether table name holds a row.
	hasRows(ctx context.Context, name string) (bool, error)
	// rowBytes estimates the decoded size of t's rows, in decoder.RowMemSize's bytes, from a
	// sample of them; 0 when it has none.
	rowBytes(ctx context.Context, t *snapTable) (float64, error)
}

// snapshotter turns the rows a snapReader reads into pipeline events: one source transaction
// per chunk, whose Commit position records the progress (see the package documentation).
type snapshotter struct {
	rd     snapReader
	tables []string
	limit  int
	// budget caps the bytes of a chunk (see snapshot.ChunkSizer); 0 or less: none.
	budget int64
	// cp is the slot's consistent point: every event's LSN, and where streaming starts.
	cp    pglogrepl.LSN
	now   func() time.Time
	log   zerolog.Logger
	every time.Duration
	// board receives the progress, for the status.
	board *snapshot.Board
}

// order returns the tables still to read, the one in progress first.
func (s *snapshotter) order(start *snapshotProgress) []string {
	if start == nil {
		return slices.Clone(s.tables)
	}
	var out []string
	if slices.Contains(s.tables, start.Table) && !slices.Contains(start.Done, start.Table) {
		out = append(out, start.Table)
	}
	for _, t := range s.tables {
		if t != start.Table && !slices.Contains(start.Done, t) {
			out = append(out, t)
		}
	}
	return out
}

// run reads the tables from start (nil: from the beginning) and emits each chunk. The last
// chunk's Commit carries the plain streaming position {"lsn": cp}; when the last chunk is empty
// (nothing left to read), a transaction without changes carries it, so that a restart does
// not snapshot again.
func (s *snapshotter) run(ctx context.Context, start *snapshotProgress, emit func(connectors.Event) error) error {
	order := s.order(start)
	var done []string
	if start != nil {
		done = slices.Clone(start.Done)
	}
	prev := position{lsn: s.cp}
	switch {
	case start != nil:
		prev.snap = start
	case len(order) > 0:
		prev.snap = &snapshotProgress{Table: order[0], Done: []string{}}
	}
	first := start == nil
	emitTx := func(tbl *decoder.Table, rows [][]decoder.Value, last bool, commit position) error {
		if err := emit(connectors.Event{Kind: connectors.EventBegin, Position: prev.encode()}); err != nil {
			return err
		}
		now := s.now()
		for i, row := range rows {
			mark := decoder.SnapshotTrue
			switch {
			case last && i == len(rows)-1:
				// On a one-row snapshot, "last" wins over "first": it tells that the stream
				// that follows is complete.
				mark = decoder.SnapshotLast
			case first:
				mark = decoder.SnapshotFirst
			}
			first = false
			ch := &decoder.Change{Op: decoder.OpRead, Table: tbl, After: row,
				Source: decoder.SourceInfo{CommitTime: now, Snapshot: mark, LSN: uint64(s.cp)}}
			if err := emit(connectors.Event{Kind: connectors.EventChange, Change: ch}); err != nil {
				return err
			}
		}
		if err := emit(connectors.Event{Kind: connectors.EventCommit, Position: commit.encode()}); err != nil {
			return err
		}
		prev = commit
		return nil
	}

	for ti, name := range order {
		t, tbl, err := s.rd.describe(ctx, name)
		if err != nil {
			return err
		}
		var cur snapCursor
		if start != nil && name == start.Table {
			if cur, err = cursorOf(t, start); err != nil {
				return err
			}
		}
		// reltuples is an estimate (-1 before the first ANALYZE or VACUUM): the log says so.
		prog := snapshot.NewProgress(s.log, s.every, s.now, "snapshot", name, t.estimate)
		prog.ReportTo(s.board, false)
		sizer, err := s.sizer(ctx, t)
		if err != nil {
			return err
		}
		for {
			rows, next, more, err := s.rd.chunk(ctx, t, cur, sizer.Limit())
			if err != nil {
				return fmt.Errorf("snapshot of %s: %w", name, err)
			}
			prog.Add(len(rows))
			if sizer.Observe(len(rows), rowsMemSize(rows)) {
				s.log.Info().Str("table", name).Int("chunk_rows", sizer.Limit()).Int64("chunk_bytes", s.budget).
					Msg("snapshot: rows wider than estimated, smaller chunks")
			}
			final := false
			if !more {
				if final, err = s.nothingAfter(ctx, order[ti+1:]); err != nil {
					return err
				}
			}
			commit := position{lsn: s.cp}
			switch {
			case final:
			case more:
				commit.snap = &snapshotProgress{Table: name, Done: slices.Clip(done)}
				if len(t.key) > 0 {
					commit.snap.After = next.after
				} else {
					commit.snap.CTID = pageCTID(next.page)
				}
			default:
				commit.snap = &snapshotProgress{Table: order[ti+1], Done: append(slices.Clip(done), name)}
			}
			if len(rows) > 0 || final {
				if err := emitTx(tbl, rows, final, commit); err != nil {
					return err
				}
			}
			if final {
				prog.Done()
				return nil
			}
			if !more {
				prog.Done()
				done = append(done, name)
				break
			}
			cur = next
		}
	}
	// No tables at all.
	return emitTx(nil, nil, true, position{lsn: s.cp})
}

// sizer returns the chunk sizer of table t: the configured row limit, capped by the byte
// budget for the sampled size of t's rows.
func (s *snapshotter) sizer(ctx context.Context, t *snapTable) (*snapshot.ChunkSizer, error) {
	if s.budget <= 0 {
		return snapshot.NewChunkSizer(s.limit, 0, 0), nil
	}
	avg, err := s.rd.rowBytes(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", t.name, err)
	}
	sz := snapshot.NewChunkSizer(s.limit, s.budget, avg)
	if sz.Limit() < s.limit {
		s.log.Info().Str("table", t.name).Float64("row_bytes", avg).Int("chunk_rows", sz.Limit()).Int64("chunk_bytes", s.budget).
			Msg("snapshot: wide rows, chunks capped by snapshot_chunk_bytes")
	}
	return sz, nil
}

// rowsMemSize returns the bytes rows hold, by decoder.RowMemSize.
func rowsMemSize(rows [][]decoder.Value) int64 {
	var n int64
	for _, r := range rows {
		n += int64(decoder.RowMemSize(r))
	}
	return n
}

// nothingAfter tells whether none of tables holds a row, so that the chunk just read ends the
// snapshot.
func (s *snapshotter) nothingAfter(ctx context.Context, tables []string) (bool, error) {
	for _, t := range tables {
		has, err := s.rd.hasRows(ctx, t)
		if err != nil {
			return false, fmt.Errorf("snapshot: looking for rows in %s: %w", t, err)
		}
		if has {
			return false, nil
		}
	}
	return true, nil
}

// cursorOf returns the cursor progress p records for table t, checking that it fits the table
// as it is now (a table given or losing its primary key meanwhile cannot go on).
func cursorOf(t *snapTable, p *snapshotProgress) (snapCursor, error) {
	switch {
	case p.After != nil:
		if len(p.After) != len(t.key) {
			return snapCursor{}, badPosition("snapshot of %s resumes after %d key values; its primary key has %d columns",
				t.name, len(p.After), len(t.key))
		}
		return snapCursor{after: p.After}, nil
	case p.CTID != "":
		if len(t.key) > 0 {
			return snapCursor{}, badPosition("snapshot of %s resumes at ctid %s; it has a primary key now", t.name, p.CTID)
		}
		page, _ := parsePageCTID(p.CTID)
		return snapCursor{page: page}, nil
	}
	return snapCursor{}, nil
}
