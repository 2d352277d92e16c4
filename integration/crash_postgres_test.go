package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/offsets"
)

// TestPostgresSurvivesSIGKILLExactlyOnce kills cdcd with SIGKILL at random moments while a
// workload writes, 20 times, restarting it each time. A read_committed consumer must see every
// change exactly once and in per-key order, and after every kill the slot must not be
// acknowledged beyond the position committed in Kafka.
func TestPostgresSurvivesSIGKILLExactlyOnce(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.counters")
	cdcd := c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)

	writer := startCounterWriter(t, pgIncrement(db.Conn(t)))
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	cdcd, records := killCycles(t, cdcd, consumer, func() { checkSlotNotAheadOfOffset(t, conn, c) })
	expected := writer.stop(t)
	records = collectCounters(t, consumer, records, expected)
	t.Logf("%d changes written across %d SIGKILL cycles, %d records read", expected, crashCycles, len(records))
	checkCounters(t, records, expected)
	cdcd.Stop(time.Minute)
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
// waiting for the transaction the killed process left open: kafkalog.ReadOffset waits for it
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
