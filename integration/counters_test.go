package integration

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The counters workload: counterKeys rows whose counter goes up by one per change, so that a
// consumer can tell, per key, a gap, a duplicate or a reordering. The crash and fencing tests
// of both sources share it.

// counterKeys is how many rows the workload updates.
const counterKeys = 20

// counterWriter runs the counters workload in the background.
type counterWriter struct {
	written atomic.Int64
	done    chan struct{}
	wg      sync.WaitGroup
	err     error
}

// incrementTx commits one transaction that adds one to the counter of each id.
type incrementTx func(ctx context.Context, ids []int) error

// startCounterWriter starts committing counter increments through inc.
func startCounterWriter(t *testing.T, inc incrementTx) *counterWriter {
	t.Helper()
	w := &counterWriter{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.err = writeCounters(t.Context(), inc, w.done, &w.written)
	}()
	return w
}

// pgIncrement increments counters on a PostgreSQL connection.
func pgIncrement(conn *pgx.Conn) incrementTx {
	return func(ctx context.Context, ids []int) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for _, id := range ids {
			if _, err := tx.Exec(ctx, `UPDATE counters SET v = v + 1 WHERE id = $1`, id); err != nil {
				_ = tx.Rollback(ctx)
				return fmt.Errorf("update: %w", err)
			}
		}
		return tx.Commit(ctx)
	}
}

// mysqlIncrement increments counters on a MySQL connection pool.
func mysqlIncrement(db *sql.DB) incrementTx {
	return func(ctx context.Context, ids []int) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE counters SET v = v + 1 WHERE id = ?`, id); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("update: %w", err)
			}
		}
		return tx.Commit()
	}
}

// crashCycles is how many times killCycles kills cdcd.
const crashCycles = 20

// killCycles kills cdcd with SIGKILL crashCycles times, each after a random amount of
// progress (between 1 and 300 more records visible to consumer), calls whileDown, and restarts
// it. It returns the running process and the records read meanwhile.
func killCycles(t *testing.T, cdcd *CDCD, consumer *AvroConsumer, whileDown func()) (*CDCD, []ChangeRecord) {
	t.Helper()
	var records []ChangeRecord
	for range crashCycles {
		records = append(records, consumer.Collect(t, 1+rand.IntN(300), time.Minute)...)
		cdcd.Kill()
		if whileDown != nil {
			whileDown()
		}
		cdcd = cdcd.Restart()
	}
	return cdcd, records
}

// stop ends the workload and returns how many changes the table has received in all: the
// initial rows and every committed increment.
func (w *counterWriter) stop(t *testing.T) int {
	t.Helper()
	close(w.done)
	w.wg.Wait()
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
	return counterKeys + int(w.written.Load())
}

// collectCounters reads until expected records have arrived in all, then a little longer, so
// that a duplicate arriving late is seen too.
func collectCounters(t *testing.T, consumer *AvroConsumer, records []ChangeRecord, expected int) []ChangeRecord {
	t.Helper()
	if len(records) < expected {
		records = append(records, consumer.Collect(t, expected-len(records), 2*time.Minute)...)
	}
	return append(records, consumer.Drain(t, 3*time.Second)...)
}

// writeCounters commits small transactions of counter increments, about a thousand a second,
// until stop closes, counting the changes it committed. The pace keeps the test's length
// independent of how fast the machine is.
func writeCounters(ctx context.Context, inc incrementTx, stop <-chan struct{}, written *atomic.Int64) error {
	pace := time.NewTicker(time.Millisecond)
	defer pace.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-pace.C:
		}
		ids := make([]int, 1+rand.IntN(3))
		for i := range ids {
			ids[i] = 1 + rand.IntN(counterKeys)
		}
		if err := inc(ctx, ids); err != nil {
			return err
		}
		written.Add(int64(len(ids)))
	}
}

// checkCounters is the oracle of the counters workload: per key, the values are 0, 1, 2, ...
// in order, and there are expected records in all.
func checkCounters(t *testing.T, records []ChangeRecord, expected int) {
	t.Helper()
	checkCountersFrom(t, records, expected, false)
}

// checkCountersFrom is checkCounters; with snapshotBase a snapshot row (op r) may hold any
// value, and the changes of its key go on from it (a snapshot taken while the counters move),
// while a change of a key no snapshot row gave is a gap.
func checkCountersFrom(t *testing.T, records []ChangeRecord, expected int, snapshotBase bool) {
	t.Helper()
	next := map[int64]int64{}
	for _, r := range records {
		after := r.After()
		if after == nil {
			t.Fatalf("record %s@%d has no after: %v", r.Topic, r.Offset, r.Value)
		}
		id, v := toInt64(after["id"]), toInt64(after["v"])
		want, seen := next[id]
		if snapshotBase && r.Op() == "r" {
			next[id] = v + 1
			continue
		}
		if v != want || (snapshotBase && !seen) {
			kind := "a gap or reordering"
			if v < want {
				kind = "a duplicate"
			}
			t.Fatalf("key %d: got counter %d at offset %d, want %d (snapshot seen: %t): %s", id, v, r.Offset, want, seen, kind)
		}
		next[id] = v + 1
	}
	if len(records) != expected {
		t.Errorf("read %d records, want %d", len(records), expected)
	}
}
