package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresWriteAfterWaitStreamingIsStreamed: a transaction open on the server while cdcd
// creates its slot holds the slot's creation (active, not yet consistent) until a
// running-transactions record after its end. WaitStreaming must wait past that point: a row
// written earlier is read by the initial snapshot (op r) instead of streamed (op c), which made
// the tests that stream after WaitStreaming miss their changes on a busy server.
func TestPostgresWriteAfterWaitStreamingIsStreamed(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY)`)

	// A transaction with an xid, as another client's on a shared server.
	blocker := db.Conn(t)
	mustExec(t, blocker, `BEGIN`)
	mustExec(t, blocker, `SELECT txid_current()`)

	c := NewPostgresConnector(t, db, "public.items")
	StartCDCD(t, c.Config())
	// The blocker ends once the slot is being created, as another client's transaction would.
	released := make(chan error, 1)
	go func() {
		watch, err := pgx.Connect(context.Background(), db.DSN())
		if err != nil {
			released <- err
			return
		}
		defer func() { _ = watch.Close(context.Background()) }()
		err = Eventually(time.Minute, func() error {
			var n int
			if err := watch.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`,
				c.Name).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("no slot %s yet", c.Name)
			}
			return nil
		})
		if err == nil {
			_, err = blocker.Exec(context.Background(), `COMMIT`)
		}
		released <- err
	}()

	c.WaitStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO items VALUES (1)`)
	if err := <-released; err != nil {
		t.Fatalf("ending the blocking transaction: %v", err)
	}
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 1, 2*time.Minute)
	if op := got[0].Op(); op != "c" {
		t.Fatalf("the row written after WaitStreaming is op %s, want c: it was read by the snapshot, not streamed", op)
	}
}
