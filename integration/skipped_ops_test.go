package integration

import (
	"strings"
	"testing"
	"time"
)

// opsOf returns the ops of records, "tombstone" for a tombstone.
func opsOf(records []ChangeRecord) string {
	ops := make([]string, len(records))
	for i, r := range records {
		ops[i] = r.Op()
	}
	return strings.Join(ops, ",")
}

// A TRUNCATE is not written by default, as Debezium's skipped.operations defaults to t: the
// changes around it are.
func TestPostgresTruncateSkippedByDefault(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, v text)`)
	c := NewPostgresConnector(t, db, "public.items")
	c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO items VALUES (1, 'a')`)
	mustExec(t, conn, `TRUNCATE items`)
	mustExec(t, conn, `INSERT INTO items VALUES (2, 'b')`)
	expectTwoInserts(t, NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")), "the truncate")
}

// skipped_operations: [u, d] writes the inserts of a MySQL table only.
func TestMySQLSkippedOperations(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (id int PRIMARY KEY, v text)`)
	c := NewMySQLConnector(t, m, "items")
	c.ConnectorExtra = []string{"skipped_operations: [u, d]"}
	c.StartStreaming(t)
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (1, 'a')`)
	mustExecMySQL(t, m.DB, `UPDATE items SET v = 'b' WHERE id = 1`)
	mustExecMySQL(t, m.DB, `DELETE FROM items WHERE id = 1`)
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (2, 'c')`)
	expectTwoInserts(t, NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")), "the update and delete")
}

// expectTwoInserts checks that consumer reads the inserts of keys 1 and 2 and nothing else:
// skipped, what the test wrote between them, is not written.
func expectTwoInserts(t *testing.T, consumer *AvroConsumer, skipped string) {
	t.Helper()
	got := consumer.Collect(t, 2, 2*time.Minute)
	if ops := opsOf(got); ops != "c,c" || got[1].Key["id"] != 2 {
		t.Fatalf("ops %s (second key %v), want c,c: %s skipped", ops, got[1].Key, skipped)
	}
	if more := consumer.Drain(t, 3*time.Second); len(more) != 0 {
		t.Errorf("records after the second insert: %s", opsOf(more))
	}
}
