package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pgx/v5"
)

// pgSnapReader reads tables on a connection inside a REPEATABLE READ transaction, with COPY
// in the text format, decoded by the stream's decoder as pgoutput's text values are.
type pgSnapReader struct {
	conn *pgx.Conn
	dec  *decoder.PGDecoder
	// publication is the connector's: whether it publishes stored generated columns decides
	// whether the snapshot reads them (see snapColumnsQuery).
	publication string
	// tables are the descriptions built so far, by name.
	tables map[string]*decoder.Table
}

const (
	snapRelationQuery = `SELECT c.oid, c.reltuples::float8, c.relpages::int8 FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`
	// snapColumnsQuery lists the columns the stream's Relation messages carry, so that the
	// snapshot's rows have the streamed rows' shape: pgoutput leaves generated columns out,
	// except (PostgreSQL 18) stored ones when the publication sets publish_generated_columns
	// = stored ($2 names the publication; pubgencols is absent before 18). Virtual generated
	// columns (18) are never published.
	snapColumnsQuery = `SELECT attname, atttypid, atttypmod FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped
		AND (attgenerated = '' OR (attgenerated = 's' AND EXISTS (SELECT 1 FROM pg_publication p
			WHERE p.pubname = $2 AND to_jsonb(p) ->> 'pubgencols' = 's')))
		ORDER BY attnum`
	// snapBlocksQuery counts the table's pages now. Pages are not versioned, but every row
	// this snapshot sees was written before it began, so on a page counted here.
	snapBlocksQuery = `SELECT pg_relation_size($1::oid::regclass) / current_setting('block_size')::int8`
)

func (r *pgSnapReader) describe(ctx context.Context, name string) (*snapTable, *decoder.Table, error) {
	schema, table, ok := splitTable(name)
	if !ok {
		return nil, nil, fmt.Errorf("snapshot: %q is not schema.table", name)
	}
	t := &snapTable{name: name, schema: schema, table: table}
	err := r.conn.QueryRow(ctx, snapRelationQuery, schema, table).Scan(&t.relID, &t.estimate, &t.pages)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("snapshot: table %s does not exist", name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: looking up table %s: %w", name, err)
	}
	rows, err := r.conn.Query(ctx, snapColumnsQuery, t.relID, r.publication)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: reading the columns of %s: %w", name, err)
	}
	cols, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (decoder.PGColumnInfo, error) {
		var c decoder.PGColumnInfo
		err := row.Scan(&c.Name, &c.TypeOID, &c.TypeMod)
		return c, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: reading the columns of %s: %w", name, err)
	}
	for _, c := range cols {
		t.columns = append(t.columns, c.Name)
	}
	rows, err = r.conn.Query(ctx, primaryKeyQuery, t.relID)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: reading the primary key of %s: %w", name, err)
	}
	if t.key, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, nil, fmt.Errorf("snapshot: reading the primary key of %s: %w", name, err)
	}
	for _, k := range t.key {
		i := indexOf(t.columns, k)
		if i < 0 {
			return nil, nil, fmt.Errorf("snapshot: key column %s of %s is not among its columns", k, name)
		}
		t.keyIdx = append(t.keyIdx, i)
	}
	tbl, err := r.dec.DescribeTable(ctx, t.relID, schema, table, cols)
	if err != nil {
		return nil, nil, fmt.Errorf("snapshot: describing %s: %w", name, err)
	}
	for _, c := range tbl.Columns {
		t.asText = append(t.asText, c.TextForm)
	}
	r.tables[name] = tbl
	return t, tbl, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func (r *pgSnapReader) chunk(ctx context.Context, t *snapTable, cur snapCursor, limit int) ([][]decoder.Value, snapCursor, bool, error) {
	if len(t.key) > 0 {
		return r.keysetChunk(ctx, t, cur, limit)
	}
	return r.ctidChunk(ctx, t, cur, limit)
}

