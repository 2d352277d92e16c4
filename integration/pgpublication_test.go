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
	g := startPubGap(t, "10m")
	g.exec(t, `ALTER PUBLICATION %s DROP TABLE items`)
	outFor(t, 20*time.Second)
	if !g.c.published(t, g.conn, "items") {
		g.exec(t, `ALTER PUBLICATION %s ADD TABLE items`)
	} else {
		t.Logf("cdcd restored the table itself before the test did")
	}
	g.checkReadAgain(t)
}

// TestPostgresPublicationGapRemovedAndAddedBackAtOnce removes the captured table from the
// publication, updates every row and adds it back in one transaction, under the writer: cdcd
// never sees the table out, but PostgreSQL does not decode the updates made while it was, and
// its membership is a new one. cdcd must see the new membership (at the Relation message that
// follows), log the gap and re-read the table.
func TestPostgresPublicationGapRemovedAndAddedBackAtOnce(t *testing.T) {
	g := startPubGap(t, "10m")
	g.exec(t, `BEGIN; ALTER PUBLICATION %[1]s DROP TABLE items; UPDATE items SET v = v + 1;
		ALTER PUBLICATION %[1]s ADD TABLE items; COMMIT`)
	g.checkReadAgain(t)
	if !g.cdcd.LogsContain("removed from the publication and added back") {
		t.Errorf("the log does not say the table was removed and added back")
	}
}

// TestPostgresPublicationGapRestoredByCdcd removes the captured table from the publication under
// writes and leaves it out: cdcd's periodic check must find it missing, log the gap, add it back
// itself and re-read it, with the same oracle as above.
func TestPostgresPublicationGapRestoredByCdcd(t *testing.T) {
	g := startPubGap(t, "1s")
	g.exec(t, `ALTER PUBLICATION %s DROP TABLE items`)
	g.waitRestored(t)
	g.checkReadAgain(t)
	if !g.cdcd.LogsContain("publication restored") {
		t.Errorf("the log does not say the publication was restored")
	}
}

// TestPostgresPublicationGapWhileDown removes the captured table from the publication while
// cdcd is down (killed), under writes: the restarted connector must not stop at the missing
// table but add it back and re-read it, with the same oracle as above.
func TestPostgresPublicationGapWhileDown(t *testing.T) {
	g := startPubGap(t, "10m")
	g.cdcd.Kill()
	g.exec(t, `ALTER PUBLICATION %s DROP TABLE items`)
	outFor(t, 3*time.Second)
	g.cdcd = g.cdcd.Restart()
	g.waitRestored(t)
	g.checkReadAgain(t)
}

// pubGap is a publication gap test under way: the items table, its connector (whose publication
// is checked every given interval) and cdcd, the writer, and the records read so far.
type pubGap struct {
	conn     *pgx.Conn
	c        *PostgresConnector
	consumer *AvroConsumer
	cdcd     *CDCD
	w        *pubGapWriter
	records  []ChangeRecord
}

// startPubGap creates items with pubGapRows rows, starts cdcd on it with the publication checked
// every checkInterval, reads the initial snapshot, and starts the writer: its first changes are
// read too before it returns.
func startPubGap(t *testing.T, checkInterval string) *pubGap {
	t.Helper()
	db := NewPostgresDB(t)
	g := &pubGap{conn: db.Conn(t)}
	mustExec(t, g.conn, fmt.Sprintf(`CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO items SELECT i, 0 FROM generate_series(1, %d) i`, pubGapRows))
	g.c = NewPostgresConnector(t, db, "public.items")
	g.c.Extra = []string{"publication_check_interval: " + checkInterval, "incremental_snapshot_chunk_rows: 200"}
	g.consumer = NewAvroConsumer(t, g.c.RegistryURL(), g.c.Topic("items"))
	g.cdcd = StartCDCD(t, g.c.Config())
	g.records = g.consumer.Collect(t, pubGapRows, 2*time.Minute)
	g.c.WaitStreaming(t, g.conn)
	g.w = startPubGapWriter(t, db)
	g.records = append(g.records, g.consumer.Collect(t, 50, time.Minute)...)
	return g
}

// exec runs sql with each %s (or %[1]s) replaced by the connector's publication.
func (g *pubGap) exec(t *testing.T, sql string) {
	t.Helper()
	mustExec(t, g.conn, fmt.Sprintf(sql, pgx.Identifier{g.c.Name}.Sanitize()))
}

// waitRestored waits for cdcd to add items back to its publication.
func (g *pubGap) waitRestored(t *testing.T) {
	t.Helper()
	WaitFor(t, time.Minute, "cdcd to add the table back to the publication", func() error {
		if g.cdcd.Exited() {
			t.Fatalf("cdcd stopped; log:\n%s", g.cdcd.Logs())
		}
		if !g.c.published(t, g.conn, "items") {
			return fmt.Errorf("public.items is not in publication %s", g.c.Name)
		}
		return nil
	})
}

// checkReadAgain is the oracle of a gap that cdcd heals: it waits for the incremental snapshot
// after the gap to end and stops the writer; then the state rebuilt from Kafka must equal the
// table, no read may be older than a streamed change, and the gap must have been logged.
func (g *pubGap) checkReadAgain(t *testing.T) {
	t.Helper()
	WaitFor(t, 2*time.Minute, "the incremental snapshot after the gap to end", func() error {
		g.records = append(g.records, g.consumer.Poll(t, 200*time.Millisecond)...)
		if !g.cdcd.LogsContain("incremental snapshot done") {
			return fmt.Errorf("not done")
		}
		return nil
	})
	g.w.stop(t)
	want := map[string]rowsByKey{
		g.c.Topic("items"): pgTableState(t, g.conn, `SELECT format('id=%s', id), format('id=%s,v=%s', id, v) FROM items`),
	}
	g.records = waitRebuiltState(t, g.consumer, g.records, want)
	// The initial snapshot's reads come first; the reads after them must be incremental.
	reads := checkNoStaleValue(t, g.records[pubGapRows:])
	t.Logf("%d records, %d incremental reads, %d writes", len(g.records), reads, g.w.writes.Load())
	checkGapLogged(t, g.cdcd, "public.items")
	g.cdcd.Stop(time.Minute)
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
