package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
)

// This file is the SQL side of the initial snapshot: a transaction WITH CONSISTENT SNAPSHOT
// tied to a binlog position, and keyset-paginated chunk queries inside it.

// queryer is what the snapshot and binlog status queries need: an *sql.DB or a pinned *sql.Conn.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// snapshotStatements are the statements that open the consistent snapshot, in order. On
// MySQL, a position needs FLUSH TABLES WITH READ LOCK held from before the snapshot starts
// until the binlog status is read (Stream runs UNLOCK TABLES right after): no commit can fall
// between the two. MariaDB reports the binlog position of its consistent snapshot itself
// (Binlog_snapshot_file/position), so it takes no lock; a resumed snapshot (no position
// needed) takes none either.
func snapshotStatements(f Flavor, needPosition bool) []string {
	stmts := []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"}
	if f == FlavorMySQL && needPosition {
		stmts = append(stmts, "FLUSH TABLES WITH READ LOCK")
	}
	return append(stmts, "START TRANSACTION WITH CONSISTENT SNAPSHOT")
}

// snapSession is an open consistent snapshot on a connection of its own.
type snapSession struct {
	db   *sql.DB
	conn *sql.Conn
	// pos is the binlog position the snapshot's rows are consistent with (when asked for).
	pos Position
}

// openSnapshot starts a consistent snapshot and, with needPosition, reads its binlog position.
func (s *Source) openSnapshot(ctx context.Context, needPosition bool) (_ *snapSession, err error) {
	db, err := connect(ctx, s.cfg)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("mysql source: snapshot connection: %w", err)
	}
	ss := &snapSession{db: db, conn: conn}
	defer func() {
		if err != nil {
			ss.close()
		}
	}()
	for _, q := range snapshotStatements(s.flavor, needPosition) {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("mysql source: snapshot: %s: %w", q, err)
		}
	}
	if !needPosition {
		return ss, nil
	}
	if s.flavor == FlavorMySQL {
		ss.pos, err = currentPosition(ctx, conn, s.flavor)
		if _, uerr := conn.ExecContext(ctx, "UNLOCK TABLES"); uerr != nil && err == nil {
			err = fmt.Errorf("mysql source: snapshot: UNLOCK TABLES: %w", uerr)
		}
		return ss, err
	}
	ss.pos, err = mariaDBSnapshotPosition(ctx, conn)
	return ss, err
}

// mariaDBSnapshotPosition reads the binlog position of the open consistent snapshot: the
// Binlog_snapshot_* status variables, and its GTID position (Binlog_snapshot_gtid_pos where the
// server has it, else BINLOG_GTID_POS of the coordinates).
func mariaDBSnapshotPosition(ctx context.Context, q queryer) (Position, error) {
	at, vars, err := binlogSnapshotPoint(ctx, q)
	if err != nil {
		return Position{}, err
	}
	gtids, ok := vars["binlog_snapshot_gtid_pos"]
	if !ok {
		var gp sql.NullString
		if err := q.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", at.file, at.pos).Scan(&gp); err != nil {
			return Position{}, fmt.Errorf("mysql source: BINLOG_GTID_POS(%s, %d): %w", at.file, at.pos, err)
		}
		gtids = gp.String
	}
	set, err := ParseGTIDSet(FlavorMariaDB, gtids)
	if err != nil {
		return Position{}, fmt.Errorf("mysql source: the snapshot's GTIDs: %w", err)
	}
	return Position{GTIDs: set, File: at.file, Pos: at.pos}, nil
}

