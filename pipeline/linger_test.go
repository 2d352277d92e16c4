package pipeline_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// gatedSource sends its first transaction, waits for gate to close, sends the others, then
// waits; each transaction holds two inserts.
type gatedSource struct {
	txns  int
	gate  chan struct{}
	acked atomic.Int64
}

func (s *gatedSource) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) error {
	tx, _, err := pipelinetest.ParsePos(from)
	if err != nil {
		return err
	}
	for ; tx < s.txns; tx++ {
		if tx == 1 {
			select {
			case <-s.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		evs := []connectors.Event{{Kind: connectors.EventBegin, Position: pipelinetest.Pos(tx, 0), CommitTime: time.Now()},
			{Kind: connectors.EventChange, Change: pipelinetest.Change('c', tx, 0)},
			{Kind: connectors.EventChange, Change: pipelinetest.Change('c', tx, 1)},
			{Kind: connectors.EventCommit, Position: pipelinetest.Pos(tx+1, 0)}}
		for _, ev := range evs {
			if err := out.Send(ctx, ev); err != nil {
				return err
			}
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *gatedSource) Ack(pos offsets.Position) error {
	tx, _, err := pipelinetest.ParsePos(pos)
	if err != nil {
		return err
	}
	s.acked.Store(int64(tx))
	return nil
}

// TestLingerEndsWhenSourceIdle runs with a linger of a minute. The first source transaction,
// with nothing after it, is committed at once, without waiting for the linger; its commit is
// held, and meanwhile three more transactions come: they wait behind it and are committed
// together, in one Kafka transaction, again without waiting for the linger. The waits are
// bounded by half the linger, so that a pipeline lingering for the whole minute fails them.
func TestLingerEndsWhenSourceIdle(t *testing.T) {
	const linger = time.Minute
	release := make(chan struct{})
	kafka := pipelinetest.HeldCommitCluster(t, release)
	src := &gatedSource{txns: 4, gate: make(chan struct{})}
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.MaxLinger(linger), pipeline.TransactionTimeout(5*linger))
	r := start(t, p)
	stepCount := func(step string) uint64 {
		for _, s := range p.Steps() {
			if s.Step == step {
				return s.Count
			}
		}
		t.Fatalf("no step %s", step)
		return 0
	}
	waitFor(t, linger/2, "the first transaction's commit under way", func() error {
		if n := stepCount(pipeline.StepFlush); n != 1 {
			return fmt.Errorf("%d Kafka transactions flushed", n)
		}
		return nil
	})
	close(src.gate)
	waitFor(t, patience, "the three other transactions queued behind the held commit", func() error {
		if n := p.Metrics().Stats().SourceEvents; n != 16 {
			return fmt.Errorf("%d source events handed to the Kafka stage, want 16", n)
		}
		return nil
	})
	close(release)
	waitFor(t, linger/2, "every transaction acknowledged", func() error {
		if n := src.acked.Load(); n != 4 {
			return fmt.Errorf("acked up to %d", n)
		}
		return nil
	})
	r.stop(t)
	if n := p.Metrics().Stats().Transactions; n != 2 {
		t.Errorf("%d Kafka transactions, want 2: the first source transaction alone, the three queued behind its commit together", n)
	}
}

// TestFullLingerWaitsForTheLinger is the same start with FullLinger: the lone transaction waits
// for the linger (a frozen clock: only the linger's timer can close it), and is then
// committed by itself.
func TestFullLingerWaitsForTheLinger(t *testing.T) {
	kafka := newKafka(t)
	src := &gatedSource{txns: 2, gate: make(chan struct{})}
	var clock fakeClock
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.MaxLinger(300*time.Millisecond), pipeline.FullLinger(), clock.option())
	r := start(t, p)
	waitFor(t, patience, "the first transaction committed by the linger's timer", func() error {
		if n := src.acked.Load(); n != 1 {
			return fmt.Errorf("acked up to %d", n)
		}
		return nil
	})
	for _, s := range p.Steps() {
		// The linger runs from the Commit, a moment after the Kafka transaction (and the
		// timer) began: most of the 0.3 s, never none of it.
		if s.Step == pipeline.StepLinger && s.Sum < 0.2 {
			t.Errorf("linger step %vs, want most of the linger, 0.3 s", s.Sum)
		}
	}
	close(src.gate)
	waitFor(t, patience, "the second transaction committed by the linger's timer", func() error {
		if n := src.acked.Load(); n != 2 {
			return fmt.Errorf("acked up to %d", n)
		}
		return nil
	})
	r.stop(t)
	if n := p.Metrics().Stats().Transactions; n != 2 {
		t.Errorf("%d Kafka transactions, want 2", n)
	}
}
