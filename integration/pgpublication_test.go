package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pubGapRows is how many rows the publication gap tests start with.
const pubGapRows = 1000

// TestPostgresPublicationGapIsReadAgain removes the captured table from the connector's
// publication for 20 s under a writer that keeps incrementing counters and inserting rows, then
// adds it back if cdcd did not, as an operator or a migration tool would. PostgreSQL decodes
// none of the table's changes while it is out, and adding it back does not bring them back.
// The periodic check is set too long to matter: cdcd sees the gap at a Relation message, either
// one that follows the removal (a transaction concurrent with it, decoded after it, sends one)
// and restores the table itself, or the one that follows the test's re-add (a new membership).
// Either way it logs the gap and re-reads the table with an incremental snapshot. Checked: the
// state rebuilt from Kafka equals the table, and no counter ever goes down in the topic (no
// read older than a streamed change).
func TestPostgresPublicationGapIsReadAgain(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, fmt.Sprintf(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO items SELECT i, 0 FROM generate_series(1, %d) i`, pubGapRows))
	c := NewPostgresConnector(t, db, "public.items")
	c.Extra = []string{"publication_check_interval: 10m", "incremental_snapshot_chunk_rows: 200"}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	cdcd := StartCDCD(t, c.Config())
	records := consumer.Collect(t, pubGapRows, 2*time.Minute)
	c.WaitStreaming(t, conn)

	w := startPubGapWriter(t, db)
	records = append(records, consumer.Collect(t, 50, time.Minute)...)
	pub := pgx.Identifier{c.Name}.Sanitize()
	mustExec(t, conn, `ALTER PUBLICATION `+pub+` DROP TABLE items`)
	outFor(t, 20*time.Second)
	if !c.published(t, conn, "items") {
		mustExec(t, conn, `ALTER PUBLICATION `+pub+` ADD TABLE items`)
	} else {
		t.Logf("cdcd restored the table itself before the test did")
	}

	WaitFor(t, 2*time.Minute, "the incremental snapshot after the gap to end", func() error {
		records = append(records, consumer.Poll(t, 200*time.Millisecond)...)
		if !cdcd.LogsContain("incremental snapshot done") {
			return fmt.Errorf("not done")
		}
		return nil
	})
	w.stop(t)
	want := map[string]rowsByKey{
		c.Topic("items"): pgTableState(t, conn, `SELECT format('id=%s', id), format('id=%s,v=%s', id, v) FROM items`),
	}
	records = waitRebuiltState(t, consumer, records, want)
	// The initial snapshot's reads come first; the reads after them must be incremental.
	reads := checkNoStaleValue(t, records[pubGapRows:])
	t.Logf("%d records, %d incremental reads, %d writes", len(records), reads, w.writes.Load())
	checkGapLogged(t, cdcd, "public.items")
	cdcd.Stop(time.Minute)
}

// TestPostgresPublicationGapRemovedAndAddedBackAtOnce removes the captured table from the
// publication, updates every row and adds it back in one transaction, under the writer: cdcd
// never sees the table out, but PostgreSQL does not decode the updates made while it was, and
// its membership is a new one. cdcd must see the new membership (at the Relation message that
// follows), log the gap and re-read the table.
func TestPostgresPublicationGapRemovedAndAddedBackAtOnce(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, fmt.Sprintf(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO items SELECT i, 0 FROM generate_series(1, %d) i`, pubGapRows))
	c := NewPostgresConnector(t, db, "public.items")
	c.Extra = []string{"publication_check_interval: 10m", "incremental_snapshot_chunk_rows: 200"}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	cdcd := StartCDCD(t, c.Config())
	records := consumer.Collect(t, pubGapRows, 2*time.Minute)
	c.WaitStreaming(t, conn)

	w := startPubGapWriter(t, db)
	records = append(records, consumer.Collect(t, 50, time.Minute)...)
	pub := pgx.Identifier{c.Name}.Sanitize()
	mustExec(t, conn, `BEGIN; ALTER PUBLICATION `+pub+` DROP TABLE items; UPDATE items SET v = v + 1;
		ALTER PUBLICATION `+pub+` ADD TABLE items; COMMIT`)
	WaitFor(t, 2*time.Minute, "the incremental snapshot after the gap to end", func() error {
		records = append(records, consumer.Poll(t, 200*time.Millisecond)...)
		if !cdcd.LogsContain("incremental snapshot done") {
			return fmt.Errorf("not done")
		}
		return nil
	})
	w.stop(t)
	want := map[string]rowsByKey{
		c.Topic("items"): pgTableState(t, conn, `SELECT format('id=%s', id), format('id=%s,v=%s', id, v) FROM items`),
	}
	records = waitRebuiltState(t, consumer, records, want)
	checkNoStaleValue(t, records[pubGapRows:])
	checkGapLogged(t, cdcd, "public.items")
	if !cdcd.LogsContain("removed from the publication and added back") {
		t.Errorf("the log does not say the table was removed and added back")
	}
	cdcd.Stop(time.Minute)
}