// binlogSnapshotPoint reads MariaDB's Binlog_snapshot_file and Binlog_snapshot_position in a
// transaction started WITH CONSISTENT SNAPSHOT: the binlog point of exactly that snapshot.
// It returns the other Binlog_snapshot_* variables too, by lower-case name.
func binlogSnapshotPoint(ctx context.Context, q queryer) (binlogPoint, map[string]string, error) {
	rows, err := q.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return binlogPoint{}, nil, fmt.Errorf("mysql source: snapshot position: %w", err)
	}
	defer func() { _ = rows.Close() }()
	vars := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return binlogPoint{}, nil, fmt.Errorf("mysql source: snapshot position: %w", err)
		}
		vars[strings.ToLower(k)] = v
	}
	if err := rows.Err(); err != nil {
		return binlogPoint{}, nil, fmt.Errorf("mysql source: snapshot position: %w", err)
	}
	file := vars["binlog_snapshot_file"]
	pos, err := strconv.ParseUint(vars["binlog_snapshot_position"], 10, 64)
	if err != nil || file == "" {
		return binlogPoint{}, nil, fmt.Errorf("mysql source: snapshot position: Binlog_snapshot_file %q, position %q", file, vars["binlog_snapshot_position"])
	}
	return binlogPoint{file: file, pos: pos}, vars, nil
}

func (ss *snapSession) close() {
	_ = ss.conn.Close()
	_ = ss.db.Close()
}

// keyColumns returns the indexes of t's primary key columns, in table order.
func keyColumns(t *tableDef) []int {
	var k []int
	for i, c := range t.Columns {
		if c.Key {
			k = append(k, i)
		}
	}
	return k
}

// isBinaryType tells whether a column type holds bytes rather than text: its key values are
// kept in hex in snapshot progress, which is JSON.
func isBinaryType(typ string) bool {
	for _, p := range []string{"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"} {
		if typ == p || strings.HasPrefix(typ, p+"(") {
			return true
		}
	}
	return false
}

// convertedText tells whether c is text in a character set that the row decoder converts
// from the stored bytes, and returns the conversion (see decoder.MySQLConvertedText).
func convertedText(c columnDef) (func([]byte) (string, error), bool) {
	return decoder.MySQLConvertedText(decoder.MySQLColumnDef{Name: c.Name, ColumnType: c.Type, Charset: c.Charset,
		Nullable: c.Nullable, Key: c.Key})
}

// selectColumn is how a snapshot query selects column c: text in a character set other than
// UTF-8 as the bytes it stores, as the binlog carries them, so that the row decoder's one
// conversion applies to both (the server would otherwise convert it to the connection's
// utf8mb4, and the decoder convert it a second time); any other column as itself. Without an
// alias, ORDER BY and WHERE on the column's name still mean the column, in its collation.
//
// ENUM and SET are selected as their index and bitmap (column+0), as the binlog carries them:
// both then take their labels from the table's definition, so a snapshot never gives a label
// the schema's allowed labels do not hold (MariaDB's information_schema gives a label beyond
// the Basic Multilingual Plane as '?'), and an ENUM key pages in its index order, the order
// of ORDER BY. A MariaDB INET6 is selected as its 16 bytes.
func selectColumn(c columnDef) string {
	if _, text := convertedText(c); text {
		return "CAST(" + quoteIdent(c.Name) + " AS BINARY)"
	}
	if isEnumOrSet(c.Type) {
		return "(" + quoteIdent(c.Name) + "+0)"
	}
	if strings.EqualFold(c.Type, "inet6") {
		// Its 16 bytes, as the binlog carries them: its text's length would not tell it apart.
		return "CAST(" + quoteIdent(c.Name) + " AS BINARY(16))"
	}
	return quoteIdent(c.Name)
}

// isEnumOrSet tells whether a column type is an ENUM or a SET.
func isEnumOrSet(typ string) bool {
	t := strings.ToLower(typ)
	return strings.HasPrefix(t, "enum(") || strings.HasPrefix(t, "set(")
}

// isIntegerType tells whether a column type is an integer: its key values are query arguments
// of Go integer types, so that they compare as integers, not as doubles.
func isIntegerType(typ string) bool {
	base, _, _ := strings.Cut(typ, "(")
	base, _, _ = strings.Cut(base, " ")
	switch base {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return true
	}
	return false
}

