package integration

import (
	"database/sql"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
)

// MySQLConnector is a test's mysql connector on its own database.
type MySQLConnector struct {
	testConnector
	DB     *MariaDB
	Tables []string // "database.table"; none: the whole database
	// ConnectorExtra holds more lines of the connector, e.g. "provide_transaction_metadata: true".
	ConnectorExtra []string
}

// NewMySQLConnector names a connector, its topic prefix and registry address for the calling
// test, capturing the given tables of db.
func NewMySQLConnector(t testing.TB, db *MariaDB, tables ...string) *MySQLConnector {
	t.Helper()
	qualified := make([]string, len(tables))
	for i, table := range tables {
		qualified[i] = db.Name + "." + table
	}
	return &MySQLConnector{testConnector: newTestConnector(t), DB: db, Tables: qualified}
}

// Topic is the topic of a table of the connector's database.
func (c *MySQLConnector) Topic(table string) string { return c.Prefix + "." + c.DB.Name + "." + table }

// Config returns the YAML config of a cdcd running this connector alone.
func (c *MySQLConnector) Config() string {
	capture := "tables: [" + strings.Join(c.Tables, ", ") + "]"
	if len(c.Tables) == 0 {
		capture = "databases: [" + c.DB.Name + "]"
	}
	return c.config("mysql", indentLines(c.ConnectorExtra, "    ")+fmt.Sprintf(`    mysql:
      host: %s
      port: %d
      user: %s
      password: %s
      %s
`, c.DB.Host(), c.DB.Port(), MariaDBCaptureUser, MariaDBCapturePassword, capture))
}

