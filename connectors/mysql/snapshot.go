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
// to the end and emits one transaction per non-empty chunk, in snapshot.ChunkLoop; the last
// chunk's Commit carries the plain streaming position s.at. first says whether the very first
// row read is the snapshot's first (source.snapshot "first").
func (s *snapshotter) run(ctx context.Context, start *SnapshotProgress, first bool, emit func(connectors.Event) error) error {
	order := s.order()
	ti := slices.Index(order, start.Table)
	if ti < 0 {
		return badPosition("the snapshot resumes in table %s, which is not captured", start.Table)
	}
	after := start.After
	if after != nil && len(after) != len(keyColumns(s.model.Tables[start.Table])) {
		return badPosition("the snapshot of %s resumes after %d key values; its primary key has %d columns",
			start.Table, len(after), len(keyColumns(s.model.Tables[start.Table])))
	}
	begin := s.at
	begin.Snapshot = start
	loop := snapshot.ChunkLoop[myChunkTable, []string, snapRow, Position]{
		Source: &myChunks{s: s, start: start, emit: emit},
		Order:  order[ti:], Begin: begin, First: first,
		Limit: s.limit, Budget: s.budget, Prefix: "mysql source: ",
		Log: s.log, Every: s.every, Now: s.now, Board: s.board,
	}
	return loop.Run(ctx)
}

// myChunkTable is a table as the chunk loop reads it: its definition, and its description
// for the rows.
type myChunkTable struct {
	name string
	t    *tableDef
	ct   *capturedTable
}

// myChunks is the snapshotter's side of snapshot.ChunkLoop: its reader, its positions and the
// events of its chunks. A point in a table is the key values of the last row read.
type myChunks struct {
	s     *snapshotter
	start *SnapshotProgress
	emit  func(connectors.Event) error
}

var _ snapshot.ChunkSource[myChunkTable, []string, snapRow, Position] = (*myChunks)(nil)

func (c *myChunks) Table(ctx context.Context, name string) (myChunkTable, []string, float64, error) {
	t := c.s.model.Tables[name]
	var after []string
	if name == c.start.Table {
		after = c.start.After
	}
	return myChunkTable{name: name, t: t, ct: c.s.tables[name]}, after, c.s.rd.estimate(ctx, t), nil
}

// RowBytes samples t's rows; a keyless table is read whole: no budget.
func (c *myChunks) RowBytes(ctx context.Context, t myChunkTable) (float64, bool, error) {
	if len(keyColumns(t.t)) == 0 {
		return 0, false, nil
	}
	avg, err := c.s.rd.rowBytes(ctx, t.t)
	return avg, true, err
}

func (c *myChunks) Chunk(ctx context.Context, t myChunkTable, after []string, limit int) ([]snapRow, []string, bool, error) {
	rows, more, err := c.s.rd.chunk(ctx, t.t, after, limit)
	if err != nil || !more {
		return rows, nil, more, err
	}
	next, err := lastKey(t.t, rows[len(rows)-1])
	return rows, next, more, err
}

func (c *myChunks) Size(rows []snapRow) int64 { return snapRowsSize(rows) }

func (c *myChunks) HasRows(ctx context.Context, name string) (bool, error) {
	return c.s.rd.hasRows(ctx, c.s.model.Tables[name])
}

func (c *myChunks) Within(t myChunkTable, after []string, _ []string) Position {
	p := c.s.at
	p.Snapshot = &SnapshotProgress{Table: t.name, After: after}
	return p
}

func (c *myChunks) Before(name string, _ []string) Position {
	p := c.s.at
	p.Snapshot = &SnapshotProgress{Table: name}
	return p
}

func (c *myChunks) End() Position { return c.s.at }

func (c *myChunks) Emit(t myChunkTable, rows []snapRow, begin, commit Position, marks snapshot.Marks) error {
	return c.s.emitChunk(t.ct, rows, begin, commit, marks, c.emit)
}

// emitChunk emits one chunk as a source transaction from position begin to commit.
func (s *snapshotter) emitChunk(ct *capturedTable, rows []snapRow, begin, commit Position, marks snapshot.Marks,
	emit func(connectors.Event) error) error {
	if err := emit(connectors.Event{Kind: connectors.EventBegin, Position: begin.encode(0)}); err != nil {
		return err
	}
	now := s.now().UTC()
	for i, row := range rows {
		mark := marks.Of(i)
		after, err := decodeRow(ct, row)
		if err != nil {
			return connectors.PrefixOnce("mysql source: ", fmt.Errorf("mysql source: snapshot of %s: %w", ct.table.Name, err))
		}
		ch := &decoder.Change{Op: decoder.OpRead, Table: ct.table, After: after, Source: NewSourceInfo(
			now, mark, s.at.File, s.at.Pos, "", 0, 0)}
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