// keysetChunk reads limit+1 rows after cur: the extra one, not returned, tells that more
// follow, so the chunk that ends the table is known when it is read.
func (r *pgSnapReader) keysetChunk(ctx context.Context, t *snapTable, cur snapCursor, limit int) ([][]decoder.Value, snapCursor, bool, error) {
	rows, lastKey, more, err := readKeyset(ctx, r.conn, r.dec, r.tables[t.name], t, cur.after, cur.upTo, limit)
	if err != nil {
		return nil, cur, false, err
	}
	next := cur
	if len(rows) > 0 {
		next.after = lastKey
	}
	return rows, next, more, nil
}

// readKeyset reads on conn, in key order, at most limit rows of t after the key values after
// (nil: from the start) and, when upTo is set, up to them, decoded as tbl. lastKey is the key
// of the last row returned (nil when none); more tells that a row past limit exists, which a
// key-only probe tells when the chunk is full, so that a large row past it is not read twice.
func readKeyset(ctx context.Context, conn *pgx.Conn, dec *decoder.PGDecoder, tbl *decoder.Table, t *snapTable,
	after, upTo []string, limit int) (rows [][]decoder.Value, lastKey []string, more bool, err error) {
	sql, err := keysetCopy(t, after, upTo, limit)
	if err != nil {
		return nil, nil, false, err
	}
	rows = make([][]decoder.Value, 0, limit)
	ncols := len(t.columns)
	var scratch []byte
	var values rowSlab
	var arena decoder.RowArena
	decode, err := dec.BinaryRows(tbl)
	if err != nil {
		return nil, nil, false, err
	}
	// The last row's key, as bytes reused from row to row: a string is made of it once, at
	// the end, not for every row.
	key := make([][]byte, len(t.key))
	w := &copyBinaryRows{ncols: ncols + len(t.key), fn: func(fields [][]byte) error {
		vals := values.row(ncols, limit-len(rows))
		if err := decode.Decode(fields[:ncols], vals, &scratch, &arena); err != nil {
			return err
		}
		rows = append(rows, vals)
		for i, k := range fields[ncols:] {
			if k == nil {
				return fmt.Errorf("%w: key column %s of %s is NULL", ErrCopyFormat, t.key[i], t.name)
			}
			key[i] = append(key[i][:0], k...)
		}
		return nil
	}}
	if _, err := conn.PgConn().CopyTo(ctx, w, sql); err != nil {
		return nil, nil, false, fmt.Errorf("reading after %v: %w", after, err)
	}
	if err := w.end(); err != nil {
		return nil, nil, false, err
	}
	if len(rows) > 0 {
		lastKey = make([]string, len(key))
		for i, k := range key {
			lastKey[i] = string(k)
		}
	}
	if len(rows) < limit {
		return rows, lastKey, false, nil
	}
	probe, err := keysetProbe(t, lastKey, upTo)
	if err != nil {
		return nil, nil, false, err
	}
	var buf bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &buf, probe); err != nil {
		return nil, nil, false, fmt.Errorf("looking past %v: %w", lastKey, err)
	}
	return rows, lastKey, buf.Len() > 0, nil
}

// ctidChunk reads the rows of the pages from cur.page on, as many pages as should hold about
// limit rows (judged from the table's statistics), going on past empty pages.
func (r *pgSnapReader) ctidChunk(ctx context.Context, t *snapTable, cur snapCursor, limit int) ([][]decoder.Value, snapCursor, bool, error) {
	blocks, err := r.blocks(ctx, t)
	if err != nil {
		return nil, cur, false, err
	}
	tbl := r.tables[t.name]
	span := pageSpan(t, limit)
	var rows [][]decoder.Value
	page := int64(cur.page)
	for page < blocks && len(rows) == 0 {
		to := min(page+span, blocks, 1<<32-1)
		if rows, err = readPages(ctx, r.conn, r.dec, tbl, t, uint32(page), uint32(to)); err != nil {
			return nil, cur, false, err
		}
		page = to
		// Empty pages: look further at once.
		span = min(span*2, 1<<20)
	}
	next := snapCursor{page: uint32(page)}
	if page >= blocks {
		return rows, next, false, nil
	}
	more, err := r.rowsFrom(ctx, t, next.page)
	if err != nil {
		return nil, cur, false, err
	}
	return rows, next, more, nil
}

