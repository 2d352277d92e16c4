package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pgx/v5"
)

// ErrSnapshotNotVisible is returned when an incremental snapshot's chunk could not be read in
// a snapshot that sees every transaction the stream has already delivered, after retries.
var ErrSnapshotNotVisible = errors.New("postgres source: incremental snapshot: a delivered transaction stays invisible to the chunk's snapshot")

// chunkAttempts bounds the reads of one chunk waiting for delivered transactions to become
// visible; chunkRetryWait is the first wait between two, doubled each time (about 2 s in all).
const (
	chunkAttempts  = 10
	chunkRetryWait = 2 * time.Millisecond
)

// chunkReader reads the chunks of an incremental snapshot, on a normal connection of its own
// opened at the first chunk of a Stream and closed with it, and writes each chunk's
// watermark. It is used by the stream's goroutine only, between two transactions.
type chunkReader struct {
	cfg  Config
	conn *pgx.Conn
	rd   *pgSnapReader
	// sizes sizes each table's chunks within SnapshotChunkBytes.
	sizes snapshot.RowSizes
}

func newChunkReader(cfg Config) *chunkReader {
	return &chunkReader{cfg: cfg, sizes: snapshot.RowSizes{}}
}

// chunkLimit returns how many rows the next chunk of t reads: IncrementalChunkRows, capped by
// SnapshotChunkBytes.
func (c *chunkReader) chunkLimit(ctx context.Context, t *snapTable) (int, error) {
	return c.sizes.Limit(t.name, c.cfg.IncrementalChunkRows, c.cfg.SnapshotChunkBytes,
		func() (float64, error) { return c.rd.rowBytes(ctx, t) })
}

func (c *chunkReader) close(ctx context.Context) {
	if c.conn != nil {
		_ = c.conn.Close(context.WithoutCancel(ctx))
		c.conn = nil
	}
}

// read reads the chunk prog points at, in a snapshot that sees every transaction in
// delivered, then writes the watermark that closes its window. It returns the window, the
// progress once its rows are out, and the table's estimated row count. A table that cannot be
// read incrementally (gone, or without a primary key) gives an empty window whose progress
// skips it, and an error log that says why.
func (c *chunkReader) read(ctx context.Context, prog *incrementalProgress, delivered []uint32) (*snapshot.Window, *incrementalProgress, float64, error) {
	if c.conn == nil {
		conn, err := connectSnapshot(ctx, c.cfg)
		if err != nil {
			return nil, nil, 0, err
		}
		c.conn = conn
		c.rd = &pgSnapReader{conn: conn, dec: decoder.NewPGDecoder(NewCatalog(conn), c.cfg.decoderOptions()...), tables: map[string]*decoder.Table{},
			publication: c.cfg.Publication}
	}
	name := prog.Tables[0]
	wait := chunkRetryWait
	for attempt := 1; ; attempt++ {
		ch, err := c.readOnce(ctx, prog, delivered)
		var skip *skipTableError
		switch {
		case err == nil:
			w := snapshot.NewWindow(newWindowID(), ch.table, ch.keyIdx, ch.rows)
			if err := c.watermark(ctx, w.ID); err != nil {
				return nil, nil, 0, err
			}
			return w, ch.next, ch.estimate, nil
		case errors.As(err, &skip):
			c.cfg.Logger.Error().Str("table", name).Str("reason", skip.reason).Msg("incremental snapshot: table skipped")
			return c.emptyWindow(ctx, prog.Next())
		case errors.Is(err, ErrSnapshotNotVisible) && attempt < chunkAttempts:
		default:
			return nil, nil, 0, fmt.Errorf("incremental snapshot of %s: %w", name, err)
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-ctx.Done():
			return nil, nil, 0, ctx.Err()
		}
	}
}

// skipTableError says why a table cannot be read incrementally.
type skipTableError struct{ reason string }

func (e *skipTableError) Error() string { return e.reason }

// chunkRead is what readOnce read.
type chunkRead struct {
	table    *decoder.Table
	keyIdx   []int
	rows     [][]decoder.Value
	next     *incrementalProgress
	estimate float64
}