// lastKey returns the key values of row, the last one read, as snapshot progress keeps them.
func lastKey(t *tableDef, row snapRow) ([]string, error) {
	key := keyColumns(t)
	out := make([]string, len(key))
	for i, c := range key {
		var b []byte
		switch v := row[c].(type) {
		case []byte:
			b = v
		case string:
			b = []byte(v)
		case int64, uint64:
			b = fmt.Append(nil, v)
		default:
			return nil, fmt.Errorf("key column %s is NULL or %T", t.Columns[c].Name, v)
		}
		switch toUTF8, text := convertedText(t.Columns[c]); {
		case isBinaryType(t.Columns[c].Type):
			out[i] = hex.EncodeToString(b)
		case text:
			// Read as its stored bytes (selectColumn); progress and the next chunk's query
			// argument are UTF-8, which the server converts back to the column's charset.
			s, err := toUTF8(b)
			if err != nil {
				return nil, fmt.Errorf("key column %s: %w", t.Columns[c].Name, err)
			}
			out[i] = s
		default:
			out[i] = string(b)
		}
	}
	return out, nil
}

// keyArgs turns progress key values back into query arguments.
func keyArgs(t *tableDef, after []string) ([]any, error) {
	key := keyColumns(t)
	if len(after) != len(key) {
		return nil, badPosition("%d key values after, the primary key of %s has %d columns", len(after), t.key(), len(key))
	}
	args := make([]any, len(key))
	for i, c := range key {
		typ, v := t.Columns[c].Type, after[i]
		switch {
		case isBinaryType(typ):
			b, err := hex.DecodeString(v)
			if err != nil {
				return nil, badPosition("key value %q of %s.%s is not hex", v, t.key(), t.Columns[c].Name)
			}
			args[i] = b
		case isEnumOrSet(typ):
			// An index (selectColumn); a label from a snapshot position of an earlier
			// version is passed as it is.
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				args[i] = n
			} else {
				args[i] = v
			}
		case isIntegerType(typ) && strings.Contains(typ, "unsigned"):
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, badPosition("key value %q of %s.%s is not an unsigned integer", v, t.key(), t.Columns[c].Name)
			}
			args[i] = n
		case isIntegerType(typ):
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, badPosition("key value %q of %s.%s is not an integer", v, t.key(), t.Columns[c].Name)
			}
			args[i] = n
		default:
			args[i] = v
		}
	}
	return args, nil
}

// chunkQuery returns the query of a chunk of t: with a primary key, the limit+1 rows (the one
// more tells that more follow) in key order after the key values (the row constructor
// comparison, when after is set); without one, the whole table.
func chunkQuery(t *tableDef, after bool, limit int) string {
	return keysetQuery(t, after, false, limit)
}

// keysetQuery is chunkQuery with, when upTo is set, an upper bound on the key too: the rows
// up to and including the key values given after those of after.
func keysetQuery(t *tableDef, after, upTo bool, limit int) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(selectColumn(c))
	}
	b.WriteString(" FROM " + quoteIdent(t.Database) + "." + quoteIdent(t.Name))
	key := keyColumns(t)
	if len(key) == 0 {
		return b.String()
	}
	names := make([]string, len(key))
	for i, c := range key {
		names[i] = quoteIdent(t.Columns[c].Name)
	}
	list := strings.Join(names, ", ")
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(key)), ", ")
	var lo, hi string
	if after {
		lo = marks
	}
	if upTo {
		hi = marks
	}
	b.WriteString(snapshot.KeysetWhere(list, lo, hi))
	b.WriteString(" ORDER BY " + list + " LIMIT " + strconv.Itoa(limit+1))
	return b.String()
}

// sqlSnapReader reads chunks on the snapshot's connection, whose driver interpolates the
// arguments: the text protocol gives every value as the text decoder.MySQLRowDecoder reads,
// and text columns as their stored bytes (selectColumn).
type sqlSnapReader struct{ q queryer }

