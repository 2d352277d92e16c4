package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
	driver "github.com/go-sql-driver/mysql"
)

// This file reads an incremental snapshot's chunks (MariaDB): each in a transaction WITH
// CONSISTENT SNAPSHOT whose binlog point MariaDB reports (Binlog_snapshot_file/position), so
// that the chunk is emitted exactly when the stream reaches that point. See the package
// documentation.

// ErrSnapshotAhead is returned when an incremental snapshot's chunk could not be read in a
// snapshot that sees every transaction the stream has already delivered, after retries.
var ErrSnapshotAhead = errors.New("mysql source: incremental snapshot: the stream stays ahead of the chunk's consistent snapshot")

// chunkAttempts bounds the reads of one chunk while the stream is ahead of the chunk's
// snapshot; chunkRetryWait is the first wait between two, doubled each time (about 2 s in
// all).
const (
	chunkAttempts  = 10
	chunkRetryWait = 2 * time.Millisecond
)

// errTableInFlux says that a chunk's query failed because the table's definition is not the
// one the stream tracks: a DDL the stream has not reached yet.
var errTableInFlux = errors.New("the table's definition changed")

// chunkReader reads the chunks of an incremental snapshot on a connection of its own, opened
// at the first chunk of a Stream and closed with it. Only the stream's goroutine uses it,
// between two transactions.
type chunkReader struct {
	cfg  Config
	db   *sql.DB
	conn *sql.Conn
	// estimates caches each table's estimated row count, read once per Stream.
	estimates map[string]int64
	// sizes sizes each table's chunks within SnapshotChunkBytes.
	sizes snapshot.RowSizes
}

func newChunkReader(cfg Config) *chunkReader {
	return &chunkReader{cfg: cfg, estimates: map[string]int64{}, sizes: snapshot.RowSizes{}}
}

// chunkLimit returns how many rows the next chunk of t reads: IncrementalChunkRows, capped by
// SnapshotChunkBytes; rd samples t before its first chunk.
func (c *chunkReader) chunkLimit(ctx context.Context, rd snapReader, t *tableDef) (int, error) {
	return c.sizes.Limit(t.key(), c.cfg.IncrementalChunkRows, c.cfg.SnapshotChunkBytes,
		func() (float64, error) { return rd.rowBytes(ctx, t) })
}

func (c *chunkReader) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		_ = c.db.Close()
		c.conn, c.db = nil, nil
	}
}

// stepIncremental reads the incremental snapshot's chunks while one is due and the stream
// stands between two transactions, and emits each at once when the stream already stands at
// its point; a chunk whose point is ahead is held for the assembler to emit when the stream
// reaches it.
func stepIncremental(ctx context.Context, a *assembler, rd *chunkReader, emit func(connectors.Event) error) error {
	inc := a.inc
	wait := chunkRetryWait
	for attempt := 1; inc != nil && !a.inTx && inc.needsChunk(); {
		name := inc.prog.Tables[0]
		c, err := rd.read(ctx, inc.prog, a.schema.model.Tables[name], a.tables[name])
		if errors.Is(err, errTableInFlux) {
			inc.log.Info().Err(err).Str("table", name).Msg("incremental snapshot: reading the chunk again after the stream's next event")
			inc.waitEvent = true
			return nil
		}
		if err != nil {
			return err
		}
		done := binlogPoint{file: a.done.File, pos: a.done.Pos}
		if len(c.rows) > 0 && done.after(c.at) {
			// The stream delivered a transaction that the snapshot does not see yet (MariaDB
			// sends a transaction to replicas a moment before its commit is visible): its rows
			// could be older than what is out. Read again.
			if attempt == chunkAttempts {
				return fmt.Errorf("%w: stream at %s, chunk of %s at %s", ErrSnapshotAhead, done, name, c.at)
			}
			attempt++
			select {
			case <-time.After(wait):
				wait *= 2
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		attempt, wait = 1, chunkRetryWait
		inc.held = c
		if len(c.rows) > 0 && !a.at.reached(c.at) {
			return nil
		}
		if err := inc.emit(a.done, a.tables, emit); err != nil {
			return err
		}
	}
	return nil
}

// read reads the chunk prog points at: table t (nil when it is not tracked), whose rows
// decode with ct. A table that cannot be read incrementally (gone, or without a primary key)
// gives a chunk without rows whose progress skips it, and an error log that says why.
func (c *chunkReader) read(ctx context.Context, prog *IncrementalProgress, t *tableDef, ct *capturedTable) (_ *chunk, err error) {
	name := prog.Tables[0]
	switch {
	case t == nil || ct == nil:
		c.cfg.Logger.Error().Str("table", name).Msg("incremental snapshot: the table does not exist or is not captured; skipped")
		return &chunk{name: name, next: prog.Next()}, nil
	case len(keyColumns(t)) == 0:
		c.cfg.Logger.Error().Str("table", name).
			Msg("incremental snapshot: the table has no primary key to read it by in chunks; skipped")
		return &chunk{name: name, next: prog.Next()}, nil
	case prog.Max != nil && len(prog.Max) != len(keyColumns(t)):
		return nil, badPosition("incremental snapshot of %s resumes with %d key values; its primary key has %d columns",
			name, len(prog.Max), len(keyColumns(t)))
	}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	estimate, err := c.estimate(ctx, t)
	if err != nil {
		return nil, err
	}
	if _, err := c.conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return nil, fmt.Errorf("mysql source: incremental snapshot of %s: starting the chunk's transaction: %w", name, err)
	}
	defer func() {
		if _, cerr := c.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); cerr != nil && err == nil {
			err = fmt.Errorf("mysql source: incremental snapshot of %s: ending the chunk's transaction: %w", name, cerr)
		}
	}()
	at, _, err := binlogSnapshotPoint(ctx, c.conn)
	if err != nil {
		return nil, err
	}
	out := &chunk{at: at, name: name, ct: ct, estimate: estimate}
	if out.rows, out.next, err = snapshot.ReadWindow(ctx, myWindow{c: c, rd: sqlSnapReader{q: c.conn}, t: t, ct: ct, name: name}, prog); err != nil {
		return nil, err
	}
	return out, nil
}

