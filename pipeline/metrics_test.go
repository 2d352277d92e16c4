package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// timedSource sends transactions of n inserts each, the i-th committed in the source at
// commits[i], then waits; it measures a backlog of backlogBytes.
type timedSource struct {
	commits      []time.Time
	n            int
	backlogBytes atomic.Int64
	acked        atomic.Int64
}

var (
	_ connectors.Source          = (*timedSource)(nil)
	_ connectors.BacklogReporter = (*timedSource)(nil)
)

func (s *timedSource) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) error {
	tx, _, err := pipelinetest.ParsePos(from)
	if err != nil {
		return err
	}
	for ; tx < len(s.commits); tx++ {
		if err := out.Send(ctx, connectors.Event{Kind: connectors.EventBegin, Position: pipelinetest.Pos(tx, 0), CommitTime: s.commits[tx]}); err != nil {
			return err
		}
		for i := range s.n {
			if err := out.Send(ctx, connectors.Event{Kind: connectors.EventChange, Change: pipelinetest.Change('c', tx, i)}); err != nil {
				return err
			}
		}
		if err := out.Send(ctx, connectors.Event{Kind: connectors.EventCommit, Position: pipelinetest.Pos(tx+1, 0)}); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *timedSource) Ack(pos offsets.Position) error {
	tx, _, err := pipelinetest.ParsePos(pos)
	if err != nil {
		return err
	}
	s.acked.Store(int64(tx))
	return nil
}

func (s *timedSource) Backlog() (connectors.Backlog, bool) {
	b := s.backlogBytes.Load()
	return connectors.Backlog{Bytes: b, At: time.Now()}, b > 0
}

// TestMetricsLagLatencyAndQueues holds the first Kafka commit, as a broker gone quiet does: the
// oldest uncommitted source transaction is the first one, and the events read are counted. Once
// the commit goes through, the last committed source commit time is the last transaction's,
// nothing is uncommitted, and the histograms hold one observation per source transaction (the
// latency, at least the age the test gave each commit) and per Kafka transaction.
func TestMetricsLagLatencyAndQueues(t *testing.T) {
	release := make(chan struct{})
	kafka := pipelinetest.HeldCommitCluster(t, release)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	src := &timedSource{commits: []time.Time{base, base.Add(time.Second), base.Add(2 * time.Second)}, n: 2}
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}, pipeline.MaxLinger(20*time.Millisecond))

	if s := p.Metrics().Stats(); s.HasBacklog || !s.OldestUncommitted.IsZero() || !s.LastSourceCommit.IsZero() {
		t.Fatalf("stats before any run: %+v", s)
	}
	src.backlogBytes.Store(4096)
	r := start(t, p)
	waitFor(t, patience, "the first transaction read and held uncommitted", func() error {
		s := p.Metrics().Stats()
		if !s.OldestUncommitted.Equal(base) {
			return fmt.Errorf("oldest uncommitted %v, want %v", s.OldestUncommitted, base)
		}
		if s.SourceEvents < 4 { // Begin, two changes, Commit
			return fmt.Errorf("%d source events", s.SourceEvents)
		}
		return nil
	})
	s := p.Metrics().Stats()
	if !s.LastSourceCommit.IsZero() || s.Latency.Count != 0 || s.Transactions != 0 {
		t.Errorf("stats while the first commit is held: %+v", s)
	}
	if !s.HasBacklog || s.Backlog.Bytes != 4096 {
		t.Errorf("backlog %+v (%v), want the source's 4096 bytes", s.Backlog, s.HasBacklog)
	}
	if s.SourceBytes <= 0 {
		t.Errorf("source bytes %d, want the weight of the events read", s.SourceBytes)
	}
	close(release)
	waitFor(t, patience, "every transaction committed", func() error {
		if n := src.acked.Load(); n < 3 {
			return fmt.Errorf("acked up to %d", n)
		}
		return nil
	})
	r.stop(t)
	s = p.Metrics().Stats()
	if want := base.Add(2 * time.Second); !s.LastSourceCommit.Equal(want) {
		t.Errorf("last source commit %v, want %v", s.LastSourceCommit, want)
	}
	if !s.OldestUncommitted.IsZero() {
		t.Errorf("oldest uncommitted %v after every commit, want none", s.OldestUncommitted)
	}
	if s.SourceEvents != 12 {
		t.Errorf("source events %d, want 12 (3 transactions of Begin, 2 changes, Commit)", s.SourceEvents)
	}
	if s.QueueEvents != 0 || s.QueueBytes != 0 || s.EncodeQueueEvents != 0 || s.EncodeQueueBytes != 0 {
		t.Errorf("queues between runs: %+v", s)
	}
	if s.Latency.Count != 3 {
		t.Errorf("latency observations %d, want one per source transaction (3)", s.Latency.Count)
	}
	if min := (58 + 59 + 60) * time.Second.Seconds(); s.Latency.Sum < min { // commit ages of the three
		t.Errorf("latency sum %vs, want at least %vs", s.Latency.Sum, min)
	}
	if n := s.Latency.Buckets[30]; n != 0 {
		t.Errorf("%d latencies at or below 30 s, want none (each is a minute old)", n)
	}
	if s.TransactionDuration.Count != uint64(s.Transactions) || s.TransactionRecords.Count != uint64(s.Transactions) {
		t.Errorf("transaction histograms %d and %d observations, want %d", s.TransactionDuration.Count, s.TransactionRecords.Count, s.Transactions)
	}
	if s.TransactionRecords.Sum != float64(s.Records) || s.TransactionBytes.Sum != float64(s.Bytes) {
		t.Errorf("transaction sizes sum to %v records and %v bytes, want %d and %d", s.TransactionRecords.Sum, s.TransactionBytes.Sum, s.Records, s.Bytes)
	}
}

