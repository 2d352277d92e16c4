package mysql

import (
	"context"
	"errors"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

// eventWait waits for the binlog's next event for at most silence per wait, under one context
// kept across events while they flow rather than a context with its timer per event (an
// allocation and a timer started and stopped for every row event). The context's deadline is
// thus set at its making, not at each wait's start: a wait that meets it after less than
// silence (the context's time went partly to handing events on) waits again for the rest, so
// that only a wait of a whole silence without an event fails.
type eventWait struct {
	parent  context.Context
	silence time.Duration
	now     func() time.Time
	ctx     context.Context
	cancel  context.CancelFunc
}

func newEventWait(parent context.Context, silence time.Duration) *eventWait {
	return &eventWait{parent: parent, silence: silence, now: time.Now}
}

// next returns the next event get gives, or get's error; context.DeadlineExceeded when none
// came for silence since the call.
func (w *eventWait) next(get func(context.Context) (*replication.BinlogEvent, error)) (*replication.BinlogEvent, error) {
	start := w.now()
	if w.ctx == nil {
		w.renew(w.silence)
	}
	for {
		ev, err := get(w.ctx)
		if err == nil {
			return ev, nil
		}
		if !errors.Is(err, context.DeadlineExceeded) || w.parent.Err() != nil {
			return nil, err
		}
		waited := w.now().Sub(start)
		if waited >= w.silence {
			w.renew(w.silence) // for a caller that waits on after the error
			return nil, err
		}
		w.renew(w.silence - waited)
	}
}

// renew replaces the context with one of the given timeout.
func (w *eventWait) renew(timeout time.Duration) {
	if w.cancel != nil {
		w.cancel()
	}
	w.ctx, w.cancel = context.WithTimeout(w.parent, timeout)
}

// stop releases the context's timer.
func (w *eventWait) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}