// TestPostgresPublicationGapRestoredByCdcd removes the captured table from the publication under
// writes and leaves it out: cdcd's periodic check must find it missing, log the gap, add it back
// itself and re-read it, with the same oracle as above.
func TestPostgresPublicationGapRestoredByCdcd(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, fmt.Sprintf(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO items SELECT i, 0 FROM generate_series(1, %d) i`, pubGapRows))
	c := NewPostgresConnector(t, db, "public.items")
	c.Extra = []string{"publication_check_interval: 1s", "incremental_snapshot_chunk_rows: 200"}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	cdcd := StartCDCD(t, c.Config())
	records := consumer.Collect(t, pubGapRows, 2*time.Minute)
	c.WaitStreaming(t, conn)

	w := startPubGapWriter(t, db)
	records = append(records, consumer.Collect(t, 50, time.Minute)...)
	mustExec(t, conn, `ALTER PUBLICATION `+pgx.Identifier{c.Name}.Sanitize()+` DROP TABLE items`)
	WaitFor(t, time.Minute, "cdcd to add the table back to the publication", func() error {
		if !c.published(t, conn, "items") {
			return fmt.Errorf("public.items is not in publication %s", c.Name)
		}
		return nil
	})
	WaitFor(t, 2*time.Minute, "the incremental snapshot after the gap to end", func() error {
		records = append(records, consumer.Poll(t, 200*time.Millisecond)...)
		if !cdcd.LogsContain("incremental snapshot done") {
			return fmt.Errorf("not done")
		}
		return nil
	})
	w.stop(t)
	want := map[string]rowsByKey{
		c.Topic("items"): pgTableState(t, conn, `SELECT format('id=%s', id), format('id=%s,v=%s', id, v) FROM items`),
	}
	records = waitRebuiltState(t, consumer, records, want)
	checkNoStaleValue(t, records[pubGapRows:])
	checkGapLogged(t, cdcd, "public.items")
	if !cdcd.LogsContain("publication restored") {
		t.Errorf("the log does not say the publication was restored")
	}
	cdcd.Stop(time.Minute)
}

// TestPostgresPublicationGapWhileDown removes the captured table from the publication while
// cdcd is down (killed), under writes: the restarted connector must not stop at the missing
// table but add it back and re-read it, with the same oracle as above.
func TestPostgresPublicationGapWhileDown(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, fmt.Sprintf(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO items SELECT i, 0 FROM generate_series(1, %d) i`, pubGapRows))
	c := NewPostgresConnector(t, db, "public.items")
	c.Extra = []string{"publication_check_interval: 10m", "incremental_snapshot_chunk_rows: 200"}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	cdcd := StartCDCD(t, c.Config())
	records := consumer.Collect(t, pubGapRows, 2*time.Minute)
	c.WaitStreaming(t, conn)

	w := startPubGapWriter(t, db)
	records = append(records, consumer.Collect(t, 50, time.Minute)...)
	cdcd.Kill()
	mustExec(t, conn, `ALTER PUBLICATION `+pgx.Identifier{c.Name}.Sanitize()+` DROP TABLE items`)
	outFor(t, 3*time.Second)
	cdcd = cdcd.Restart()
	WaitFor(t, time.Minute, "cdcd to add the table back to the publication", func() error {
		if cdcd.Exited() {
			t.Fatalf("cdcd stopped; log:\n%s", cdcd.Logs())
		}
		if !c.published(t, conn, "items") {
			return fmt.Errorf("public.items is not in publication %s", c.Name)
		}
		return nil
	})
	WaitFor(t, 2*time.Minute, "the incremental snapshot after the gap to end", func() error {
		records = append(records, consumer.Poll(t, 200*time.Millisecond)...)
		if !cdcd.LogsContain("incremental snapshot done") {
			return fmt.Errorf("not done")
		}
		return nil
	})
	w.stop(t)
	want := map[string]rowsByKey{
		c.Topic("items"): pgTableState(t, conn, `SELECT format('id=%s', id), format('id=%s,v=%s', id, v) FROM items`),
	}
	records = waitRebuiltState(t, consumer, records, want)
	checkNoStaleValue(t, records[pubGapRows:])
	checkGapLogged(t, cdcd, "public.items")
	cdcd.Stop(time.Minute)
}

