package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pgx/v5"
)

// pgSnapReader reads tables on a connection inside a REPEATABLE READ transaction, with COPY
// in the text format, decoded by the stream's decoder as pgoutput's text values are.
type pgSnapReader struct {
	conn *pgx.Conn
	dec  *decoder.PGDecoder
	// tables are the descriptions built so far, by name.
	tables map[string]*decoder.Table
}

const (
	snapRelationQuery = `SELECT c.oid, c.reltuples::float8, c.relpages::int8 FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`
	snapColumnsQuery = `SELECT attname, atttypid, atttypmod FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`
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
	rows, err := r.conn.Query(ctx, snapColumnsQuery, t.relID)
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
	sql, err := keysetCopy(t, cur.after, cur.upTo, limit+1)
	if err != nil {
		return nil, cur, false, err
	}
	var buf bytes.Buffer
	if _, err := r.conn.PgConn().CopyTo(ctx, &buf, sql); err != nil {
		return nil, cur, false, fmt.Errorf("reading after %v: %w", cur.after, err)
	}
	tbl := r.tables[t.name]
	rows := make([][]decoder.Value, 0, limit)
	more := false
	lastKey := make([][]byte, len(t.keyIdx))
	err = parseCopyText(buf.Bytes(), len(t.columns), func(fields [][]byte) error {
		if len(rows) == limit {
			more = true
			return nil
		}
		vals := make([]decoder.Value, len(fields))
		if err := r.dec.DecodeText(tbl, fields, vals); err != nil {
			return err
		}
		rows = append(rows, vals)
		for i, k := range t.keyIdx {
			lastKey[i] = fields[k]
		}
		return nil
	})
	if err != nil {
		return nil, cur, false, err
	}
	next := cur
	if len(rows) > 0 {
		next.after = make([]string, len(lastKey))
		for i, k := range lastKey {
			if k == nil {
				return nil, cur, false, fmt.Errorf("%w: key column %s of %s is NULL", ErrCopyFormat, t.key[i], t.name)
			}
			next.after[i] = string(k)
		}
	}
	return rows, next, more, nil
}

// ctidChunk reads the rows of the pages from cur.page on, as many pages as should hold about
// limit rows (judged from the table's statistics), going on past empty pages.
func (r *pgSnapReader) ctidChunk(ctx context.Context, t *snapTable, cur snapCursor, limit int) ([][]decoder.Value, snapCursor, bool, error) {
	var blocks int64
	if err := r.conn.QueryRow(ctx, snapBlocksQuery, t.relID).Scan(&blocks); err != nil {
		return nil, cur, false, fmt.Errorf("counting the pages of %s: %w", t.name, err)
	}
	tbl := r.tables[t.name]
	span := int64(64)
	if t.pages > 0 && t.estimate > 0 {
		span = max(1, int64(float64(limit)*float64(t.pages)/t.estimate))
	}
	var rows [][]decoder.Value
	page := int64(cur.page)
	for page < blocks && len(rows) == 0 {
		to := min(page+span, blocks, 1<<32-1)
		var buf bytes.Buffer
		if _, err := r.conn.PgConn().CopyTo(ctx, &buf, ctidCopy(t, uint32(page), uint32(to))); err != nil {
			return nil, cur, false, fmt.Errorf("reading pages %d to %d: %w", page, to, err)
		}
		err := parseCopyText(buf.Bytes(), len(t.columns), func(fields [][]byte) error {
			vals := make([]decoder.Value, len(fields))
			if err := r.dec.DecodeText(tbl, fields, vals); err != nil {
				return err
			}
			rows = append(rows, vals)
			return nil
		})
		if err != nil {
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
	var more bool
	err := r.conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+pgx.Identifier{t.schema, t.table}.Sanitize()+
		" WHERE ctid >= '"+pageCTID(next.page)+"'::tid)").Scan(&more)
	if err != nil {
		return nil, cur, false, fmt.Errorf("looking for rows past page %d of %s: %w", next.page, t.name, err)
	}
	return rows, next, more, nil
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
		return cfg.Tables, nil
	}
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || tablename FROM pg_publication_tables
		WHERE pubname = $1 ORDER BY 1`, cfg.Publication)
	if err != nil {
		return nil, fmt.Errorf("snapshot: listing the tables of publication %s: %w", cfg.Publication, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("snapshot: listing the tables of publication %s: %w", cfg.Publication, err)
	}
	// The signal table is in the publication, but its rows are not data.
	names = slices.DeleteFunc(names, func(n string) bool { return n == cfg.SignalTable })
	for _, n := range names {
		if _, _, ok := splitTable(n); !ok {
			return nil, &ConfigError{Source: "postgres", Field: "tables",
				Problem: fmt.Sprintf("table %s needs quoting, which snapshots do not support yet", strings.ReplaceAll(n, "\n", " ")),
				Fix:     "list the tables to capture explicitly, or rename the table"}
		}
	}
	return names, nil
}
