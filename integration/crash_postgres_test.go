package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/offsets"
)

// counterKeys is how many rows the crash workload updates; each row's counter goes up by one
// per change, which makes gaps, duplicates and reordering visible per key.
const counterKeys = 20

// TestPostgresSurvivesSIGKILLExactlyOnce kills cdcd with SIGKILL at random moments while a
// workload writes, 20 times, restarting it each time. A read_committed consumer must see every
// change exactly once and in per-key order, and after every kill the slot must not be
// acknowledged beyond the position committed in Kafka.
func TestPostgresSurvivesSIGKILLExactlyOnce(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.counters")
	cdcd := StartCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)

	writer := startCounterWriter(t, db)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	var records []ChangeRecord
	for cycle := 0; cycle < 20; cycle++ {
		// Kill after a random amount of progress: between 1 and 300 more records visible.
		records = append(records, consumer.Collect(t, 1+rand.IntN(300), time.Minute)...)
		cdcd.Kill()
		checkSlotNotAheadOfOffset(t, conn, c)
		cdcd = cdcd.Restart()
	}
	expected := writer.stop(t)
	records = collectCounters(t, consumer, records, expected)
	t.Logf("%d changes written across 20 SIGKILL cycles, %d records read", expected, len(records))
	checkCounters(t, records, expected)
	cdcd.Stop(time.Minute)
}

// counterWriter runs the counters workload in the background.
type counterWriter struct {
	written atomic.Int64
	done    chan struct{}
	wg      sync.WaitGroup
	err     error
}

// startCounterWriter starts committing counter increments on a connection of its own.
func startCounterWriter(t *testing.T, db *PostgresDB) *counterWriter {
	t.Helper()
	w := &counterWriter{done: make(chan struct{})}
	conn := db.Conn(t)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.err = writeCounters(t.Context(), conn, w.done, &w.written)
	}()
	return w
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
func writeCounters(ctx context.Context, conn *pgx.Conn, stop <-chan struct{}, written *atomic.Int64) error {
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
		n := 1 + rand.IntN(3)
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for range n {
			if _, err := tx.Exec(ctx, `UPDATE counters SET v = v + 1 WHERE id = $1`, 1+rand.IntN(counterKeys)); err != nil {
				_ = tx.Rollback(ctx)
				return fmt.Errorf("update: %w", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		written.Add(int64(n))
	}
}

// checkSlotNotAheadOfOffset compares, while cdcd is down, the slot's confirmed_flush_lsn with
// the LSN of the position committed in Kafka: PostgreSQL must never have been told to release
// WAL that Kafka does not hold.
func checkSlotNotAheadOfOffset(t *testing.T, conn *pgx.Conn, c *PostgresConnector) {
	t.Helper()
	var confirmed string
	err := conn.QueryRow(t.Context(), `SELECT coalesce(confirmed_flush_lsn::text, '0/0') FROM pg_replication_slots
		WHERE slot_name = $1`, c.Name).Scan(&confirmed)
	if err != nil {
		t.Fatalf("reading the slot: %v", err)
	}
	pos := committedWhileDown(t, c.Prefix+"_offsets", offsets.Key{Connector: c.Name, Server: c.Prefix})
	if pos.IsZero() {
		return // nothing committed yet: the slot is still at its creation point
	}
	var stored struct {
		LSN string `json:"lsn"`
	}
	if err := json.Unmarshal(pos.Source, &stored); err != nil {
		t.Fatalf("committed offset %s: %v", pos, err)
	}
	committedLSN, err1 := pglogrepl.ParseLSN(stored.LSN)
	confirmedLSN, err2 := pglogrepl.ParseLSN(confirmed)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing LSNs %q and %q: %v %v", stored.LSN, confirmed, err1, err2)
	}
	if confirmedLSN > committedLSN {
		t.Fatalf("slot confirmed_flush_lsn %s is ahead of the committed offset %s", confirmedLSN, committedLSN)
	}
}

// committedWhileDown reads the connector's committed offset while its process is dead, without
// waiting for the transaction the killed process left open: offsets.ReadCommitted waits for it
// (rightly, as connectors share the offsets topic in production), but here the topic belongs to
// this one connector, so everything before the stable offset is exactly what it committed.
func committedWhileDown(t *testing.T, topic string, key offsets.Key) offsets.Position {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(NewKafkaClient(t))
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("listing the stable end of %s: %v", topic, err)
	}
	end, ok := stable.Lookup(topic, 0)
	if !ok || end.Err != nil {
		t.Fatalf("listing the stable end of %s: %v", topic, end.Err)
	}
	if end.Offset == 0 {
		return offsets.Position{}
	}
	reader := NewKafkaClient(t,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	var last offsets.Position
	want := string(key.Bytes())
	for {
		fetches := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s up to offset %d: %v", topic, end.Offset, ctx.Err())
		}
		for _, r := range fetches.Records() {
			if r.Offset < end.Offset && !r.Attrs.IsControl() && string(r.Key) == want {
				if err := json.Unmarshal(r.Value, &last); err != nil {
					t.Fatalf("offset record at %d: %v", r.Offset, err)
				}
			}
			if r.Offset >= end.Offset-1 {
				return last
			}
		}
	}
}

func toInt64(v any) int64 {
	switch n := Unwrap(v).(type) {
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	}
	return -1
}