func (r sqlSnapReader) estimate(ctx context.Context, t *tableDef) float64 {
	var n sql.NullInt64
	err := r.q.QueryRowContext(ctx, "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		t.Database, t.Name).Scan(&n)
	if err != nil || !n.Valid {
		return -1 // only for the log: unknown
	}
	return float64(n.Int64)
}

func (r sqlSnapReader) chunk(ctx context.Context, t *tableDef, after []string, limit int) ([]snapRow, bool, error) {
	return r.keysetChunk(ctx, t, after, nil, limit)
}

// keysetChunk is chunk with an upper bound: with upTo set, only rows whose key is at most
// upTo.
func (r sqlSnapReader) keysetChunk(ctx context.Context, t *tableDef, after, upTo []string, limit int) ([]snapRow, bool, error) {
	var args []any
	for _, k := range [][]string{after, upTo} {
		if k == nil {
			continue
		}
		a, err := keyArgs(t, k)
		if err != nil {
			return nil, false, err
		}
		args = append(args, a...)
	}
	rows, err := r.q.QueryContext(ctx, keysetQuery(t, after != nil, upTo != nil, limit), args...)
	if err != nil {
		return nil, false, err
	}
	defer func() { _ = rows.Close() }()
	keyed := len(keyColumns(t)) > 0
	var out []snapRow
	for rows.Next() {
		row := make(snapRow, len(t.Columns))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, false, err
		}
		if keyed && len(out) == limit {
			return out, true, rows.Close()
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return out, false, nil
}

// rowSampleSize is how many rows rowBytes samples: enough to smooth a few odd rows, few
// enough that the sample costs little next to a chunk.
const rowSampleSize = 16

// rowBytes samples the first rows of t and returns their average size: the bytes of their
// values as text, which the text protocol sends and a chunk holds, plus snapRowSize's
// overhead per row. The server sums the lengths: only one number comes back.
func (r sqlSnapReader) rowBytes(ctx context.Context, t *tableDef) (float64, error) {
	if len(t.Columns) == 0 {
		return 0, nil
	}
	var b strings.Builder
	b.WriteString("SELECT AVG(")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(" + ")
		}
		b.WriteString("COALESCE(LENGTH(s." + quoteIdent(c.Name) + "), 0)")
	}
	b.WriteString(") FROM (SELECT ")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(c.Name))
	}
	b.WriteString(" FROM " + quoteIdent(t.Database) + "." + quoteIdent(t.Name) + " LIMIT " + strconv.Itoa(rowSampleSize) + ") s")
	var avg sql.NullFloat64
	if err := r.q.QueryRowContext(ctx, b.String()).Scan(&avg); err != nil {
		return 0, fmt.Errorf("sampling the row size of %s: %w", t.key(), err)
	}
	if !avg.Valid || avg.Float64 <= 0 {
		return 0, nil
	}
	return avg.Float64 + float64(snapSliceBytes+len(t.Columns)*(snapIfaceBytes+snapSliceBytes)), nil
}

// The sizes snapRowSize counts, on 64-bit platforms.
const snapSliceBytes, snapIfaceBytes = 24, 16

// snapRowSize estimates the bytes row holds: its slice, an interface per value, and each
// []byte value's header and bytes.
func snapRowSize(row snapRow) int {
	n := snapSliceBytes + len(row)*snapIfaceBytes
	for _, v := range row {
		if b, ok := v.([]byte); ok {
			n += snapSliceBytes + len(b)
		}
	}
	return n
}

// snapRowsSize sums snapRowSize over rows.
func snapRowsSize(rows []snapRow) int64 {
	var n int64
	for _, r := range rows {
		n += int64(snapRowSize(r))
	}
	return n
}

func (r sqlSnapReader) hasRows(ctx context.Context, t *tableDef) (bool, error) {
	var one int
	err := r.q.QueryRowContext(ctx, "SELECT 1 FROM "+quoteIdent(t.Database)+"."+quoteIdent(t.Name)+" LIMIT 1").Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
