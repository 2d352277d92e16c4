package integration

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/cdcd-dev/cdcd/decoder"
)

// mysqlAllTypesDDL has one column per type family the MySQL decoder maps, with the edge values
// of mysqlAllTypesInsert.
const mysqlAllTypesDDL = `CREATE TABLE all_types (
	id INT NOT NULL PRIMARY KEY,
	ti TINYINT, tiu TINYINT UNSIGNED, t1 TINYINT(1), bo BOOL,
	si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
	i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED, izf INT(5) ZEROFILL,
	d DECIMAL(10,2), dbig DECIMAL(40,5), f FLOAT, db DOUBLE,
	b1 BIT(1), b12 BIT(12),
	c CHAR(5), vc VARCHAR(20), tx TEXT, l1 VARCHAR(20) CHARACTER SET latin1, l1t TEXT CHARACTER SET latin1,
	bn BINARY(4), vb VARBINARY(10), bl BLOB,
	dt DATE, dz DATE NULL, tm TIME(6), tmn TIME, dt3 DATETIME(3), dt6 DATETIME(6), dt0 DATETIME,
	dtz DATETIME NULL, ts TIMESTAMP(3) NULL, ts0 TIMESTAMP NULL,
	yr YEAR, en ENUM('a','it''s','c\\d'), st SET('x','y','z'), js JSON,
	nul INT NULL
) DEFAULT CHARSET=utf8mb4`

const mysqlAllTypesInsert = `INSERT INTO all_types VALUES (
	1,
	-128, 255, 1, TRUE,
	-32768, 65535, -8388608, 16777215,
	-2147483648, 4294967295, -9223372036854775808, 18446744073709551615, 42,
	-12345678.90, 12345678901234567890123456789012345.12345, 1.5, -2.25e300,
	b'1', b'101000000011',
	'ab', 'héllo 😀', 'text ✓', 'café €', 'Ünïcödé',
	x'0102', x'00ff', x'deadbeef',
	'1969-12-31', '0000-00-00', '-12:34:56.789012', '838:59:59', '2024-02-29 13:04:05.123',
	'1900-01-01 00:00:00.000001', '9999-12-31 23:59:59',
	'0000-00-00 00:00:00', '2024-02-29 13:04:05.120', '0000-00-00 00:00:00',
	2155, 'it''s', 'z,x', '{"a": [1, 2]}',
	NULL)`

// TestMySQLDecoderDecodesEveryTypeFromMariaDBBinlog reads a table's columns from
// information_schema, inserts a row of edge values, reads its row event from MariaDB's binlog
// with go-mysql configured by ConfigureMySQLSyncer, and checks every decoded Value.
func TestMySQLDecoderDecodesEveryTypeFromMariaDBBinlog(t *testing.T) {
	m := NewMariaDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, stmt := range []string{mysqlAllTypesDDL, "CREATE TABLE zero_dates (id INT PRIMARY KEY, d DATE NOT NULL)"} {
		if _, err := m.DB.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("creating table: %v", err)
		}
	}
	table := mysqlTableFromSchema(ctx, t, m, "all_types")
	zeroTable := mysqlTableFromSchema(ctx, t, m, "zero_dates")

	streamer := startMySQLSyncer(ctx, t, m)

	// One connection, so that the session settings apply to the inserts: zero dates allowed,
	// and a zone that is not UTC so that TIMESTAMP's conversion shows.
	conn, err := m.DB.Conn(ctx)
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	defer func() { _ = conn.Close() }()
	for _, stmt := range []string{"SET SESSION sql_mode = ''", "SET SESSION time_zone = '+02:00'",
		mysqlAllTypesInsert, "INSERT INTO zero_dates VALUES (1, '0000-00-00')"} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	got := decodeNextRow(ctx, t, streamer, m.Name, table)
	want := mysqlAllTypesWant(t)
	for i, c := range table.Columns {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("column %s: no expectation", c.Name)
			continue
		}
		if c.Type != w.typ {
			t.Errorf("column %s (%s): Type = %d, want %d", c.Name, c.SourceType, c.Type, w.typ)
		}
		if !sameValue(got[i], w.val) {
			t.Errorf("column %s (%s): value = %+v (%q), want %+v (%q)", c.Name, c.SourceType, got[i],
				got[i].Bytes, w.val, w.val.Bytes)
		}
	}
	for _, c := range table.Columns {
		if c.Name == "en" && !equalStrings(c.EnumValues, []string{"a", "it's", `c\d`}) {
			t.Errorf("enum labels of %s = %q, want [a it's c\\d]", c.SourceType, c.EnumValues)
		}
	}

	// A zero date in a NOT NULL column is an error naming the column.
	rowEv := nextRowsEvent(ctx, t, streamer, m.Name, "zero_dates")
	d, err := decoder.NewMySQLRowDecoder(zeroTable)
	if err != nil {
		t.Fatalf("NewMySQLRowDecoder: %v", err)
	}
	err = d.Decode(rowEv.Rows[0], make([]decoder.Value, 2))
	var colErr *decoder.MySQLColumnError
	if !errors.Is(err, decoder.ErrMySQLZeroDate) || !errors.As(err, &colErr) || colErr.Column != "d" {
		t.Errorf("decoding a NOT NULL zero date: err = %v, want ErrMySQLZeroDate on column d", err)
	}
}