// TestMetricsQueuesWhileRunning sees the source queue and the encode queue hold events while
// the Kafka stage is held by a commit that does not come back. The first source transaction
// comes alone, so that the first Kafka transaction holds it alone; once that commit is under
// way (flushed, its EndTxn held by the broker until the test ends), the source sends far more
// than both queues hold. The Kafka stage takes nothing while it commits, so the encode stage
// fills its one batch and waits for it to come back, and the source fills its queue and waits
// too: the gauges must then report the source queue full and the encode queue not empty, for
// good. Neither the linger nor the scheduling can move an event past the held commit.
func TestMetricsQueuesWhileRunning(t *testing.T) {
	const (
		queueEvents  = 64
		encodeEvents = 128 // one batch
		txns         = 101 // 400 events after the first transaction's 4, more than both queues hold
	)
	release := make(chan struct{})
	defer close(release)
	kafka := pipelinetest.HeldCommitCluster(t, release)
	src := &gatedSource{txns: txns, gate: make(chan struct{})}
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.MaxLinger(20*time.Millisecond),
		pipeline.EventBuffer(queueEvents, pipeline.DefaultEventBufferBytes),
		pipeline.EncodeQueue(encodeEvents, pipeline.DefaultEncodeQueueBytes))
	start(t, p)
	waitFor(t, patience, "the first transaction's commit under way", func() error {
		for _, s := range p.Steps() {
			if s.Step == pipeline.StepFlush && s.Count == 1 {
				return nil
			}
		}
		return errors.New("no Kafka transaction flushed yet")
	})
	if s := p.Metrics().Stats(); s.SourceEvents != 4 || s.Transactions != 0 {
		t.Fatalf("%d source events handed to the Kafka stage and %d transactions committed before the gate, want 4 and 0", s.SourceEvents, s.Transactions)
	}
	close(src.gate)
	waitFor(t, patience, "both queues holding events behind the held commit", func() error {
		s := p.Metrics().Stats()
		if s.QueueEvents != queueEvents || s.QueueBytes == 0 || s.EncodeQueueEvents == 0 || s.EncodeQueueBytes == 0 {
			return fmt.Errorf("queue %d events (want %d, full) %d bytes, encode queue %d events %d bytes",
				s.QueueEvents, queueEvents, s.QueueBytes, s.EncodeQueueEvents, s.EncodeQueueBytes)
		}
		return nil
	})
	s := p.Metrics().Stats()
	if s.EncodeQueueEvents > encodeEvents || s.Transactions != 0 {
		t.Errorf("encode queue %d events (at most %d), %d transactions committed, with the commit held", s.EncodeQueueEvents, encodeEvents, s.Transactions)
	}
}

func TestStatsAdd(t *testing.T) {
	a := pipeline.Stats{Records: 1, Restarts: 2, SourceEvents: 3, DeadLettered: 4, Skipped: 5,
		Latency: pipeline.HistogramSnapshot{Buckets: map[float64]uint64{1: 1}, Count: 2, Sum: 3}}
	var b pipeline.Stats
	b.Add(a)
	b.Add(a)
	if b.Records != 2 || b.Restarts != 4 || b.SourceEvents != 6 || b.DeadLettered != 8 || b.Skipped != 10 ||
		b.Latency.Count != 4 || b.Latency.Sum != 6 || b.Latency.Buckets[1] != 2 {
		t.Fatalf("sum of twice %+v: %+v", a, b)
	}
}
