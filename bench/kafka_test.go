package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// envelopeSchema is the shape of a Debezium envelope, trimmed to a few fields around source.
const envelopeSchema = `{"type":"record","name":"Envelope","namespace":"t.public.bench_items","fields":[
 {"name":"before","type":["null",{"type":"record","name":"Value","fields":[{"name":"id","type":"long"}]}],"default":null},
 {"name":"after","type":["null","Value"],"default":null},
 {"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.postgresql","fields":[
   {"name":"version","type":"string"},{"name":"ts_ms","type":"long"},{"name":"lsn","type":["null","long"],"default":null}]}},
 {"name":"op","type":"string"},
 {"name":"ts_ms","type":["null","long"],"default":null}]}`

func TestCommitTimes(t *testing.T) {
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/schemas/ids/7" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": envelopeSchema})
	}))
	defer srv.Close()
	schema := avro.MustParse(envelopeSchema)
	encode := func(tsMs int64) []byte {
		body, err := avro.Marshal(schema, map[string]any{
			"before": nil,
			"after":  map[string]any{"t.public.bench_items.Value": map[string]any{"id": int64(1)}},
			"source": map[string]any{"version": "1", "ts_ms": tsMs, "lsn": map[string]any{"long": int64(99)}},
			"op":     "c",
			"ts_ms":  map[string]any{"long": tsMs + 5},
		})
		if err != nil {
			t.Fatalf("encoding an envelope: %v", err)
		}
		return append([]byte{0, 0, 0, 0, 7}, body...)
	}
	times := newCommitTimes(srv.URL, false)
	for _, want := range []int64{1_700_000_000_123, 1_700_000_000_456} {
		got, _, err := times.times(t.Context(), encode(want))
		if err != nil {
			t.Fatalf("times: %v", err)
		}
		if got != want {
			t.Errorf("ts_ms = %d, want %d", got, want)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("the schema was fetched %d times, want once", n)
	}
	if _, _, err := times.times(t.Context(), []byte{1, 0, 0, 0, 7}); !errors.Is(err, ErrWireFormat) {
		t.Errorf("bad magic byte: err = %v, want ErrWireFormat", err)
	}
	if _, _, err := times.times(t.Context(), []byte{0, 0, 0}); !errors.Is(err, ErrWireFormat) {
		t.Errorf("short value: err = %v, want ErrWireFormat", err)
	}
	if _, _, err := times.times(t.Context(), []byte{0, 0, 0, 0, 8, 2}); err == nil {
		t.Error("an unknown schema id was decoded")
	}
}

// mysqlEnvelopeSchema is a MySQL envelope trimmed to the fields around updated_at, a nullable
// DATETIME(6) encoded as io.debezium.time.MicroTimestamp.
const mysqlEnvelopeSchema = `{"type":"record","name":"Envelope","namespace":"t.db.bench_items","fields":[
 {"name":"before","type":["null",{"type":"record","name":"Value","fields":[{"name":"id","type":"long"},
   {"name":"updated_at","type":["null",{"type":"long","connect.name":"io.debezium.time.MicroTimestamp"}],"default":null}]}],"default":null},
 {"name":"after","type":["null","Value"],"default":null},
 {"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.mysql","fields":[
   {"name":"ts_ms","type":"long"},{"name":"gtid","type":["null","string"],"default":null}]}},
 {"name":"op","type":"string"}]}`

func TestCommitTimesRowTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"schema": mysqlEnvelopeSchema})
	}))
	defer srv.Close()
	schema := avro.MustParse(mysqlEnvelopeSchema)
	encode := func(after map[string]any) []byte {
		var a any
		if after != nil {
			a = map[string]any{"t.db.bench_items.Value": after}
		}
		body, err := avro.Marshal(schema, map[string]any{"before": nil, "after": a,
			"source": map[string]any{"ts_ms": int64(1_700_000_000_000), "gtid": nil}, "op": "c"})
		if err != nil {
			t.Fatalf("encoding an envelope: %v", err)
		}
		return append([]byte{0, 0, 0, 0, 9}, body...)
	}
	times := newCommitTimes(srv.URL, true)
	ts, rowUs, err := times.times(t.Context(),
		encode(map[string]any{"id": int64(1), "updated_at": map[string]any{"long": int64(1_700_000_000_123_456)}}))
	if err != nil {
		t.Fatalf("times: %v", err)
	}
	if ts != 1_700_000_000_000 || rowUs != 1_700_000_000_123_456 {
		t.Errorf("times = %d, %d; want 1700000000000, 1700000000123456", ts, rowUs)
	}
	if _, _, err := times.times(t.Context(), encode(map[string]any{"id": int64(1), "updated_at": nil})); !errors.Is(err, ErrNoRowTime) {
		t.Errorf("null updated_at: err = %v, want ErrNoRowTime", err)
	}
	if _, _, err := times.times(t.Context(), encode(nil)); !errors.Is(err, ErrNoRowTime) {
		t.Errorf("no after: err = %v, want ErrNoRowTime", err)
	}
}