type mysqlWant struct {
	typ decoder.Type
	val decoder.Value
}

func mysqlAllTypesWant(t *testing.T) map[string]mysqlWant {
	t.Helper()
	set := func(v decoder.Value) decoder.Value { v.State = decoder.ValueSet; return v }
	i := func(n int64) decoder.Value { return set(decoder.Value{Int: n}) }
	b := func(s string) decoder.Value { return set(decoder.Value{Bytes: []byte(s)}) }
	f := func(x float64) decoder.Value { return set(decoder.Value{Float: x}) }
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	return map[string]mysqlWant{
		"id":   {decoder.TypeInt32, i(1)},
		"ti":   {decoder.TypeInt16, i(-128)},
		"tiu":  {decoder.TypeInt16, i(255)},
		"t1":   {decoder.TypeInt16, i(1)},
		"bo":   {decoder.TypeInt16, i(1)}, // BOOL is tinyint(1) in information_schema
		"si":   {decoder.TypeInt16, i(-32768)},
		"siu":  {decoder.TypeInt32, i(65535)},
		"mi":   {decoder.TypeInt32, i(-8388608)},
		"miu":  {decoder.TypeInt32, i(16777215)},
		"i":    {decoder.TypeInt32, i(math.MinInt32)},
		"iu":   {decoder.TypeInt64, i(math.MaxUint32)},
		"bi":   {decoder.TypeInt64, i(math.MinInt64)},
		"biu":  {decoder.TypeInt64, i(-1)}, // bigint.unsigned.handling.mode=long wraps
		"izf":  {decoder.TypeInt64, i(42)},
		"d":    {decoder.TypeDecimal, set(decoder.Value{Bytes: unscaled(t, "-1234567890")})},
		"dbig": {decoder.TypeDecimal, set(decoder.Value{Bytes: unscaled(t, "1234567890123456789012345678901234512345")})},
		"f":    {decoder.TypeFloat32, f(1.5)},
		"db":   {decoder.TypeFloat64, f(-2.25e300)},
		"b1":   {decoder.TypeBool, i(1)},
		"b12":  {decoder.TypeBits, b("\x03\x0a")},
		"c":    {decoder.TypeString, b("ab")},
		"vc":   {decoder.TypeString, b("héllo 😀")},
		"tx":   {decoder.TypeString, b("text ✓")},
		"l1":   {decoder.TypeString, b("café €")},
		"l1t":  {decoder.TypeString, b("Ünïcödé")},
		"bn":   {decoder.TypeBytes, b("\x01\x02\x00\x00")},
		"vb":   {decoder.TypeBytes, b("\x00\xff")},
		"bl":   {decoder.TypeBytes, b("\xde\xad\xbe\xef")},
		"dt":   {decoder.TypeDate, i(-1)},
		"dz":   {decoder.TypeDate, decoder.Value{}},
		"tm":   {decoder.TypeTimeMicros, i(-(((12*60+34)*60+56)*1_000_000 + 789012))},
		"tmn":  {decoder.TypeTimeMicros, i(((838*60+59)*60 + 59) * 1_000_000)},
		"dt3":  {decoder.TypeTimestampMillis, i(utc(2024, 2, 29, 13, 4, 5, 123e6).UnixMilli())},
		"dt6":  {decoder.TypeTimestampMicros, i(utc(1900, 1, 1, 0, 0, 0, 1000).UnixMicro())},
		"dt0":  {decoder.TypeTimestampMillis, i(utc(9999, 12, 31, 23, 59, 59, 0).UnixMilli())},
		"dtz":  {decoder.TypeTimestampMillis, decoder.Value{}},
		"ts":   {decoder.TypeZonedTimestamp, b("2024-02-29T11:04:05.120Z")},
		"ts0":  {decoder.TypeZonedTimestamp, decoder.Value{}},
		"yr":   {decoder.TypeYear, i(2155)},
		"en":   {decoder.TypeEnum, b("it's")},
		"st":   {decoder.TypeEnumSet, b("x,z")},
		// MariaDB's JSON is longtext with a json_valid check: information_schema says
		// longtext, so it maps as a string, as Debezium's snapshot of MariaDB sees it.
		"js":  {decoder.TypeString, b(`{"a": [1, 2]}`)},
		"nul": {decoder.TypeInt32, decoder.Value{}},
	}
}

