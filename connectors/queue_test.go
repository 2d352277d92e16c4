package connectors

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

var queueTable = &decoder.Table{ID: 1, Namespace: "public", Name: "t", Version: 1,
	Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt64, Key: true}}}

// blob returns a change whose one value holds n bytes.
func blob(id int64, n int) Event {
	return Event{Kind: EventChange, Change: &decoder.Change{Op: decoder.OpCreate, Table: queueTable,
		After: []decoder.Value{{State: decoder.ValueSet, Int: id, Bytes: make([]byte, n)}}}}
}

func TestQueueBoundsBytes(t *testing.T) {
	one := blob(0, 1000)
	w := one.weigh()
	if w < 1000 || w > 1400 {
		t.Fatalf("a change of 1000 bytes weighs %d", w)
	}
	q := NewQueue(100, int(3*w))
	for i := range 3 {
		if !q.TrySend(blob(int64(i), 1000)) {
			t.Fatalf("event %d refused with %d of %d bytes used", i, q.Bytes(), 3*w)
		}
	}
	if q.TrySend(blob(3, 1000)) {
		t.Fatalf("a fourth event accepted: %d bytes held, bound %d", q.Bytes(), 3*w)
	}
	if got := q.Bytes(); got != 3*w {
		t.Fatalf("Bytes = %d after a refused send, want %d", got, 3*w)
	}
	// Received is not released: the pipeline holds the event until it is encoded.
	ev := <-q.ch
	if q.TrySend(blob(3, 1000)) {
		t.Fatal("an event accepted while the received one is still held")
	}
	q.Release(ev.weight)
	if !q.TrySend(blob(3, 1000)) {
		t.Fatalf("event refused after a release, %d bytes held", q.Bytes())
	}
}

func TestQueueBoundsEvents(t *testing.T) {
	q := NewQueue(2, 1<<20)
	if !q.TrySend(insert(1)) || !q.TrySend(insert(2)) {
		t.Fatal("two small events refused by a queue of two")
	}
	if q.TrySend(insert(3)) {
		t.Fatal("a third event accepted by a queue of two")
	}
	small := insert(1)
	if got, want := q.Bytes(), 2*small.weigh(); got != want {
		t.Fatalf("Bytes = %d, want %d: a refused send must give its weight back", got, want)
	}
}

// TestQueuePassesAHugeEventAlone checks that an event over the whole budget is not refused
// forever: it waits for the queue to hold nothing, then passes alone.
func TestQueuePassesAHugeEventAlone(t *testing.T) {
	q := NewQueue(10, 4096)
	if !q.TrySend(insert(1)) {
		t.Fatal("a small event refused by an empty queue")
	}
	if q.TrySend(blob(2, 1<<20)) {
		t.Fatal("an event over the budget accepted beside another")
	}
	if _, err := q.Receive(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !q.TrySend(blob(2, 1<<20)) {
		t.Fatal("an event over the budget refused by an empty queue")
	}
	if q.TrySend(insert(3)) {
		t.Fatal("an event accepted behind one over the budget")
	}
}

func TestQueueSendWaitsForRoomAndForContext(t *testing.T) {
	q := NewQueue(1, 1<<20)
	if err := q.Send(t.Context(), insert(1)); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() { sent <- q.Send(t.Context(), insert(2)) }()
	waitUntil(t, "the sender to wait for room", q.waiting.Load)
	select {
	case err := <-sent:
		t.Fatalf("Send into a full queue returned %v", err)
	default:
	}
	ev := <-q.ch
	q.Release(ev.weight)
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Send did not return after the queue made room")
	}

	ctx, cancel := context.WithCancel(t.Context())
	go func() { sent <- q.Send(ctx, insert(3)) }()
	cancel()
	select {
	case err := <-sent:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send = %v after its context ended, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Send did not return after its context ended")
	}
}

// TestQueueConcurrentSendAndRelease runs a sender against a receiver that holds each event a
// while before releasing it, under the byte bound: every event arrives, in order, and the
// bytes held never pass the bound by more than one event.
func TestQueueConcurrentSendAndRelease(t *testing.T) {
	const n = 20000
	one := blob(0, 100)
	w := one.weigh()
	bound := 8 * w
	q := NewQueue(64, int(bound))
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if err := q.Send(t.Context(), blob(int64(i), 100)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var held []Event
	for i := 0; i < n; {
		select {
		case ev := <-q.ch:
			if got := ev.Change.After[0].Int; got != int64(i) {
				t.Fatalf("event %d arrived as %d", i, got)
			}
			if b := q.Bytes(); b > bound+w {
				t.Fatalf("%d bytes held, bound %d", b, bound)
			}
			held = append(held, ev)
			i++
		case <-time.After(time.Minute):
			t.Fatalf("no event %d within 10s: a lost wake-up", i)
		}
		if len(held) == 3 || i == n {
			for _, ev := range held {
				q.Release(ev.weight)
			}
			held = held[:0]
		}
	}
	wg.Wait()
	if b := q.Bytes(); b != 0 {
		t.Fatalf("%d bytes still held after every release", b)
	}
}

// BenchmarkQueue measures a send and its release, a sender and a receiver on their own
// goroutines, as the source and the encode stage are: the receiver gives the weight back per
// batch of 256 events, as the encode stage does, over the pipeline's default bounds.
func BenchmarkQueue(b *testing.B) {
	const batchEvents = 256
	q := NewQueue(1024, 16<<20)
	ev := blob(1, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var held int64
		for i := range b.N {
			held += (<-q.ch).weight
			if i%batchEvents == batchEvents-1 || i == b.N-1 {
				q.Release(held)
				held = 0
			}
		}
	}()
	b.ReportAllocs()
	for range b.N {
		if err := q.Send(b.Context(), ev); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

// BenchmarkChannel is the plain channel the Queue replaced, for comparison.
func BenchmarkChannel(b *testing.B) {
	ch := make(chan Event, 1024)
	ev := blob(1, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range b.N {
			<-ch
		}
	}()
	b.ReportAllocs()
	for range b.N {
		ch <- ev
	}
	<-done
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

func insert(id int64) Event {
	return Event{Kind: EventChange, Change: &decoder.Change{Op: decoder.OpCreate, Table: queueTable,
		After: []decoder.Value{{State: decoder.ValueSet, Int: id}}}}
}
