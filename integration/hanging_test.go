package integration

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPipelineAbortsATransactionLeftOpenOnItsTopic: a transactional producer of another
// application writes one record into the connector's data topic and never ends its transaction
// (its timeout is 10 minutes). On the real broker that holds the partition's last stable offset
// back: a read_committed consumer sees none of what the connector commits after it, for as long
// as the transaction stays open, and a restart of the connector changes nothing. The pipeline's
// check finds the transaction open past its limit and aborts it; every change becomes visible,
// exactly once. It failed before (HangingTransactionCheck(0, 0) gives the old behaviour): the
// consumer saw only the changes written before the intruder's record.
func TestPipelineAbortsATransactionLeftOpenOnItsTopic(t *testing.T) {
	env := newPipelineEnv(t)
	txns := make([]pipelinetest.Txn, 6)
	for i := range txns {
		txns[i] = pipelinetest.Inserts(2)
	}
	src := &pipelinetest.Source{Txns: txns}
	// The transactions after the first wait for the intruder's open transaction.
	var intruded atomic.Bool
	src.Before = func(ctx context.Context, tx, _ int) error {
		for tx >= 1 && !intruded.Load() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
		return nil
	}
	p := env.pipeline(t, src, pipeline.HangingTransactionCheck(500*time.Millisecond, 5*time.Second))
	runPipeline(t, p)
	waitPipelineAck(t, src, 1)

	topic := pipelinetest.Topic(env.prefix)
	intruder := NewKafkaClient(t, kgo.TransactionalID(Name(t, "intruder")), kgo.TransactionTimeout(10*time.Minute))
	if err := intruder.BeginTransaction(); err != nil {
		t.Fatalf("the intruder's BeginTransaction: %v", err)
	}
	if err := intruder.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Value: []byte("intruder")}).FirstErr(); err != nil {
		t.Fatalf("the intruder's produce: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = intruder.EndTransaction(ctx, kgo.TryAbort)
	})
	stable := func() (lso, hwm int64) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		adm := kadm.NewClient(NewKafkaClient(t))
		c, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("listing the stable offset of %s: %v", topic, err)
		}
		e, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("listing the end offset of %s: %v", topic, err)
		}
		lo, _ := c.Lookup(topic, 0)
		he, _ := e.Lookup(topic, 0)
		return lo.Offset, he.Offset
	}
	if lso, hwm := stable(); lso >= hwm {
		t.Fatalf("the intruder's open transaction does not hold the stable offset back (LSO %d, HWM %d): the scenario did not happen", lso, hwm)
	}
	intruded.Store(true)
	waitPipelineAck(t, src, len(txns))

	// Everything the connector committed becomes visible: the stable offset reaches the end.
	WaitFor(t, 90*time.Second, "the last stable offset to reach the end of the data topic", func() error {
		if lso, hwm := stable(); lso < hwm {
			return fmt.Errorf("LSO %d, HWM %d (hanging transactions aborted: %d)", lso, hwm, p.Metrics().Stats().HangingAborted)
		}
		return nil
	})
	if n := p.Metrics().Stats().HangingAborted; n < 1 {
		t.Fatalf("HangingAborted = %d, want at least 1", n)
	}
	checkPipelineTopic(t, env, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}