// pageSpan returns how many pages of t should hold about limit rows, judged from the table's
// statistics (64 when it has none).
func pageSpan(t *snapTable, limit int) int64 {
	if t.pages > 0 && t.estimate > 0 {
		return max(1, int64(float64(limit)*float64(t.pages)/t.estimate))
	}
	return 64
}

// readPages reads on conn the rows of t on pages [from, to), decoded as tbl.
func readPages(ctx context.Context, conn *pgx.Conn, dec *decoder.PGDecoder, tbl *decoder.Table, t *snapTable,
	from, to uint32) ([][]decoder.Value, error) {
	var rows [][]decoder.Value
	var scratch []byte
	var values rowSlab
	var arena decoder.RowArena
	decode, err := dec.BinaryRows(tbl)
	if err != nil {
		return nil, err
	}
	w := &copyBinaryRows{ncols: len(t.columns), fn: func(fields [][]byte) error {
		vals := values.row(len(fields), rowSlabRows)
		if err := decode.Decode(fields, vals, &scratch, &arena); err != nil {
			return err
		}
		rows = append(rows, vals)
		return nil
	}}
	if _, err := conn.PgConn().CopyTo(ctx, w, ctidCopy(t, from, to)); err != nil {
		return nil, fmt.Errorf("reading pages %d to %d: %w", from, to, err)
	}
	if err := w.end(); err != nil {
		return nil, err
	}
	return rows, nil
}

// blocks counts the pages of t now. Pages are not versioned, but every row this snapshot sees
// was written before it began, so on a page counted here.
func (r *pgSnapReader) blocks(ctx context.Context, t *snapTable) (int64, error) {
	var blocks int64
	if err := r.conn.QueryRow(ctx, snapBlocksQuery, t.relID).Scan(&blocks); err != nil {
		return 0, fmt.Errorf("counting the pages of %s: %w", t.name, err)
	}
	return blocks, nil
}

// rowsFrom tells whether t holds a row at or past page.
func (r *pgSnapReader) rowsFrom(ctx context.Context, t *snapTable, page uint32) (bool, error) {
	var more bool
	err := r.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{t.schema, t.table}.Sanitize()+
		" WHERE ctid >= '"+pageCTID(page)+"'::tid)").Scan(&more)
	if err != nil {
		return false, fmt.Errorf("looking for rows past page %d of %s: %w", page, t.name, err)
	}
	return more, nil
}

// rowSampleSize is how many rows rowBytes samples: enough to smooth a few odd rows, few
// enough that the sample costs little next to a chunk.
const rowSampleSize = 16

// rowBytes samples the first rows of t and returns their average size as text, plus the
// decoded values' own overhead. The text is at least the decoded bytes (bytea's hex is twice
// them: a conservative estimate, which the chunks read then correct); the catalog's size per
// row would not do, as it counts TOAST values compressed.
func (r *pgSnapReader) rowBytes(ctx context.Context, t *snapTable) (float64, error) {
	var text float64
	err := r.conn.QueryRow(ctx, "SELECT coalesce(avg(octet_length(s::text)), 0)::float8 FROM (SELECT "+t.selectList()+
		" FROM "+pgx.Identifier{t.schema, t.table}.Sanitize()+" LIMIT "+strconv.Itoa(rowSampleSize)+") s").Scan(&text)
	if err != nil {
		return 0, fmt.Errorf("sampling the row size of %s: %w", t.name, err)
	}
	if text == 0 {
		return 0, nil
	}
	return text + float64(decoder.RowMemSize(make([]decoder.Value, len(t.columns)))), nil
}

func (r *pgSnapReader) hasRows(ctx context.Context, name string) (bool, error) {
	schema, table, ok := splitTable(name)
	if !ok {
		return false, fmt.Errorf("%q is not schema.table", name)
	}
	var has bool
	err := r.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{schema, table}.Sanitize()+")").Scan(&has)
	return has, err
}

