package mysql

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

// blockingGet returns the events of ready at once, then waits for its context like a binlog
// streamer with nothing to give; it counts the contexts it was called with.
type blockingGet struct {
	ready    int
	contexts map[context.Context]bool
}

func (g *blockingGet) get(ctx context.Context) (*replication.BinlogEvent, error) {
	g.contexts[ctx] = true
	if g.ready > 0 {
		g.ready--
		return &replication.BinlogEvent{}, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestEventWaitFailsOnlyAfterAWholeSilence: a flow of events shares one context, and a wait
// that begins late in that context's life (the time before it went to handing events on)
// still waits a whole silence before it fails.
func TestEventWaitFailsOnlyAfterAWholeSilence(t *testing.T) {
	const silence = 200 * time.Millisecond
	// A clock of the test's own: the time spent handing events on is a jump, not a sleep.
	clock := time.Now()
	w := newEventWait(t.Context(), silence)
	w.now = func() time.Time { return clock }
	defer w.stop()
	g := &blockingGet{ready: 1000, contexts: map[context.Context]bool{}}
	for range 1000 {
		if _, err := w.next(g.get); err != nil {
			t.Fatal(err)
		}
	}
	if len(g.contexts) != 1 {
		t.Errorf("1 000 events waited for under %d contexts, want 1", len(g.contexts))
	}

	// The next wait starts once the context's real timer has run out, its deadline passed
	// while events were handed on: its first answer is the deadline, at once.
	deadline, _ := w.ctx.Deadline()
	for time.Now().Before(deadline) {
		<-time.After(time.Until(deadline))
	}
	calls := 0
	get := func(ctx context.Context) (*replication.BinlogEvent, error) {
		calls++
		ev, err := g.get(ctx)
		// Each return of the streamer moves the test's clock by 3/4 of a silence.
		clock = clock.Add(3 * silence / 4)
		return ev, err
	}
	began := clock
	_, err := w.next(get)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a silent binlog: %v, want context.DeadlineExceeded", err)
	}
	if waited := clock.Sub(began); waited < silence || calls < 2 {
		t.Errorf("failed after %d waits, %s by the test's clock: want a whole silence (%s)", calls, waited, silence)
	}
}

// TestEventWaitEndsWithItsParent: the end of the stream's context ends a wait at once, with
// the parent's error.
func TestEventWaitEndsWithItsParent(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	w := newEventWait(ctx, time.Hour)
	defer w.stop()
	g := &blockingGet{contexts: map[context.Context]bool{}}
	done := make(chan error, 1)
	go func() {
		_, err := w.next(g.get)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("wait after its parent's end = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the wait did not end within 30 s of its parent's end")
	}
}
