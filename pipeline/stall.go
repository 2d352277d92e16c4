package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// DefaultStallAfter is how long a run may hold an open Kafka transaction without any record
// acknowledged and without a commit before [OnStalled] reports it: far above a healthy
// transaction's pauses (a linger, a flush, a broker's leader election), far below the
// transaction timeout.
const DefaultStallAfter = 10 * time.Second

// stallWatch is what a run tells the watchdog of [Pipeline.RunWithRestarts] about its progress.
// The run writes it from its own goroutine and the producer's promises; the watchdog reads it.
type stallWatch struct {
	// openSince is when the open Kafka transaction began (Unix nanoseconds); 0: none is open.
	openSince atomic.Int64
	// progress counts the records Kafka acknowledged: a transaction that makes progress is not
	// stalled, however long it stays open (a huge database transaction's).
	progress atomic.Int64
	// kafkaErr is the last error met while a commit waits for the broker, for the reason.
	kafkaErr atomic.Pointer[string]
}

func (w *stallWatch) opened(now time.Time) { w.openSince.Store(now.UnixNano()) }

func (w *stallWatch) closed() {
	w.openSince.Store(0)
	w.kafkaErr.Store(nil)
}

func (w *stallWatch) waiting(err error) {
	msg := err.Error()
	w.kafkaErr.Store(&msg)
}

// ErrStalled is the reason [OnStalled] reports: a run whose Kafka transaction has made no
// progress for a while, most often because the broker is unreachable.
var ErrStalled = errors.New("pipeline: no progress")

// OnStalled has [Pipeline.RunWithRestarts] call f when a run has held an open Kafka transaction
// for d without any record acknowledged nor committed (the run goes on: a commit waiting for a
// broker that went away, records the broker does not accept), once per stall, with a reason that
// wraps [ErrStalled]; [OnHealthy]'s function is called at the next progress. Without it, a
// stalled run only logs.
func OnStalled(d time.Duration, f func(reason error)) RestartOption {
	return func(c *restartConfig) {
		c.stallAfter = d
		c.onStalled = f
	}
}

// watchStalls calls rc.onStalled when the running pipeline stops making progress with a
// transaction open, and rc.onHealthy when it makes progress again, until ctx ends. It polls:
// the produce and commit paths only count.
func (p *Pipeline) watchStalls(ctx context.Context, rc restartConfig) {
	tick := time.NewTicker(min(time.Second, rc.stallAfter/4))
	defer tick.Stop()
	var (
		last      int64
		changedAt = time.Now()
		stalled   bool
	)
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			progress := p.stall.progress.Load() + p.metrics.transactions.Load()
			since := p.stall.openSince.Load()
			switch {
			case progress != last:
				last, changedAt = progress, now
				if stalled {
					stalled = false
					if rc.onHealthy != nil {
						rc.onHealthy()
					}
					p.cfg.log.Info().Str("connector", p.cfg.connector).Msg("pipeline makes progress again")
				}
				continue
			case since == 0:
				// No transaction open: idle, or the run ended without progress, whose failure
				// and retry RunWithRestarts reports.
				changedAt, stalled = now, false
				continue
			}
			if stalled || now.Sub(changedAt) < rc.stallAfter {
				continue
			}
			stalled = true
			reason := fmt.Errorf("%w for %s: the Kafka transaction open since %s has had no record acknowledged nor committed",
				ErrStalled, now.Sub(changedAt).Round(time.Second), time.Unix(0, since).UTC().Format(time.RFC3339))
			if msg := p.stall.kafkaErr.Load(); msg != nil {
				reason = fmt.Errorf("%w (Kafka unreachable? last error: %s)", reason, *msg)
			}
			p.cfg.log.Warn().Err(reason).Str("connector", p.cfg.connector).Msg("pipeline stalled")
			rc.onStalled(reason)
		}
	}
}