// readOnce reads one chunk in a REPEATABLE READ transaction: the table's description (read
// in the same snapshot as its rows; DescribeTable keeps one *Table while the table does not
// change), its greatest key when prog has none yet, then up to the chunk size of rows after
// prog.After. It fails with ErrSnapshotNotVisible when the snapshot does not see one of
// delivered, and with a *skipTableError when the table cannot be read by key.
func (c *chunkReader) readOnce(ctx context.Context, prog *incrementalProgress, delivered []uint32) (_ chunkRead, err error) {
	if _, err := c.conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return chunkRead{}, fmt.Errorf("starting the chunk's transaction: %w", err)
	}
	defer func() {
		if _, cerr := c.conn.Exec(ctx, "COMMIT"); cerr != nil && err == nil {
			err = fmt.Errorf("ending the chunk's transaction: %w", cerr)
		}
	}()
	var snap string
	if err := c.conn.QueryRow(ctx, "SELECT txid_current_snapshot()::text").Scan(&snap); err != nil {
		return chunkRead{}, fmt.Errorf("reading the chunk's snapshot: %w", err)
	}
	vis, err := parseTxidSnapshot(snap)
	if err != nil {
		return chunkRead{}, err
	}
	for _, xid := range delivered {
		if !vis.sees(xid) {
			return chunkRead{}, fmt.Errorf("%w: xid %d, snapshot %s", ErrSnapshotNotVisible, xid, snap)
		}
	}
	name := prog.Tables[0]
	t, tbl, err := c.rd.describe(ctx, name)
	if err != nil {
		if IsRetryable(err) || c.conn.IsClosed() {
			return chunkRead{}, err
		}
		return chunkRead{}, &skipTableError{reason: err.Error()}
	}
	if len(t.key) == 0 {
		return chunkRead{}, &skipTableError{reason: "it has no primary key (nor replica identity index) to read it by in chunks"}
	}
	if prog.Max != nil && len(prog.Max) != len(t.key) {
		c.cfg.Logger.Warn().Str("table", name).Int("stored_key_columns", len(prog.Max)).Int("key_columns", len(t.key)).
			Msg("incremental snapshot: the table's key changed since the last chunk; reading it again from its start")
		prog = &incrementalProgress{ID: prog.ID, Tables: prog.Tables}
	}
	out := chunkRead{table: tbl, keyIdx: t.keyIdx, estimate: t.estimate}
	if out.rows, out.next, err = snapshot.ReadWindow(ctx, pgWindow{c: c, t: t}, prog); err != nil {
		return chunkRead{}, err
	}
	return out, nil
}

// pgWindow is the window queries of table t on the chunk reader's connection.
type pgWindow struct {
	c *chunkReader
	t *snapTable
}

func (w pgWindow) MaxKey(ctx context.Context) ([]string, error) { return w.c.maxKey(ctx, w.t) }

func (w pgWindow) Limit(ctx context.Context) (int, error) { return w.c.chunkLimit(ctx, w.t) }

func (w pgWindow) Keyset(ctx context.Context, after, upTo []string, limit int) ([][]decoder.Value, []string, bool, error) {
	rows, next, more, err := w.c.rd.keysetChunk(ctx, w.t, snapCursor{after: after, upTo: upTo}, limit)
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading after %v: %w", after, err)
	}
	w.c.sizes.Observe(w.t.name, len(rows), rowsMemSize(rows))
	return rows, next.after, more, nil
}

// maxKey reads the table's greatest key, as text; nil when the table is empty.
func (c *chunkReader) maxKey(ctx context.Context, t *snapTable) ([]string, error) {
	var buf bytes.Buffer
	if _, err := c.conn.PgConn().CopyTo(ctx, &buf, maxKeyCopy(t)); err != nil {
		return nil, fmt.Errorf("reading the greatest key of %s: %w", t.name, err)
	}
	var key []string
	err := parseCopyText(buf.Bytes(), len(t.key), func(fields [][]byte) (err error) {
		key, err = t.keyText(fields)
		return err
	})
	return key, err
}

// emptyWindow returns a window without rows, whose watermark moves the progress to next.
func (c *chunkReader) emptyWindow(ctx context.Context, next *incrementalProgress) (*snapshot.Window, *incrementalProgress, float64, error) {
	w := snapshot.NewWindow(newWindowID(), nil, nil, nil)
	if err := c.watermark(ctx, w.ID); err != nil {
		return nil, nil, 0, err
	}
	return w, next, 0, nil
}

// watermark writes the logical decoding message that closes window id: non-transactional, so
// it is decoded where it is written, after every transaction the chunk's snapshot saw.
func (c *chunkReader) watermark(ctx context.Context, id string) error {
	if _, err := c.conn.Exec(ctx, "SELECT pg_logical_emit_message(false, $1::text, $2::text)",
		watermarkPrefix, c.cfg.Slot+":"+id); err != nil {
		return fmt.Errorf("incremental snapshot: writing the watermark: %w", err)
	}
	return nil
}

func newWindowID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// txidSnapshot is a snapshot as txid_current_snapshot() shows it, reduced to 32-bit xids,
// which is what pgoutput sends: every xid compared is recent, well within 2^31 of xmax.
type txidSnapshot struct {
	xmin, xmax uint32
	xip        []uint32
}

// parseTxidSnapshot reads "xmin:xmax:xip,...".
func parseTxidSnapshot(s string) (txidSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return txidSnapshot{}, fmt.Errorf("%w: snapshot %q is not xmin:xmax:xip", ErrProtocol, s)
	}
	var snap txidSnapshot
	for i, p := range parts[:2] {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return txidSnapshot{}, fmt.Errorf("%w: snapshot %q: %w", ErrProtocol, s, err)
		}
		if i == 0 {
			snap.xmin = uint32(v)
		} else {
			snap.xmax = uint32(v)
		}
	}
	if parts[2] != "" {
		for _, p := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return txidSnapshot{}, fmt.Errorf("%w: snapshot %q: %w", ErrProtocol, s, err)
			}
			snap.xip = append(snap.xip, uint32(v))
		}
	}
	return snap, nil
}

// sees tells whether a committed transaction xid is visible in the snapshot.
func (s txidSnapshot) sees(xid uint32) bool {
	if xidPrecedes(xid, s.xmin) {
		return true
	}
	return xidPrecedes(xid, s.xmax) && !slices.Contains(s.xip, xid)
}

// xidPrecedes compares xids as PostgreSQL does, modulo 2^32.
func xidPrecedes(a, b uint32) bool { return int32(a-b) < 0 }