// myWindow is the window queries of table name (t, whose rows decode with ct) on the chunk
// reader's connection, in the chunk's transaction.
type myWindow struct {
	c    *chunkReader
	rd   sqlSnapReader
	t    *tableDef
	ct   *capturedTable
	name string
}

func (w myWindow) MaxKey(ctx context.Context) ([]string, error) {
	key, err := w.c.maxKey(ctx, w.t)
	if err != nil {
		return nil, inFlux(w.name, err)
	}
	return key, nil
}

func (w myWindow) Limit(ctx context.Context) (int, error) {
	limit, err := w.c.chunkLimit(ctx, w.rd, w.t)
	if err != nil {
		return 0, inFlux(w.name, err)
	}
	return limit, nil
}

func (w myWindow) Keyset(ctx context.Context, after, upTo []string, limit int) ([][]decoder.Value, []string, bool, error) {
	rows, more, err := w.rd.keysetChunk(ctx, w.t, after, upTo, limit)
	if err != nil {
		return nil, nil, false, inFlux(w.name, err)
	}
	w.c.sizes.Observe(w.t.key(), len(rows), snapRowsSize(rows))
	var out [][]decoder.Value
	for _, row := range rows {
		v, err := decodeRow(w.ct, row)
		if err != nil {
			return nil, nil, false, connectors.PrefixOnce("mysql source: ", fmt.Errorf("mysql source: incremental snapshot of %s: %w", w.name, err))
		}
		out = append(out, v)
	}
	if !more {
		return out, nil, false, nil
	}
	last, err := lastKey(w.t, rows[len(rows)-1])
	if err != nil {
		return nil, nil, false, fmt.Errorf("mysql source: incremental snapshot of %s: %w", w.name, err)
	}
	return out, last, true, nil
}

// inFlux marks the errors of a chunk's query that a DDL the stream has not reached yet
// explains (an unknown column or table, a table definition changed since the snapshot):
// read again once the stream has moved on.
func inFlux(name string, err error) error {
	var myErr *driver.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case 1054, 1146, 1412: // ER_BAD_FIELD_ERROR, ER_NO_SUCH_TABLE, ER_TABLE_DEF_CHANGED
			return fmt.Errorf("%w: %w", errTableInFlux, err)
		}
	}
	return fmt.Errorf("mysql source: incremental snapshot of %s: %w", name, err)
}

func (c *chunkReader) connect(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	db, err := connect(ctx, c.cfg)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return fmt.Errorf("mysql source: incremental snapshot connection: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		_ = conn.Close()
		_ = db.Close()
		return fmt.Errorf("mysql source: incremental snapshot connection: %w", err)
	}
	c.db, c.conn = db, conn
	return nil
}

// estimate returns information_schema's estimate of t's row count, for the progress logs.
func (c *chunkReader) estimate(ctx context.Context, t *tableDef) (int64, error) {
	if n, ok := c.estimates[t.key()]; ok {
		return n, nil
	}
	var n sql.NullInt64
	err := c.conn.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		t.Database, t.Name).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("mysql source: estimating the rows of %s: %w", t.key(), err)
	}
	c.estimates[t.key()] = n.Int64
	return n.Int64, nil
}

// maxKey reads the table's greatest key, as text; nil when the table is empty.
func (c *chunkReader) maxKey(ctx context.Context, t *tableDef) ([]string, error) {
	rows, err := c.conn.QueryContext(ctx, maxKeyQuery(t))
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	if !rows.Next() {
		return nil, rows.Err()
	}
	key := keyColumns(t)
	row := make(snapRow, len(t.Columns))
	ptrs := make([]any, len(key))
	for i, k := range key {
		ptrs[i] = &row[k]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return lastKey(t, row)
}

// maxKeyQuery selects the key columns of t's last row in key order.
func maxKeyQuery(t *tableDef) string {
	key := keyColumns(t)
	cols := ""
	order := ""
	for i, k := range key {
		if i > 0 {
			cols += ", "
			order += ", "
		}
		cols += selectColumn(t.Columns[k]) // as the chunks read it, for lastKey
		order += quoteIdent(t.Columns[k].Name) + " DESC"
	}
	return "SELECT " + cols + " FROM " + quoteIdent(t.Database) + "." + quoteIdent(t.Name) + " ORDER BY " + order + " LIMIT 1"
}
