package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/transform"
)

var stageTable = &decoder.Table{ID: 1, Namespace: "public", Name: "t", Version: 1,
	Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt64, Key: true}}}

// valueEncoder writes a change's row id as its key and a value of size bytes; it counts its
// calls.
type valueEncoder struct {
	size  int
	calls atomic.Int64
}

func (e *valueEncoder) EncodeRecord(_ context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	e.calls.Add(1)
	c := rec.Change
	row := c.After
	if row == nil {
		row = c.Before
	}
	key := []byte(strconv.FormatInt(row[0].Int, 10))
	value := make([]byte, e.size)
	copy(value, key)
	return "t", key, value, nil
}

func insert(id int64) connectors.Event {
	return connectors.Event{Kind: connectors.EventChange, Change: &decoder.Change{Op: decoder.OpCreate, Table: stageTable,
		After: []decoder.Value{{State: decoder.ValueSet, Int: id}}}}
}

// newTestStage returns an encode stage over enc with the given queue bounds.
func newTestStage(t *testing.T, enc Encoder, events, bytes int) *encodeStage {
	t.Helper()
	p := &Pipeline{enc: enc, cfg: defaultConfig()}
	p.cfg.encodeQueueEvents, p.cfg.encodeQueueBytes = events, bytes
	return newEncodeStage(p, offsets.Position{})
}

// fill returns a channel holding n inserts, ids 0 to n-1: with every event waiting, the stage
// hands a batch over only when it is full.
func fill(t *testing.T, n int) *connectors.Queue {
	q := connectors.NewQueue(n, 1<<30)
	for i := range n {
		if !q.TrySend(insert(int64(i))) {
			t.Fatalf("queue of %d refused event %d", n, i)
		}
	}
	return q
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// takeBatch receives the next batch and returns the keys of its records.
func takeBatch(t *testing.T, s *encodeStage) (*batch, []string) {
	t.Helper()
	select {
	case b := <-s.full:
		keys := make([]string, len(b.recs))
		for i, r := range b.recs {
			keys[i] = string(r.Key)
		}
		return b, keys
	case <-time.After(time.Minute):
		t.Fatal("no batch from the encode stage")
		return nil, nil
	}
}

// TestEncodeStageBackpressure checks that a Kafka stage that takes nothing stops the encode
// stage at its bound, in events and in bytes, and that it goes on, in order, once a batch is
// given back.
func TestEncodeStageBackpressure(t *testing.T) {
	tests := []struct {
		name          string
		events, bytes int
		size          int
		// perBatch is the records of a full batch; held the records encoded when the stage
		// stops.
		perBatch, held int
	}{
		// 512 events: two batches of 256; the bytes do not bind.
		{"events", 512, 1 << 30, 8, 256, 512},
		// Three batches of 256 events but 100 bytes each: records of 41 or 42 bytes fill a
		// batch at three, so nine records wait in all.
		{"bytes", 768, 300, 40, 3, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := &valueEncoder{size: tt.size}
			s := newTestStage(t, enc, tt.events, tt.bytes)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			total := 10 * tt.held
			events := fill(t, total)
			done := make(chan struct{})
			go func() { defer close(done); s.run(ctx, events) }()
			defer func() { cancel(); <-done }()

			// The stage takes one event more than it can place, then waits for a batch.
			waitUntil(t, "the encode stage to fill its queue", func() bool { return len(events.Events()) == total-tt.held-1 })
			if got := enc.calls.Load(); got != int64(tt.held) {
				t.Fatalf("%d changes encoded with the queue full, want %d", got, tt.held)
			}
			next := 0
			for range tt.held / tt.perBatch {
				b, keys := takeBatch(t, s)
				if len(keys) != tt.perBatch {
					t.Fatalf("batch of %d records, want %d", len(keys), tt.perBatch)
				}
				for _, k := range keys {
					if k != strconv.Itoa(next) {
						t.Fatalf("record %s, want %d: out of order", k, next)
					}
					next++
				}
				s.giveBack(b)
			}
			// Given its batches back, the stage goes on to the end, in order.
			for next < total {
				b, keys := takeBatch(t, s)
				for _, k := range keys {
					if k != strconv.Itoa(next) {
						t.Fatalf("record %s, want %d: out of order", k, next)
					}
					next++
				}
				s.giveBack(b)
			}
		})
	}
}

type failAt struct {
	id  int64
	err error
}

func (f failAt) EncodeRecord(_ context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	if rec.Change.After[0].Int == f.id {
		return "", nil, nil, f.err
	}
	return "t", []byte("k"), []byte("v"), nil
}

// TestEncodeStageStopsAtError checks that an encode error is the last item the stage hands
// over, in its place, and that the stage then stops reading the source.
func TestEncodeStageStopsAtError(t *testing.T) {
	boom := errors.New("registry down")
	s := newTestStage(t, failAt{id: 5, err: boom}, DefaultEncodeQueueEvents, DefaultEncodeQueueBytes)
	events := connectors.NewQueue(20, 1<<20)
	events.TrySend(connectors.Event{Kind: connectors.EventBegin, Position: offsets.Position{Source: json.RawMessage(`1`)}})
	for i := range 10 {
		events.TrySend(insert(int64(i)))
	}
	done := make(chan struct{})
	go func() { defer close(done); s.run(t.Context(), events) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the encode stage did not stop at the error")
	}
	var items []staged
	for len(s.full) > 0 {
		b := <-s.full
		items = append(items, b.items...)
	}
	if len(items) != 7 || items[0].kind != connectors.EventBegin {
		t.Fatalf("%d items, want the Begin and changes 0 to 5", len(items))
	}
	last := items[6]
	if se, ok := errors.AsType[*StageError](last.err); !ok || se.Stage != StageEncode || !errors.Is(last.err, boom) {
		t.Fatalf("last item's error = %v, want an encode StageError", last.err)
	}
	for _, it := range items[:6] {
		if it.err != nil {
			t.Fatalf("item before the failing one has error %v", it.err)
		}
	}
	// Events after the failing change stay in the channel: nothing reads past an error.
	if len(events.Events()) != 4 {
		t.Fatalf("%d events left in the channel, want 4", len(events.Events()))
	}
}

// TestEncodeStageBoundsBytesAcrossBatches checks that records larger than a batch's share of
// the bytes do not fill every batch with one each: the stage stops once the batches handed
// over hold the queue's bytes, and goes on as the Kafka stage gives them back.
func TestEncodeStageBoundsBytesAcrossBatches(t *testing.T) {
	enc := &valueEncoder{size: 100 << 10}
	s := newTestStage(t, enc, DefaultEncodeQueueEvents, 256<<10) // 32 batches of an 8 KiB share
	const total = 20
	events := fill(t, total)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx, events) }()
	defer func() { cancel(); <-done }()

	waitUntil(t, "the encode stage to wait with three batches handed over", func() bool { return len(events.Events()) == total-4 })
	if got := enc.calls.Load(); got != 3 {
		t.Fatalf("%d records of 100 KiB encoded into a queue of 256 KiB, want 3", got)
	}
	b, keys := takeBatch(t, s)
	if len(keys) != 1 || keys[0] != "0" {
		t.Fatalf("first batch holds %q, want record 0 alone", keys)
	}
	s.giveBack(b)
	waitUntil(t, "the encode stage to go on after a batch came back", func() bool { return len(events.Events()) == total-5 })
	if got := enc.calls.Load(); got != 4 {
		t.Fatalf("%d records encoded after one batch came back, want 4", got)
	}
}
