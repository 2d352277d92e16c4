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

// TestMySQLIncrementalSnapshotLeavesNoStaleValue is the MariaDB twin of
// TestPostgresIncrementalSnapshotLeavesNoStaleValue: an incremental snapshot, started by a
// row in the signal table, of two tables (a key, a composite key) in chunks of 300 rows while
// a writer keeps incrementing a counter in random rows of both and inserting rows, with cdcd
// killed by SIGKILL three times on the way. The counter only grows, so a snapshot row emitted
// after a newer streamed value of its key shows as a counter going down. Checked: no counter
// ever goes down in a topic, every row of the tables reaches Kafka (no_data: the rows never
// changed come from the snapshot alone), snapshot reads are marked incremental, the state
// rebuilt from Kafka equals the tables once the writer stops, and the log says it is done.
func TestMySQLIncrementalSnapshotLeavesNoStaleValue(t *testing.T) {
	const items, pairs = 6000, 1500
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)`)
	mustExecMySQL(t, m.DB, `CREATE TABLE pairs (a int, b varchar(10), v int NOT NULL, PRIMARY KEY (a, b))`)
	mustExecMySQL(t, m.DB, `CREATE TABLE cdcd_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))`)
	mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO items SELECT seq, 0 FROM seq_1_to_%d`, items))
	mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO pairs SELECT seq %% 30, CONCAT('b', seq DIV 30), 0 FROM seq_1_to_%d`, pairs))
	c := NewMySQLConnector(t, m, "items", "pairs")
	// The mysql section is the config's last: more lines of it.
	config := c.Config() + "      snapshot_mode: no_data\n      signal_table: " + m.Name + ".cdcd_signal\n" +
		"      incremental_snapshot_chunk_rows: 300\n"
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"), c.Topic("pairs"))
	cdcd := StartCDCD(t, config)

	// No snapshot: the changes captured are those after cdcd reads the binlog.
	c.WaitReading(t, cdcd)
	mustExecMySQL(t, m.DB, `UPDATE items SET v = v + 1 WHERE id = 1`)
	records := consumer.Collect(t, 1, time.Minute)

	// The writer is paced and stops between two transactions: see the PostgreSQL twin.
	var stopWriter atomic.Bool
	var writerErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx := context.WithoutCancel(t.Context())
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 0; !stopWriter.Load(); i++ {
			<-tick.C
			err := func() error {
				tx, err := m.DB.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer func() { _ = tx.Rollback() }()
				if _, err := tx.ExecContext(ctx, `UPDATE items SET v = v + 1 WHERE id = ?`, 1+rand.IntN(items)); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE pairs SET v = v + 1 WHERE a = ? AND b = ?`,
					rand.IntN(30), fmt.Sprintf("b%d", rand.IntN(pairs/30))); err != nil {
					return err
				}
				if i%20 == 0 {
					if _, err := tx.ExecContext(ctx, `INSERT INTO items VALUES (?, 0)`, items+1+i); err != nil {
						return err
					}
				}
				return tx.Commit()
			}()
			if err != nil {
				writerErr = err
				return
			}
		}
	}()

	mustExecMySQL(t, m.DB, `INSERT INTO cdcd_signal VALUES ('snap-1', 'execute-snapshot',
		'{"data-collections": ["`+m.Name+`.items", "`+m.Name+`.pairs"], "type": "incremental"}')`)
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
		c.Topic("items"): sqlTableState(t, m.DB, `SELECT CONCAT('id=', id), CONCAT('id=', id, ',v=', v) FROM items`),
		c.Topic("pairs"): sqlTableState(t, m.DB, `SELECT CONCAT('a=', a, ',b=', b), CONCAT('a=', a, ',b=', b, ',v=', v) FROM pairs`),
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