// TestPostgresPublicationGapFails removes the captured table from the publication under
// publication_gap: fail: the connector must stop with an error that names the table, the
// window and the fix, and leave the publication as it is.
func TestPostgresPublicationGapFails(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items VALUES (1, 0)`)
	c := NewPostgresConnector(t, db, "public.items")
	c.Extra = []string{"publication_check_interval: 1s", "publication_gap: fail"}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	cdcd := StartCDCD(t, c.Config())
	consumer.Collect(t, 1, 2*time.Minute)
	c.WaitStreaming(t, conn)

	mustExec(t, conn, `ALTER PUBLICATION `+pgx.Identifier{c.Name}.Sanitize()+` DROP TABLE items`)
	mustExec(t, conn, `UPDATE items SET v = 1`)
	if code := cdcd.Wait(2 * time.Minute); code == 0 {
		t.Errorf("cdcd exited 0 after a table left the publication under publication_gap: fail")
	}
	for _, want := range []string{"table public.items lost its changes between", "ADD TABLE", "publication_gap: resnapshot"} {
		if !cdcd.LogsContain(want) {
			t.Errorf("the error does not say %q; log:\n%s", want, cdcd.Logs())
		}
	}
	checkGapLogged(t, cdcd, "public.items")
	if c.published(t, conn, "items") {
		t.Errorf("the table is back in the publication under publication_gap: fail")
	}
}

// checkGapLogged checks that the log has the gap's error line, naming table and its window.
func checkGapLogged(t *testing.T, cdcd *CDCD, table string) {
	t.Helper()
	for _, line := range strings.Split(cdcd.Logs(), "\n") {
		if strings.Contains(line, `"level":"error"`) && strings.Contains(line, `"table":"`+table+`"`) &&
			strings.Contains(line, "publication") && strings.Contains(line, `"window":"between `) {
			t.Logf("logged: %s", line)
			return
		}
	}
	t.Errorf("no error line names %s and the window of its gap; log:\n%s", table, cdcd.Logs())
}

// published tells whether the connector's publication holds the table of the public schema.
func (c *PostgresConnector) published(t *testing.T, conn *pgx.Conn, table string) bool {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_publication_tables
		WHERE pubname = $1 AND schemaname = 'public' AND tablename = $2`, c.Name, table).Scan(&n); err != nil {
		t.Fatalf("reading publication %s: %v", c.Name, err)
	}
	return n > 0
}

// outFor lets d pass: the length of a fault, not a wait for a condition.
func outFor(t *testing.T, d time.Duration) {
	select {
	case <-time.After(d):
	case <-t.Context().Done():
	}
}

// pubGapWriter increments the counter of random rows of items and inserts rows, a batch every
// 2 ms at most, in the background.
type pubGapWriter struct {
	halt   atomic.Bool
	writes atomic.Int64
	wg     sync.WaitGroup
	err    error
}

func startPubGapWriter(t *testing.T, db *PostgresDB) *pubGapWriter {
	w := &pubGapWriter{}
	conn := db.Conn(t)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		// It stops between two batches: cancelling one in flight could still commit it after
		// the test read the table.
		for i := 0; !w.halt.Load(); i++ {
			<-tick.C
			batch := fmt.Sprintf(`UPDATE items SET v = v + 1 WHERE id = %d`, 1+rand.IntN(pubGapRows))
			if i%20 == 0 {
				batch += fmt.Sprintf(`; INSERT INTO items VALUES (%d, 0)`, pubGapRows+1+i)
			}
			if _, err := conn.Exec(context.WithoutCancel(t.Context()), batch); err != nil {
				w.err = err
				return
			}
			w.writes.Add(1)
		}
	}()
	return w
}

// stop ends the writer after its batch in flight.
func (w *pubGapWriter) stop(t *testing.T) {
	t.Helper()
	w.halt.Store(true)
	w.wg.Wait()
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
}
