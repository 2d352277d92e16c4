package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testConnector holds the names a test gives its connector: its name, topic prefix and the
// address of its embedded registry; its offsets and schemas topics derive from the prefix, so
// nothing is shared with another test.
type testConnector struct {
	Name     string
	Prefix   string
	Registry string
}

func newTestConnector(t testing.TB) testConnector {
	t.Helper()
	return testConnector{Name: Name(t, "conn"), Prefix: Name(t, "p"), Registry: FreeAddr(t)}
}

// RegistryURL is the embedded registry's URL.
func (c testConnector) RegistryURL() string { return "http://" + c.Registry }

// config returns the YAML config of a cdcd running this connector alone, of type kind, whose
// own section is source (indented for the connector's level). The REST API is off: the process
// runs the file's connector and exits when it stops (the API's tests configure their own).
func (c testConnector) config(kind, source string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  offsets_topic: %s_offsets
registry:
  listen: %s
  topic: %s_schemas
log:
  level: debug
api:
  listen: "off"
connectors:
  - name: %s
    type: %s
    topic_prefix: %s
%s`, StackFromEnv().KafkaAddr, c.Prefix, c.Registry, c.Prefix, c.Name, kind, c.Prefix, source)
}

// PostgresConnector is a test's postgres connector on its own database.
type PostgresConnector struct {
	testConnector
	DB     *PostgresDB
	Tables []string
	// Extra holds more lines of the postgres section, e.g. "snapshot_chunk_rows: 1000".
	Extra []string
	// ConnectorExtra holds more lines of the connector, e.g. "transforms:" and its list.
	ConnectorExtra []string
}

// NewPostgresConnector names a connector, its slot, publication, topic prefix and registry
// address for the calling test.
func NewPostgresConnector(t testing.TB, db *PostgresDB, tables ...string) *PostgresConnector {
	t.Helper()
	return &PostgresConnector{testConnector: newTestConnector(t), DB: db, Tables: tables}
}

// Topic is the topic of a table of the public schema.
func (c *PostgresConnector) Topic(table string) string { return c.Prefix + ".public." + table }

// Config returns the YAML config of a cdcd running this connector alone.
func (c *PostgresConnector) Config() string {
	host, port, _ := strings.Cut(c.DB.addr, ":")
	return c.config("postgres", indentLines(c.ConnectorExtra, "    ")+fmt.Sprintf(`    postgres:
      host: %s
      port: %s
      user: postgres
      database: %s
      slot: %s
      publication: %s
      tables: [%s]
%s`, host, port, c.DB.Name, c.Name, c.Name, strings.Join(c.Tables, ", "), indentLines(c.Extra, "      ")))
}

// TestPostgresEveryTypeReachesKafkaAsWritten writes rows with every supported type, updates them
// (an unchanged TOASTed column, a primary-key change), deletes and truncates, and checks that a
// consumer decoding through the registry gets Debezium's events with the values written.
func TestPostgresEveryTypeReachesKafkaAsWritten(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	ctx := t.Context()
	mustExec(t, conn, `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
		CREATE TABLE everything (
			id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
			n numeric(10,2), nu numeric, t text, vc varchar(20), c char(3), by bytea,
			d date, tm time, tm3 time(3), ttz timetz, ts timestamp, ts3 timestamp(3), tstz timestamptz,
			iv interval, u uuid, j json, jb jsonb, e mood, ip inet, cidr cidr, mac macaddr,
			ai int4[], at text[], big text)`)

	c := NewPostgresConnector(t, db, "public.everything")
	c.ConnectorExtra = []string{"skipped_operations: [none]"} // the truncate too
	cdcd := c.StartStreaming(t, conn)

	// An incompressible 16 kB value is stored out of line (TOASTed).
	mustExec(t, conn, `INSERT INTO everything VALUES (1, true, -32768, 2147483647, -9223372036854775808,
		1.5, 2.25, 12.34, 3.14159, 'text é', 'varchar', 'ab', '\xdeadbeef',
		'2024-02-29', '12:34:56.789012', '12:34:56.789', '12:30:00.5+02', '2024-02-29 11:14:15.123456',
		'2024-02-29 11:14:15.123', '2024-02-29 13:14:15.1+02', '1 day 02:03:04',
		'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"b": 2, "a": 1}', 'happy',
		'192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '{1,2,NULL}', '{"a b","c"}',
		(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 500) i))`)
	mustExec(t, conn, `UPDATE everything SET t = 'changed' WHERE id = 1`)
	mustExec(t, conn, `UPDATE everything SET id = 2 WHERE id = 1`)
	mustExec(t, conn, `DELETE FROM everything WHERE id = 2`)
	mustExec(t, conn, `INSERT INTO everything (id) VALUES (3)`)
	mustExec(t, conn, `TRUNCATE everything`)

	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("everything"))
	got := consumer.Collect(t, 9, 2*time.Minute)
	var ops []string
	for _, r := range got {
		ops = append(ops, r.Op())
	}
	if want := []string{"c", "u", "d", "tombstone", "c", "d", "tombstone", "c", "t"}; !reflect.DeepEqual(ops, want) {
		t.Fatalf("ops = %v, want %v", ops, want)
	}

	var bigText string
	if err := conn.QueryRow(ctx, `SELECT string_agg(md5(i::text), '') FROM generate_series(1, 500) i`).Scan(&bigText); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": 1, "b": true, "i2": -32768, "i4": 2147483647, "i8": int64(-9223372036854775808),
		"f4": float32(1.5), "f8": 2.25, "n": big.NewRat(1234, 100),
		"nu": map[string]any{"scale": 5, "value": big.NewInt(314159).Bytes()},
		"t":  "text é", "vc": "varchar", "c": "ab ", "by": []byte{0xde, 0xad, 0xbe, 0xef},
		"d": 19782, "tm": int64(45296789012), "tm3": 45296789, "ttz": "10:30:00.5Z",
		"ts": int64(1709205255123456), "ts3": int64(1709205255123), "tstz": "2024-02-29T11:14:15.100000Z",
		"iv": int64(93784000000), "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"j": `{"a": 1}`, "jb": `{"a": 1, "b": 2}`, "e": "happy",
		"ip": "192.168.0.1/24", "cidr": "10.0.0.0/8", "mac": "08:00:2b:01:02:03",
		"ai": []any{1, 2, nil}, "at": []any{"a b", "c"}, "big": bigText,
	}
	expectRow(t, "insert after", got[0].After(), want)
	if got[0].Before() != nil {
		t.Errorf("insert has a before: %v", got[0].Before())
	}
	checkSource(t, got[0], db.Name, "everything")
	if id := got[0].Key["id"]; id != 1 {
		t.Errorf("insert key = %v, want id 1", got[0].Key)
	}

	// The update left the TOASTed column alone: it is the placeholder, never null.
	want["t"], want["big"] = "changed", "__debezium_unavailable_value"
	expectRow(t, "update after", got[1].After(), want)

	// The key change: delete of id 1 with its tombstone, then create of id 2.
	if got[2].Key["id"] != 1 || got[2].Before()["id"] != 1 || got[2].After() != nil {
		t.Errorf("key change delete = key %v before %v after %v, want id 1 deleted", got[2].Key, got[2].Before(), got[2].After())
	}
	if got[3].Key["id"] != 1 {
		t.Errorf("tombstone key = %v, want id 1", got[3].Key)
	}
	want["id"] = 2
	expectRow(t, "key change create", got[4].After(), want)
	if got[4].Key["id"] != 2 {
		t.Errorf("key change create key = %v, want id 2", got[4].Key)
	}

	if got[5].Key["id"] != 2 || got[5].Before()["id"] != 2 || got[6].Key["id"] != 2 {
		t.Errorf("delete = key %v before %v, tombstone key %v; want id 2", got[5].Key, got[5].Before(), got[6].Key)
	}

	nulls := got[7].After()
	for col, v := range nulls {
		if col != "id" && v != nil {
			t.Errorf("all-NULL row: %s = %v, want null", col, v)
		}
	}
	if got[8].Key != nil || got[8].Before() != nil || got[8].After() != nil {
		t.Errorf("truncate = key %v before %v after %v, want all null", got[8].Key, got[8].Before(), got[8].After())
	}

	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}

func checkSource(t *testing.T, r ChangeRecord, db, table string) {
	t.Helper()
	src := r.Source()
	for field, want := range map[string]any{"connector": "postgresql", "db": db, "schema": "public", "table": table, "snapshot": "false"} {
		if got := Unwrap(src[field]); got != want {
			t.Errorf("source.%s = %v, want %v", field, got, want)
		}
	}
	for _, field := range []string{"lsn", "txId", "ts_ms"} {
		if Unwrap(src[field]) == nil {
			t.Errorf("source.%s is null", field)
		}
	}
}

// expectRow compares a decoded row with the wanted values, column by column.
func expectRow(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no row", what)
	}
	for col, w := range want {
		g := Unwrap(got[col])
		if !sameDecoded(g, w) {
			t.Errorf("%s: %s = %#v (%T), want %#v (%T)", what, col, g, g, w, w)
		}
	}
	for col := range got {
		if _, ok := want[col]; !ok {
			t.Errorf("%s: unexpected column %s", what, col)
		}
	}
}

func sameDecoded(got, want any) bool {
	if w, ok := want.(*big.Rat); ok {
		g, ok := got.(*big.Rat)
		return ok && g.Cmp(w) == 0
	}
	if w, ok := want.(map[string]any); ok {
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k := range w {
			if !sameDecoded(Unwrap(g[k]), w[k]) {
				return false
			}
		}
		return true
	}
	if w, ok := want.([]any); ok {
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameDecoded(Unwrap(g[i]), w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

// StartStreaming starts cdcd on the connector and waits until it streams from the slot (see
// WaitStreaming), so that what the test writes next on conn's database is captured by
// streaming.
func (c *PostgresConnector) StartStreaming(t *testing.T, conn *pgx.Conn) *CDCD {
	t.Helper()
	p := StartCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
	return p
}

// WaitStreaming waits until cdcd streams from the connector's slot, so that what the test
// writes next is captured by streaming (what was written before belongs to a snapshot).
func (c *PostgresConnector) WaitStreaming(t testing.TB, conn *pgx.Conn) {
	t.Helper()
	WaitSlotStreaming(t, conn, c.Name)
}

// WaitSlotStreaming waits until slot is in use and past its consistent point: from then on a
// change committed is decoded by the slot, not read by the initial snapshot. Active alone is
// not enough: CREATE_REPLICATION_SLOT holds the slot (active) while it waits for the
// transactions running on the server to end, up to a checkpoint's or the background writer's
// next running-transactions record (15 s); a write committed meanwhile is in the exported
// snapshot, read as op r, and never streamed. The consistent point is confirmed_flush_lsn,
// null until then.
func WaitSlotStreaming(t testing.TB, conn *pgx.Conn, slot string) {
	t.Helper()
	WaitFor(t, 2*time.Minute, "cdcd streaming from slot "+slot, func() error {
		var active, consistent bool
		err := conn.QueryRow(t.Context(), `SELECT active, confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots
			WHERE slot_name = $1`, slot).Scan(&active, &consistent)
		switch {
		case err != nil:
			return err
		case !consistent:
			return fmt.Errorf("slot %s has no consistent point yet (being created)", slot)
		case !active:
			return fmt.Errorf("slot %s is not active", slot)
		}
		return nil
	})
}

// TestPostgresMillionRowTransactionPassesThrough writes one transaction of 1 000 000 rows:
// every row must reach Kafka exactly once. (Its memory is a benchmark figure: make bench.)
func TestPostgresMillionRowTransactionPassesThrough(t *testing.T) {
	const rows = 1_000_000
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE big (id int PRIMARY KEY, payload text NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.big")
	cdcd := c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, $1) i`, rows)

	consumer := NewKafkaClient(t,
		kgo.ConsumeTopics(c.Topic("big")),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	seen := make([]bool, rows+1)
	count := 0
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	for count < rows {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d rows arrived before the deadline", count, rows)
		}
		for _, r := range fetches.Records() {
			// The key is the Confluent wire format of {id: int}: 5 header bytes, then the
			// zig-zag varint of id.
			id, n := binary.Varint(r.Key[5:])
			if n <= 0 || id < 1 || id > rows {
				t.Fatalf("record at offset %d has key %x", r.Offset, r.Key)
			}
			if seen[id] {
				t.Fatalf("row %d arrived twice", id)
			}
			seen[id] = true
			count++
		}
	}
	if extra := len(consumer.PollFetches(shortContext(t, 2*time.Second)).Records()); extra != 0 {
		t.Errorf("%d records after the %d rows", extra, rows)
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM", code)
	}
}

func shortContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
