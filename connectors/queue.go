package connectors

import (
	"context"
	"sync/atomic"
	"unsafe"
)

// Queue is the bounded queue from a source to the pipeline. It holds at most a number of events
// and a number of bytes, an event weighing what its values, record and position hold in memory
// (Event.weight); so that a table of huge rows holds the queue to its bytes, not to its events
// times their size. An event heavier than the whole byte budget still passes, once the queue
// holds no other bytes: the queue never holds more than its bytes plus one event.
//
// A source sends from one goroutine at a time: Send, or TrySend and Room where it has other
// things to watch while the queue is full (a replication connection's keepalives).
type Queue struct {
	ch       chan Event
	maxBytes int64
	// used is the weight of the events sent and not yet released: in the channel, or received
	// and not yet done with.
	used atomic.Int64
	// waiting is set by a sender about to wait on room; a release then signals room. room has
	// room for one signal, so that no signal is lost and none blocks.
	waiting atomic.Bool
	room    chan struct{}
}

// NewQueue returns a queue of at most events events and bytes bytes (each at least 1).
func NewQueue(events, bytes int) *Queue {
	return &Queue{ch: make(chan Event, max(1, events)), maxBytes: int64(max(1, bytes)), room: make(chan struct{}, 1)}
}

// Send sends ev, blocking while the queue is full, until ctx ends (it then returns ctx's
// error). The receiver owns ev's Change and Record.
func (q *Queue) Send(ctx context.Context, ev Event) error {
	for {
		if q.TrySend(ev) {
			return nil
		}
		room := q.Room()
		if q.TrySend(ev) {
			return nil
		}
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TrySend sends ev if the queue has room for it now, and tells whether it did.
func (q *Queue) TrySend(ev Event) bool {
	w := ev.weigh()
	ev.weight = w
	// The check and the add are one: a concurrent release only makes room.
	if n := q.used.Add(w); n > q.maxBytes && n != w {
		q.used.Add(-w)
		return false
	}
	select {
	case q.ch <- ev:
		return true
	default:
		q.used.Add(-w)
		return false
	}
}

// Room returns a channel that is ready once the queue may have made room since the call: a
// sender whose TrySend failed calls Room, then TrySend again (room may have come between the
// two), then waits on the channel and tries again.
func (q *Queue) Room() <-chan struct{} {
	q.waiting.Store(true)
	return q.room
}

// Receive takes the next event, waiting for one until ctx ends, and releases it at once: for a
// receiver that does not hold events (tests, tools). The pipeline holds each event until it is
// encoded.
func (q *Queue) Receive(ctx context.Context) (Event, error) {
	select {
	case ev := <-q.ch:
		q.Release(ev.weight)
		return ev, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// Bytes is the weight of the events sent and not yet released.
func (q *Queue) Bytes() int64 { return q.used.Load() }

// Release gives back the weight of events the receiver no longer holds (Event.Weight): a
// receiver that holds events past Events, as the pipeline's encode stage does, releases them
// once done with them, in one call per batch if it likes.
func (q *Queue) Release(weight int64) {
	if weight == 0 {
		return
	}
	q.used.Add(-weight)
	// Loaded first: a CompareAndSwap would take the cache line from the sender each time.
	if q.waiting.Load() && q.waiting.CompareAndSwap(true, false) {
		select {
		case q.room <- struct{}{}:
		default:
		}
	}
}

// eventSize is what an Event takes in the channel, whatever it carries.
const eventSize = int64(unsafe.Sizeof(Event{}))

// weigh estimates the memory ev holds: the event, its position's bytes, and its change's or
// record's. It reads the lengths, not the capacities, of the byte slices: a source's value may
// share a larger buffer that the event does not keep alive alone.
func (ev *Event) weigh() int64 {
	w := eventSize + int64(len(ev.Position.Source))
	if ev.Change != nil {
		w += int64(ev.Change.MemSize())
	}
	if r := ev.Record; r != nil {
		w += int64(unsafe.Sizeof(*r)) + int64(len(r.Topic)+len(r.Key)+len(r.Value))
	}
	return w
}

// Events is the queue's channel, for a receiver that holds each event until it is done with it
// and then calls Release with the events' weights; Receive is the simpler way.
func (q *Queue) Events() <-chan Event { return q.ch }

// Weight is what the event holds in memory, as the Queue that carried it weighed it.
func (ev *Event) Weight() int64 { return ev.weight }