// fakeKafka returns a bench pointed at an in-process Kafka holding topic.
func fakeKafka(t *testing.T, topic string) *bench {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	s := defaultSettings()
	s.kafka, s.stall = cluster.ListenAddrs()[0], time.Second
	return &bench{s: s}
}

// produceTxn writes n records in one Kafka transaction, committed or aborted.
func produceTxn(t *testing.T, b *bench, topic string, n int, commit kgo.TransactionEndTry) {
	t.Helper()
	client, err := b.kafkaClient(kgo.TransactionalID("bench-test-"+topic), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for i := range n {
		if err := client.ProduceSync(t.Context(), kgo.StringRecord(strconv.Itoa(i))).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	if err := client.EndTransaction(t.Context(), commit); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}

func noExit() error { return nil }

func TestConsumeCountsCommittedRecords(t *testing.T) {
	b := fakeKafka(t, "t1")
	produceTxn(t, b, "t1", 2, kgo.TryAbort)
	produceTxn(t, b, "t1", 3, kgo.TryCommit)
	c, err := b.newConsumer("t1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	batches := 0
	got, err := c.consume(t.Context(), fixed(3), noExit, func(records []*kgo.Record, _ time.Time) error {
		batches++
		return nil
	})
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	if got.records != 3 || batches == 0 || got.first.IsZero() || got.last.Before(got.first) {
		t.Errorf("consume = %+v after %d batches, want 3 committed records", got, batches)
	}
	if n := c.extra(t.Context(), 300*time.Millisecond); n != 0 {
		t.Errorf("extra = %d records after the committed ones, want 0", n)
	}
}

// TestConsumeSeesDuplicates: more records than written fail either in consume (same fetch) or
// in extra (a later one), which is how the phases check for duplicates.
func TestConsumeSeesDuplicates(t *testing.T) {
	b := fakeKafka(t, "t2")
	produceTxn(t, b, "t2", 3, kgo.TryCommit)
	c, err := b.newConsumer("t2")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	_, err = c.consume(t.Context(), fixed(2), noExit, nil)
	if err == nil && c.extra(t.Context(), 300*time.Millisecond) == 0 {
		t.Error("3 records for 2 written went unnoticed")
	}
}

func TestConsumeStopsWhenCDCDExits(t *testing.T) {
	b := fakeKafka(t, "t3")
	produceTxn(t, b, "t3", 1, kgo.TryCommit)
	c, err := b.newConsumer("t3")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	got, err := c.consume(t.Context(), fixed(5), func() error { return ErrCDCD }, nil)
	if !errors.Is(err, ErrCDCD) {
		t.Errorf("consume = %v, want ErrCDCD", err)
	}
	if got.records != 1 {
		t.Errorf("records = %d before the exit, want 1", got.records)
	}
}

func TestConsumeStalls(t *testing.T) {
	b := fakeKafka(t, "t4")
	c, err := b.newConsumer("t4")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := c.consume(ctx, fixed(1), noExit, nil); err == nil || ctx.Err() != nil {
		t.Errorf("consume of an empty topic = %v, want a stall error before the deadline", err)
	}
}

func TestKeyID(t *testing.T) {
	schema := avro.MustParse(`{"type":"record","name":"Key","fields":[{"name":"id","type":"long"}]}`)
	for _, id := range []int64{1, 63, 64, 1_000_000, -5} {
		body, err := avro.Marshal(schema, map[string]any{"id": id})
		if err != nil {
			t.Fatal(err)
		}
		key := append([]byte{0, 0, 0, 0, 9}, body...)
		if got, err := keyID(key); err != nil || got != id {
			t.Errorf("keyID(key of %d) = %d, %v", id, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {1, 0, 0, 0, 9, 2}, {0, 0, 0, 0, 9}, {0, 0, 0, 0, 9, 0x80}} {
		if got, err := keyID(bad); err == nil {
			t.Errorf("keyID(%v) = %d, want an error", bad, got)
		}
	}
}

func TestSinceAcked(t *testing.T) {
	// Two statements of 3 rows, acknowledged at 10 ms and 20 ms (in microseconds).
	acked := []int64{10_000, 20_000}
	got, err := sinceAcked([]int64{1, 3, 4, 6}, []float64{12, 9.5, 25, 20}, acked, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{2, -0.5, 5, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("sinceAcked = %v, want %v", got, want)
			break
		}
	}
	for _, id := range []int64{0, 7} {
		if _, err := sinceAcked([]int64{id}, []float64{1}, acked, 3); err == nil {
			t.Errorf("sinceAcked of row %d, past the statements written: no error", id)
		}
	}
}
