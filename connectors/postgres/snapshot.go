package postgres

import (
	"context"
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

// run reads the tables from start (nil: from the beginning) and emits each chunk, in
// snapshot.ChunkLoop. The last chunk's Commit carries the plain streaming position {"lsn":
// cp}; when the last chunk is empty (nothing left to read), a transaction without changes
// carries it, so that a restart does not snapshot again.
func (s *snapshotter) run(ctx context.Context, start *snapshotProgress, emit func(connectors.Event) error) error {
	order := s.order(start)
	loop := snapshot.ChunkLoop[pgChunkTable, snapCursor, []decoder.Value, position]{
		Source: &pgChunks{s: s, start: start, emit: emit},
		Order:  order, Begin: position{lsn: s.cp}, First: start == nil,
		Limit: s.limit, Budget: s.budget,
		Log: s.log, Every: s.every, Now: s.now, Board: s.board,
	}
	switch {
	case start != nil:
		loop.Done = start.Done
		loop.Begin.snap = start
	case len(order) > 0:
		loop.Begin.snap = &snapshotProgress{Table: order[0], Done: []string{}}
	}
	return loop.Run(ctx)
}

// pgChunkTable is a table as the chunk loop reads it: what the snapshot knows of it, and
// the description its rows decode as.
type pgChunkTable struct {
	t   *snapTable
	tbl *decoder.Table
}

// pgChunks is the snapshotter's side of snapshot.ChunkLoop: its reader, its positions and
// the events of its chunks.
type pgChunks struct {
	s     *snapshotter
	start *snapshotProgress
	emit  func(connectors.Event) error
}

var _ snapshot.ChunkSource[pgChunkTable, snapCursor, []decoder.Value, position] = (*pgChunks)(nil)

func (c *pgChunks) Table(ctx context.Context, name string) (pgChunkTable, snapCursor, float64, error) {
	t, tbl, err := c.s.rd.describe(ctx, name)
	if err != nil {
		return pgChunkTable{}, snapCursor{}, 0, err
	}
	var cur snapCursor
	if c.start != nil && name == c.start.Table {
		if cur, err = cursorOf(t, c.start); err != nil {
			return pgChunkTable{}, snapCursor{}, 0, err
		}
	}
	// reltuples is an estimate (-1 before the first ANALYZE or VACUUM): the log says so.
	return pgChunkTable{t: t, tbl: tbl}, cur, t.estimate, nil
}

func (c *pgChunks) RowBytes(ctx context.Context, t pgChunkTable) (float64, bool, error) {
	avg, err := c.s.rd.rowBytes(ctx, t.t)
	return avg, true, err
}

func (c *pgChunks) Chunk(ctx context.Context, t pgChunkTable, cur snapCursor, limit int) ([][]decoder.Value, snapCursor, bool, error) {
	return c.s.rd.chunk(ctx, t.t, cur, limit)
}

func (c *pgChunks) Size(rows [][]decoder.Value) int64 { return rowsMemSize(rows) }

func (c *pgChunks) HasRows(ctx context.Context, name string) (bool, error) {
	return c.s.rd.hasRows(ctx, name)
}

func (c *pgChunks) Within(t pgChunkTable, next snapCursor, done []string) position {
	p := position{lsn: c.s.cp, snap: &snapshotProgress{Table: t.t.name, Done: done}}
	if len(t.t.key) > 0 {
		p.snap.After = next.after
	} else {
		p.snap.CTID = pageCTID(next.page)
	}
	return p
}

func (c *pgChunks) Before(name string, done []string) position {
	return position{lsn: c.s.cp, snap: &snapshotProgress{Table: name, Done: done}}
}

func (c *pgChunks) End() position { return position{lsn: c.s.cp} }

func (c *pgChunks) Emit(t pgChunkTable, rows [][]decoder.Value, begin, commit position, marks snapshot.Marks) error {
	if err := c.emit(connectors.Event{Kind: connectors.EventBegin, Position: begin.encode()}); err != nil {
		return err
	}
	s, tbl := c.s, t.tbl
	now := s.now()
	// One allocation for the chunk's Changes: they travel and are encoded together.
	changes := make([]decoder.Change, len(rows))
	for i, row := range rows {
		mark := marks.Of(i)
		ch := &changes[i]
		*ch = decoder.Change{Op: decoder.OpRead, Table: tbl, After: row,
			Source: NewSourceInfo(now, mark, 0, uint64(s.cp))}
		if err := c.emit(connectors.Event{Kind: connectors.EventChange, Change: ch}); err != nil {
			return err
		}
	}
	return c.emit(connectors.Event{Kind: connectors.EventCommit, Position: commit.encode()})
}

// rowsMemSize returns the bytes rows hold, by decoder.RowMemSize.
func rowsMemSize(rows [][]decoder.Value) int64 {
	var n int64
	for _, r := range rows {
		n += int64(decoder.RowMemSize(r))
	}
	return n
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