// unscaled returns the big-endian two's complement of a decimal integer, as Java's
// BigInteger.toByteArray writes it.
func unscaled(t *testing.T, s string) []byte {
	t.Helper()
	x, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad integer %q", s)
	}
	n := x.BitLen()/8 + 1
	mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	if x.Sign() < 0 {
		x.Add(x, mod)
	}
	out := x.FillBytes(make([]byte, n))
	for len(out) > 1 && ((out[0] == 0 && out[1]&0x80 == 0) || (out[0] == 0xff && out[1]&0x80 != 0)) {
		out = out[1:]
	}
	return out
}

func sameValue(a, b decoder.Value) bool {
	return a.State == b.State && a.Int == b.Int && a.Float == b.Float && bytes.Equal(a.Bytes, b.Bytes)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// mysqlTableFromSchema reads a table's columns from information_schema.COLUMNS.
func mysqlTableFromSchema(ctx context.Context, t *testing.T, m *MariaDB, name string) *decoder.Table {
	t.Helper()
	rows, err := m.DB.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, IS_NULLABLE, COLUMN_KEY
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, m.Name, name)
	if err != nil {
		t.Fatalf("reading columns of %s: %v", name, err)
	}
	defer func() { _ = rows.Close() }()
	var defs []decoder.MySQLColumnDef
	for rows.Next() {
		var def decoder.MySQLColumnDef
		var charset sql.NullString
		var nullable, key string
		if err := rows.Scan(&def.Name, &def.ColumnType, &charset, &nullable, &key); err != nil {
			t.Fatalf("reading columns of %s: %v", name, err)
		}
		def.Charset, def.Nullable, def.Key = charset.String, nullable == "YES", key == "PRI"
		defs = append(defs, def)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading columns of %s: %v", name, err)
	}
	table, err := decoder.NewMySQLTable(m.Name, name, defs, 1)
	if err != nil {
		t.Fatalf("NewMySQLTable(%s): %v", name, err)
	}
	return table
}

func startMySQLSyncer(ctx context.Context, t *testing.T, m *MariaDB) *replication.BinlogStreamer {
	t.Helper()
	var file, doDB, ignoreDB string
	var pos uint32
	if err := m.DB.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &doDB, &ignoreDB); err != nil {
		t.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	cfg := replication.BinlogSyncerConfig{
		ServerID: 1000 + rand.Uint32N(1<<30), // unique among the server's replicas
		Flavor:   mysql.MariaDBFlavor,
		Host:     m.Host(),
		Port:     m.Port(),
		User:     MariaDBCaptureUser,
		Password: MariaDBCapturePassword,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	decoder.ConfigureMySQLSyncer(&cfg)
	syncer := replication.NewBinlogSyncer(cfg)
	t.Cleanup(syncer.Close)
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: pos})
	if err != nil {
		t.Fatalf("starting binlog sync at %s:%d: %v", file, pos, err)
	}
	return streamer
}

// nextRowsEvent returns the next write-rows event of the table (ctx bounds the wait).
func nextRowsEvent(ctx context.Context, t *testing.T, s *replication.BinlogStreamer, db, table string) *replication.RowsEvent {
	t.Helper()
	for {
		ev, err := s.GetEvent(ctx)
		if err != nil {
			t.Fatalf("reading the binlog for %s.%s: %v", db, table, err)
		}
		if e, ok := ev.Event.(*replication.RowsEvent); ok && string(e.Table.Schema) == db && string(e.Table.Table) == table {
			if !isWriteRows(ev.Header.EventType) || len(e.Rows) != 1 {
				t.Fatalf("event of %s.%s is %s with %d rows, want one written row", db, table, ev.Header.EventType, len(e.Rows))
			}
			return e
		}
	}
}

func decodeNextRow(ctx context.Context, t *testing.T, s *replication.BinlogStreamer, db string, table *decoder.Table) []decoder.Value {
	t.Helper()
	e := nextRowsEvent(ctx, t, s, db, table.Name)
	d, err := decoder.NewMySQLRowDecoder(table)
	if err != nil {
		t.Fatalf("NewMySQLRowDecoder: %v", err)
	}
	out := make([]decoder.Value, len(table.Columns))
	if err := d.Decode(e.Rows[0], out); err != nil {
		t.Fatalf("decoding row %v: %v", e.Rows[0], err)
	}
	return out
}