// snapshotTables lists the tables to snapshot: the configured ones, or those the publication
// covers, by name.
func snapshotTables(ctx context.Context, conn *pgx.Conn, cfg Config) ([]string, error) {
	if len(cfg.Tables) > 0 {
		if cfg.PartitionRouting == PartitionsViaLeaves {
			return snapshotLeaves(ctx, conn, cfg.Tables)
		}
		return cfg.Tables, nil
	}
	rows, err := conn.Query(ctx, `SELECT schemaname, tablename FROM pg_publication_tables
		WHERE pubname = $1 ORDER BY 1, 2`, cfg.Publication)
	if err != nil {
		return nil, fmt.Errorf("snapshot: listing the tables of publication %s: %w", cfg.Publication, err)
	}
	names, err := pgx.CollectRows(rows, scanTableName)
	if err != nil {
		return nil, fmt.Errorf("snapshot: listing the tables of publication %s: %w", cfg.Publication, err)
	}
	// The signal table is in the publication, but its rows are not data.
	names = slices.DeleteFunc(names, func(n string) bool { return n == cfg.SignalTable })
	for _, n := range names {
		if _, _, ok := splitTable(n); !ok {
			return nil, &ConfigError{Source: "postgres", Field: "tables",
				Problem: fmt.Sprintf("table %s has a name cdcd cannot read", strings.ReplaceAll(n, "\n", " ")),
				Fix:     "list the tables to capture explicitly, or rename the table"}
		}
	}
	return names, nil
}

// pgSnapConn is a parallel reader's connection: a normal connection inside a REPEATABLE READ
// transaction that imported the snapshot's id.
type pgSnapConn struct {
	conn *pgx.Conn
	dec  *decoder.PGDecoder
}

var _ snapConn = (*pgSnapConn)(nil)

// openSnapConn opens a connection with the snapshot connection's settings and imports the
// exported snapshot id into a REPEATABLE READ READ ONLY transaction, so that it reads exactly
// what the snapshotter's connection reads.
func openSnapConn(ctx context.Context, cfg Config, id string, dec *decoder.PGDecoder) (*pgSnapConn, error) {
	conn, err := connectSnapshot(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for _, sql := range []string{"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "SET TRANSACTION SNAPSHOT " + quoteLiteral(id)} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("postgres source: %s: %w", sql, err)
		}
	}
	return &pgSnapConn{conn: conn, dec: dec}, nil
}

func (c *pgSnapConn) scanKeys(ctx context.Context, t *snapTable, after []string, every int, boundary func(key []string) error) (int, error) {
	sql, err := keyScanCopy(t, after)
	if err != nil {
		return 0, err
	}
	count := 0
	var scratch []byte
	w := &copyLines{fn: func(line []byte) error {
		if count++; count < every {
			return nil
		}
		count = 0
		// parseCopyText unescapes in place, and a Writer must not change what it is given.
		scratch = append(scratch[:0], line...)
		var key []string
		err := parseCopyText(scratch, len(t.key), func(fields [][]byte) (err error) {
			key, err = t.keyText(fields)
			return err
		})
		if err != nil {
			return err
		}
		return boundary(key)
	}}
	if _, err := c.conn.PgConn().CopyTo(ctx, w, sql); err != nil {
		return 0, err
	}
	if len(w.partial) > 0 {
		return 0, fmt.Errorf("%w: the last key does not end with a newline", ErrCopyFormat)
	}
	return count, nil
}

func (c *pgSnapConn) readKeys(ctx context.Context, t *snapTable, tbl *decoder.Table, lo, hi []string, limit int) ([][]decoder.Value, []string, error) {
	rows, lastKey, _, err := readKeyset(ctx, c.conn, c.dec, tbl, t, lo, hi, limit)
	return rows, lastKey, err
}

func (c *pgSnapConn) readPages(ctx context.Context, t *snapTable, tbl *decoder.Table, from, to uint32) ([][]decoder.Value, error) {
	return readPages(ctx, c.conn, c.dec, tbl, t, from, to)
}

func (c *pgSnapConn) close(ctx context.Context) { _ = c.conn.Close(ctx) }

// copyLines is an io.Writer that calls fn with each complete line (newline included) of what
// COPY's text format sends, as it comes: a row never holds a raw newline. fn must not keep or
// change the line.
type copyLines struct {
	partial []byte
	fn      func(line []byte) error
}

func (w *copyLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		line := p[:i+1]
		if len(w.partial) > 0 {
			w.partial = append(w.partial, line...)
			line = w.partial
		}
		if err := w.fn(line); err != nil {
			return 0, err
		}
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}
