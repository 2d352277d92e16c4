package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPostgresIncrementalSnapshotLeavesNoStaleValue runs an incremental snapshot, started by
// a row in the signal table, of two tables (a key, a composite key) in chunks of 300 rows
// while a writer keeps incrementing a counter in random rows of both and inserting rows, and
// kills cdcd with SIGKILL three times on the way. The counter only grows, so a snapshot row
// that reached Kafka after a newer streamed value of its key shows as a counter going down.
// Checked: no counter ever goes down in a topic, every row of the tables reaches Kafka
// (no_data: the rows never changed come from the snapshot alone), some as incremental reads,
// and the state rebuilt from Kafka equals the tables once the writer stops.
func TestPostgresIncrementalSnapshotLeavesNoStaleValue(t *testing.T) {
	const items, pairs = 6000, 1500
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
		CREATE TABLE pairs (a int, b text, v int NOT NULL, PRIMARY KEY (a, b));
		CREATE TABLE cdcd_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
		INSERT INTO items SELECT i, 0 FROM generate_series(1, 6000) i;
		INSERT INTO pairs SELECT i % 30, 'b' || (i / 30), 0 FROM generate_series(1, 1500) i`)
	c := NewPostgresConnector(t, db, "public.items", "public.pairs")
	c.Extra = []string{"snapshot_mode: no_data", "signal_table: public.cdcd_signal", "incremental_snapshot_chunk_rows: 300"}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"), c.Topic("pairs"))
	cdcd := StartCDCD(t, c.Config())

	// No snapshot: the changes captured are those after the slot's consistent point, which
	// WaitStreaming waits for.
	c.WaitStreaming(t, conn)
	mustExec(t, conn, `UPDATE items SET v = v + 1 WHERE id = 1`)
	records := consumer.Collect(t, 1, time.Minute)

	// The writer is paced (a batch every 2 ms at most), as a real workload is: an unpaced one
	// on a loaded machine outruns cdcd, and every chunk then waits for the lag. It stops
	// between two batches: cancelling one in flight could still commit it after the test read
	// the table.
	var stopWriter atomic.Bool
	var writerErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := db.Conn(t)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; !stopWriter.Load(); i++ {
			<-tick.C
			batch := fmt.Sprintf(`UPDATE items SET v = v + 1 WHERE id = %d; UPDATE pairs SET v = v + 1 WHERE a = %d AND b = 'b%d'`,
				1+rand.IntN(items), rand.IntN(30), rand.IntN(pairs/30))
			if i%20 == 0 {
				batch += fmt.Sprintf(`; INSERT INTO items VALUES (%d, 0)`, items+1+i)
			}
			if _, err := w.Exec(context.WithoutCancel(t.Context()), batch); err != nil {
				writerErr = err
				return
			}
		}
	}()

	mustExec(t, conn, `INSERT INTO cdcd_signal VALUES ('snap-1', 'execute-snapshot',
		'{"data-collections": ["public.items", "public.pairs"], "type": "incremental"}')`)
	for range 3 {
		records = append(records, consumer.Collect(t, 500+rand.IntN(2000), 2*time.Minute)...)
		cdcd.Kill()
		cdcd = cdcd.Restart()
	}

	// Every row present before the signal reaches Kafka, then the writer stops.
	records = waitEveryKey(t, consumer, records, map[string]int{c.Topic("items"): items, c.Topic("pairs"): pairs})
	stopWriter.Store(true)
	wg.Wait()
	if writerErr != nil {
		t.Fatalf("writer: %v", writerErr)
	}

	want := map[string]rowsByKey{
		c.Topic("items"): pgTableState(t, conn, `SELECT format('id=%s', id), format('id=%s,v=%s', id, v) FROM items`),
		c.Topic("pairs"): pgTableState(t, conn, `SELECT format('a=%s,b=%s', a, b), format('a=%s,b=%s,v=%s', a, b, v) FROM pairs`),
	}
	records = waitRebuiltState(t, consumer, records, want)

	// The counter of a key never goes down: no snapshot read is older than a change before it.
	reads := checkNoStaleValue(t, records)
	t.Logf("%d records, %d incremental reads", len(records), reads)
	if reads < items/2 {
		t.Errorf("%d incremental snapshot reads, want most of the %d rows", reads, items+pairs)
	}
	if !cdcd.LogsContain("incremental snapshot done") {
		t.Errorf("the log does not say the incremental snapshot is done")
	}
	cdcd.Stop(time.Minute)
}

// checkNoStaleValue checks that the counter v of every key never goes down in records (in topic
// order, one partition) and that snapshot reads are marked incremental; it returns how many
// snapshot reads there are.
func checkNoStaleValue(t *testing.T, records []ChangeRecord) int {
	t.Helper()
	last := map[string]int64{}
	reads := 0
	for _, r := range records {
		after := r.After()
		if after == nil {
			t.Fatalf("%s offset %d: op %s without an after image", r.Topic, r.Offset, r.Op())
		}
		key := r.Topic + "/" + canonical(r.Key)
		v := toInt64(after["v"])
		if prev, ok := last[key]; ok && v < prev {
			t.Fatalf("%s offset %d: %s went from v=%d to v=%d (op %s, snapshot %v): a stale value after a newer one",
				r.Topic, r.Offset, canonical(r.Key), prev, v, r.Op(), Unwrap(r.Source()["snapshot"]))
		}
		last[key] = v
		if r.Op() == "r" {
			if mark := Unwrap(r.Source()["snapshot"]); mark != "incremental" {
				t.Fatalf("%s offset %d: snapshot read marked %v, want incremental", r.Topic, r.Offset, mark)
			}
			reads++
		}
	}
	return reads
}

// waitEveryKey reads on until each topic of keys holds at least that many distinct keys among
// records and what arrives, and returns all records read.
func waitEveryKey(t *testing.T, consumer *AvroConsumer, records []ChangeRecord, keys map[string]int) []ChangeRecord {
	t.Helper()
	seen := map[string]map[string]bool{}
	for topic := range keys {
		seen[topic] = map[string]bool{}
	}
	note := func(rs []ChangeRecord) {
		for _, r := range rs {
			seen[r.Topic][canonical(r.Key)] = true
		}
	}
	note(records)
	WaitFor(t, 3*time.Minute, "every row in Kafka", func() error {
		more := consumer.Poll(t, 200*time.Millisecond)
		records = append(records, more...)
		note(more)
		for topic, n := range keys {
			if got := len(seen[topic]); got < n {
				return fmt.Errorf("%s: %d of %d keys", topic, got, n)
			}
		}
		return nil
	})
	return records
}

// waitRebuiltState reads on until the state rebuilt from records and what arrives equals want
// for every topic, and returns all records read.
func waitRebuiltState(t *testing.T, consumer *AvroConsumer, records []ChangeRecord, want map[string]rowsByKey) []ChangeRecord {
	t.Helper()
	WaitFor(t, 2*time.Minute, "the state rebuilt from Kafka to equal the tables", func() error {
		records = append(records, consumer.Drain(t, 200*time.Millisecond)...)
		state := &kafkaState{tables: map[string]rowsByKey{}, keyless: map[string]bool{}}
		for topic := range want {
			state.tables[topic] = rowsByKey{}
		}
		state.apply(records)
		for topic, rows := range want {
			if got := state.tables[topic]; len(got) != len(rows) || firstDifference(got, rows) != "none" {
				return fmt.Errorf("%s: %d rows from Kafka, %d in the table (first difference: %s)",
					topic, len(got), len(rows), firstDifference(got, rows))
			}
		}
		return nil
	})
	return records
}