// registeredReplica tells whether a replica with serverID is connected to the server's binlog.
// go-mysql registers the binlog reader as a replica, so SHOW SLAVE HOSTS names it by its id.
func registeredReplica(t testing.TB, db *sql.DB, serverID uint32) (bool, error) {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SHOW SLAVE HOSTS`)
	if err != nil {
		return false, err
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	for rows.Next() {
		values := make([]any, len(cols))
		var id uint32
		values[0] = &id // Server_id comes first
		for i := 1; i < len(values); i++ {
			values[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(values...); err != nil {
			return false, err
		}
		if id == serverID {
			return true, nil
		}
	}
	return false, rows.Err()
}

// StartStreaming starts cdcd on the connector and waits until it reads the binlog (its replica
// id is registered with the server), so that what the test writes next is captured by
// streaming.
func (c *MySQLConnector) StartStreaming(t *testing.T) *CDCD {
	t.Helper()
	p := StartCDCD(t, c.Config())
	c.WaitReading(t, p)
	return p
}

// WaitReading waits until p, a cdcd started on the connector, reads the binlog (its replica id
// is registered with the server), failing the test if p exits first.
func (c *MySQLConnector) WaitReading(t *testing.T, p *CDCD) {
	t.Helper()
	id := mysql.DefaultServerID(c.Name)
	WaitFor(t, time.Minute, "cdcd reading the binlog", func() error {
		if p.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", p.Logs())
		}
		ok, err := registeredReplica(t, c.DB.DB, id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no replica with server id %d", id)
		}
		return nil
	})
}

func mustExecMySQL(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// TestMySQLTypesReachKafkaAsWritten writes a row with the common MySQL types through cdcd,
// updates and deletes it, and checks the events a consumer decodes through the registry.
func TestMySQLTypesReachKafkaAsWritten(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (
		id int PRIMARY KEY, ti tinyint, si smallint unsigned, i int, iu int unsigned, bi bigint,
		d decimal(10,2), f float, db double, vc varchar(20), l1 varchar(20) CHARACTER SET latin1,
		bl blob, dt date, tm time(6), dtm datetime(6), ts timestamp(3) NULL, e enum('sad','ok','happy'),
		j json, b1 bit(1), b12 bit(12), yr year, st set('r','w','x'), c char(3), tx text, mi mediumint,
		bn binary(4), dt3 datetime(3), bu bigint unsigned, vb varbinary(8)) DEFAULT CHARSET=utf8mb4`)
	c := NewMySQLConnector(t, m, "items")
	cdcd := c.StartStreaming(t)

	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (1, -128, 65535, -2147483648, 4294967295,
		-9223372036854775808, 12.34, 1.5, 2.25, 'text é', 'café', X'DEADBEEF', '2024-02-29',
		'-12:34:56.789012', '2024-02-29 11:14:15.123456', '2024-02-29 11:14:15.123', 'happy', '{"a": 1}', b'1', b'101000000011', 2024, 'r,x', 'ab', 'long text', -8388608, X'0102', '2024-02-29 11:14:15.123',
		9223372036854775807, X'00FF')`)
	mustExecMySQL(t, m.DB, `UPDATE items SET vc = 'changed' WHERE id = 1`)
	mustExecMySQL(t, m.DB, `DELETE FROM items WHERE id = 1`)
	mustExecMySQL(t, m.DB, `INSERT INTO items (id) VALUES (2)`)

	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	got := consumer.Collect(t, 5, 2*time.Minute)
	var ops []string
	for _, r := range got {
		ops = append(ops, r.Op())
	}
	if want := []string{"c", "u", "d", "tombstone", "c"}; !reflect.DeepEqual(ops, want) {
		t.Fatalf("ops = %v, want %v", ops, want)
	}
	want := map[string]any{
		"id": 1, "ti": -128, "si": 65535, "i": -2147483648, "iu": int64(4294967295),
		"bi": int64(-9223372036854775808), "d": big.NewRat(1234, 100), "f": float32(1.5), "db": 2.25,
		"vc": "text é", "l1": "café", "bl": []byte{0xde, 0xad, 0xbe, 0xef},
		"dt": 19782, "tm": int64(-45296789012), "dtm": int64(1709205255123456),
		"ts": "2024-02-29T11:14:15.123Z", "e": "happy", "j": `{"a": 1}`,
		// bit(12) b'101000000011' = 0xA03, little-endian as Debezium's Bits.
		"b1": true, "b12": []byte{0x03, 0x0a}, "yr": 2024, "st": "r,x",
		// char keeps no padding in MySQL; binary(4) is padded back to 4 bytes.
		"c": "ab", "tx": "long text", "mi": -8388608, "bn": []byte{1, 2, 0, 0},
		"dt3": int64(1709205255123), "bu": int64(9223372036854775807), "vb": []byte{0, 0xff},
	}
	expectRow(t, "insert after", got[0].After(), want)
	want["vc"] = "changed"
	expectRow(t, "update after", got[1].After(), want)
	expectRow(t, "update before", got[1].Before(), map[string]any{
		"id": 1, "ti": -128, "si": 65535, "i": -2147483648, "iu": int64(4294967295),
		"bi": int64(-9223372036854775808), "d": big.NewRat(1234, 100), "f": float32(1.5), "db": 2.25,
		"vc": "text é", "l1": "café", "bl": []byte{0xde, 0xad, 0xbe, 0xef},
		"dt": 19782, "tm": int64(-45296789012), "dtm": int64(1709205255123456),
		"ts": "2024-02-29T11:14:15.123Z", "e": "happy", "j": `{"a": 1}`,
		"b1": true, "b12": []byte{0x03, 0x0a}, "yr": 2024, "st": "r,x",
		"c": "ab", "tx": "long text", "mi": -8388608, "bn": []byte{1, 2, 0, 0},
		"dt3": int64(1709205255123), "bu": int64(9223372036854775807), "vb": []byte{0, 0xff},
	})
	if got[2].Key["id"] != 1 || got[2].Before()["vc"] != "changed" || got[3].Key["id"] != 1 {
		t.Errorf("delete = key %v before %v, tombstone key %v", got[2].Key, got[2].Before(), got[3].Key)
	}
	for col, v := range got[4].After() {
		if col != "id" && Unwrap(v) != nil {
			t.Errorf("all-NULL row: %s = %v, want null", col, v)
		}
	}
	src := got[0].Source()
	for field, want := range map[string]any{"connector": "mysql", "db": m.Name, "table": "items"} {
		if v := Unwrap(src[field]); v != want {
			t.Errorf("source.%s = %v, want %v", field, v, want)
		}
	}
	for _, field := range []string{"file", "pos", "gtid", "server_id"} {
		if Unwrap(src[field]) == nil {
			t.Errorf("source.%s is null", field)
		}
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}
