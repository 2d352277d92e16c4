package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
)

// wideSource streams one transaction of n changes of size bytes each, and watches its queue.
type wideSource struct {
	n, size int
	// sent counts the changes the queue took; sending is set while a Send waits.
	sent    atomic.Int64
	sending atomic.Bool
	// maxQueued is the most bytes the queue held: right after a send, as only sends add.
	maxQueued atomic.Int64
	queue     atomic.Pointer[connectors.Queue]
}

func (s *wideSource) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) error {
	if !from.IsZero() {
		<-ctx.Done()
		return ctx.Err()
	}
	s.queue.Store(out)
	send := func(ev connectors.Event) error {
		s.sending.Store(true)
		err := out.Send(ctx, ev)
		s.sending.Store(false)
		if b := out.Bytes(); b > s.maxQueued.Load() {
			s.maxQueued.Store(b)
		}
		return err
	}
	if err := send(connectors.Event{Kind: connectors.EventBegin, Position: pipelinetest.Pos(0, 0)}); err != nil {
		return err
	}
	for i := range s.n {
		c := &decoder.Change{Op: decoder.OpCreate, Table: pipelinetest.Table, Source: pipelinetest.SourceInfo(0, i),
			After: []decoder.Value{{State: decoder.ValueSet, Int: int64(i), Bytes: make([]byte, s.size)}}}
		if err := send(connectors.Event{Kind: connectors.EventChange, Change: c}); err != nil {
			return err
		}
		s.sent.Add(1)
	}
	if err := send(connectors.Event{Kind: connectors.EventCommit, Position: pipelinetest.Pos(1, 0)}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *wideSource) Ack(offsets.Position) error { return nil }

// wideEncoder writes a change's bytes as the record's value.
type wideEncoder struct{}

func (wideEncoder) EncodeRecord(_ context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	v := rec.Change.After[0]
	return pipelinetest.Topic(prefix), []byte("k" + strconv.FormatInt(v.Int, 10)), v.Bytes, nil
}

// TestSlowKafkaHoldsTheSourceToTheByteBounds runs a pipeline of 256 KiB changes against a Kafka
// that answers no produce request until released: the source must stop after what the three
// buffers' byte bounds hold (a few MiB, not the 1024 events of the source queue nor the 8192 of
// the encode queue, 2 GiB of such changes), and every change must arrive once Kafka answers.
func TestSlowKafkaHoldsTheSourceToTheByteBounds(t *testing.T) {
	const (
		size       = 256 << 10
		n          = 200
		queueBytes = 1 << 20
		encodeQ    = 1 << 20
		produceBuf = 2 << 20
	)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		cluster.SleepControl(func() { <-release })
		return nil, nil, false
	})
	kafka := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}

	src := &wideSource{n: n, size: size}
	p := newPipeline(t, kafka, src, wideEncoder{},
		pipeline.EventBuffer(pipeline.DefaultEventBuffer, queueBytes),
		pipeline.EncodeQueue(pipeline.DefaultEncodeQueueEvents, encodeQ),
		pipeline.ProduceBuffer(pipeline.DefaultMaxBufferedRecords, produceBuf),
		pipeline.MaxBatchRecords(10*n))
	start(t, p)

	// Settled: the source waits on a full queue, and has sent nothing more for 40 polls in a
	// row (the stages behind it may still be draining the queue when it first fills).
	lastSent, still := int64(-1), 0
	waitFor(t, patience, "the source to wait on a full queue, settled", func() error {
		q, sent := src.queue.Load(), src.sent.Load()
		if q == nil || !src.sending.Load() || q.Bytes()+size <= queueBytes || sent != lastSent {
			lastSent, still = sent, 0
			return fmt.Errorf("%d changes sent, the queue not full", sent)
		}
		if still++; still < 40 {
			return fmt.Errorf("%d changes sent, settled for %d polls", sent, still)
		}
		return nil
	})
	// What the buffers may hold: each bound plus one change (the encode queue also one batch's
	// share), and the change the Kafka stage holds while the producer blocks.
	limit := int64((queueBytes+encodeQ+produceBuf)/size + 5)
	if sent := src.sent.Load(); sent > limit || sent < 4 {
		t.Fatalf("the source sent %d changes of %d KiB with Kafka not answering, want 4 to %d", sent, size>>10, limit)
	}
	if got := src.maxQueued.Load(); got > queueBytes+size+1024 {
		t.Fatalf("the source queue held %d bytes, bound %d plus one change", got, queueBytes)
	}

	t.Logf("Kafka not answering: the source sent %d changes of %d KiB (limit %d), its queue held at most %d KiB",
		src.sent.Load(), size>>10, limit, src.maxQueued.Load()>>10)
	close(release)
	released = true
	waitFor(t, patience, "every change committed", func() error {
		recs, err := pipelinetest.ReadCommitted(t.Context(), kafka, pipelinetest.Topic(prefix))
		if err != nil {
			return err
		}
		if len(recs) < n {
			return fmt.Errorf("%d of %d records committed", len(recs), n)
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if seen[string(r.Key)] || len(r.Value) != size {
				t.Fatalf("record %s again or of %d bytes", r.Key, len(r.Value))
			}
			seen[string(r.Key)] = true
		}
		return nil
	})
	if got := src.maxQueued.Load(); got > queueBytes+size+1024 {
		t.Errorf("the source queue held %d bytes, bound %d plus one change", got, queueBytes)
	}
}

// TestTimedOutTransactionIsRetried holds the first commit request longer than the Kafka
// transaction timeout, as a broker outage does: the broker aborts the transaction and bumps
// the producer's epoch, which Kafka reports as fencing. That is no other process: the pipeline
// must restart from the committed position and deliver every change once, not stop for good.
func TestTimedOutTransactionIsRetried(t *testing.T) {
	const timeout = time.Second
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	var held atomic.Bool
	cluster.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if held.CompareAndSwap(false, true) {
			// A broker that does not answer for three timeouts: the simulated outage, not a
			// synchronisation.
			cluster.SleepControl(func() { time.Sleep(3 * timeout) })
		}
		return nil, nil, false
	})
	kafka := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}
	txns := []pipelinetest.Txn{pipelinetest.Inserts(3), pipelinetest.Inserts(3), pipelinetest.Inserts(3)}
	src := &pipelinetest.Source{Txns: txns}
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.TransactionTimeout(timeout), pipeline.MaxLinger(50*time.Millisecond),
		pipeline.RestartBackoff(10*time.Millisecond, 100*time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.RunWithRestarts(ctx) }()
	waitFor(t, patience, "every transaction acknowledged", func() error {
		select {
		case err := <-done:
			t.Fatalf("RunWithRestarts = %v: a timed-out transaction stopped the connector", err)
		default:
		}
		if tx, _, ok := src.LastAck(); !ok || tx < len(txns) {
			return fmt.Errorf("last ack %d", tx)
		}
		return nil
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunWithRestarts = %v, want context.Canceled", err)
	}
	if !held.Load() || len(src.Starts()) < 2 {
		t.Fatalf("%d runs (a produce held: %t), want a restart after the timeout", len(src.Starts()), held.Load())
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}
