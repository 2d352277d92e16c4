package integration

import (
	"fmt"
	"testing"
	"time"
)

// TestPostgresSnapshotOnAnExistingSlotIsExact: a slot that exists when the initial snapshot
// starts, with no position committed from it (left by an attempt that failed before its first
// commit, or made by hand), is made anew with an exported snapshot: a change committed after
// the old slot's creation and before cdcd's start arrives once, in the snapshot, and is not
// streamed again from the old slot's confirmed position.
func TestPostgresSnapshotOnAnExistingSlotIsExact(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counters VALUES (1, 0)`)
	c := NewPostgresConnector(t, db, "public.counters")
	mustExec(t, conn, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, c.Name)
	mustExec(t, conn, `UPDATE counters SET n = 1 WHERE id = 1`) // after the slot's confirmed position

	cdcd := StartCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO counters VALUES (2, 0)`)

	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	var got []ChangeRecord
	WaitFor(t, 2*time.Minute, "the insert after the snapshot", func() error {
		got = append(got, consumer.Poll(t, time.Second)...)
		if n := len(got); n == 0 || fmt.Sprint(got[n-1].After()["id"]) != "2" {
			return fmt.Errorf("%d records so far", n)
		}
		return nil
	})
	if len(got) != 2 || got[0].Op() != "r" || fmt.Sprint(got[0].After()["n"]) != "1" || got[1].Op() != "c" {
		var seen []string
		for _, r := range got {
			seen = append(seen, fmt.Sprintf("%s %v", r.Op(), r.After()))
		}
		t.Fatalf("records %v; want the snapshot's read of row 1 with n = 1, then the insert: the update was streamed again", seen)
	}
	if !cdcd.LogsContain("no position was committed from it") {
		t.Errorf("the log does not say why the slot was made anew:\n%s", cdcd.Logs())
	}
	cdcd.Stop(time.Minute)
}
