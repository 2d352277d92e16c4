package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
)

// TestCommitWithUnknownOutcomeIsAskedAgain: a commit whose outcome the Kafka client never learns
// (here the coordinator says it is not available until the client gives up; in life, a broker
// gone away in the middle of the commit) pauses the pipeline and asks the broker again, instead
// of failing the run and tearing the source down: the source is started once, every change
// arrives once, and the pipeline goes on with a new producer. It failed before: the run ended
// with the commit's error.
func TestCommitWithUnknownOutcomeIsAskedAgain(t *testing.T) {
	kafka, endTxns := secondCommitUnknown(t, nil)

	txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(1), pipelinetest.Inserts(3), pipelinetest.Inserts(2)}
	src := &pipelinetest.Source{Txns: txns}
	p := newPipeline(t, append(kafka, kgo.RequestRetries(1)), src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.MaxBatchRecords(1))
	r := start(t, p)
	r.waitAck(t, src, len(txns), 0)
	r.stop(t)

	if n := endTxns.Load(); n < 5 {
		t.Fatalf("%d EndTxn requests, want at least 5: the unknown outcome was not met", n)
	}
	if n := len(src.Starts()); n != 1 {
		t.Fatalf("the source was started %d times, want once: the pipeline failed instead of waiting", n)
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
	checkCommitted(t, p, pipelinetest.Pos(len(txns), 0))
}

// secondCommitUnknown starts a kfake cluster whose first commit goes through and whose second
// is answered "coordinator not available" three times: twice, which is all the client tries
// with RequestRetries(1), then once more when the pipeline asks again. last, if not nil, may
// change the answer to the nth EndTxn (2 to 4). It returns the options that reach the cluster
// and the count of EndTxn requests.
func secondCommitUnknown(t *testing.T, last func(n int32, resp *kmsg.EndTxnResponse)) ([]kgo.Opt, *atomic.Int32) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	var endTxns atomic.Int32
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n := endTxns.Add(1)
		if n < 2 || n > 4 {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.Version = req.GetVersion()
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		if last != nil {
			last(n, resp)
		}
		return resp, nil, true
	})
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, &endTxns
}

// TestCommitAfterTheTransactionTimeoutRestarts: when the broker comes back after the transaction
// timeout it has aborted the transaction and answers the commit asked again with fencing; the
// run ends with ErrTransactionTimedOut, which says so without speaking of another process, is
// retried, and every change still arrives once.
func TestCommitAfterTheTransactionTimeoutRestarts(t *testing.T) {
	// The second commit fails as long as the client tries, then, asked again past the timeout
	// (the pipeline's clock jumps over it), is answered as Kafka answers a transaction it
	// aborted.
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	kafka, _ := secondCommitUnknown(t, func(n int32, resp *kmsg.EndTxnResponse) {
		if n == 4 {
			skew.Store(int64(2 * time.Second))
			resp.ErrorCode = kerr.InvalidProducerEpoch.Code
		}
	})

	txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(1), pipelinetest.Inserts(3)}
	src := &pipelinetest.Source{Txns: txns}
	var logs syncBuffer
	p := newPipeline(t, append(kafka, kgo.RequestRetries(1)), src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.MaxBatchRecords(1), pipeline.TransactionTimeout(time.Second),
		pipeline.RestartBackoff(time.Millisecond, 10*time.Millisecond), pipeline.Logger(zerolog.New(&logs)),
		pipeline.WithClock(clock))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.RunWithRestarts(ctx) }()
	waitAck(t, src, len(txns), 0)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunWithRestarts = %v, want context.Canceled", err)
	}

	if n := len(src.Starts()); n != 2 {
		t.Fatalf("the source was started %d times, want twice: once, then after the aborted transaction", n)
	}
	out := logs.String()
	if !strings.Contains(out, pipeline.ErrTransactionTimedOut.Error()) {
		t.Errorf("the log does not say the broker aborted the transaction after its timeout:\n%s", out)
	}
	if strings.Contains(out, "another process") {
		t.Errorf("the log speaks of another process:\n%s", out)
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}

// syncBuffer is a bytes.Buffer for a logger written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// topicFrom is the test encoder, but for the changes of transaction from and after, which go to
// topic.
type topicFrom struct {
	pipelinetest.Encoder
	from  int64
	topic string
}

func (e *topicFrom) EncodeRecord(ctx context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	topic, key, value, err := e.Encoder.EncodeRecord(ctx, rec)
	if pipelinetest.TxID(&rec.Change.Source) >= e.from {
		topic = e.topic
	}
	return topic, key, value, err
}

// TestSizeChecksFollowTheRenewedClient: after a commit asked again, the run replaces its Kafka
// client; the encode stage's size checks must read the limit of a topic first met afterwards
// through the new client. It failed before: they kept the closed one, so every such topic was
// checked against the producer's limits alone, with a warning that the topic's limit could not
// be read.
func TestSizeChecksFollowTheRenewedClient(t *testing.T) {
	kafka, endTxns := secondCommitUnknown(t, nil)

	txns := []pipelinetest.Txn{pipelinetest.Inserts(1), pipelinetest.Inserts(1), pipelinetest.Inserts(2), pipelinetest.Inserts(1)}
	src := &pipelinetest.Source{Txns: txns}
	// The changes to the new topic are read once the commit asked again is acknowledged: the
	// client is renewed by then.
	src.Before = func(ctx context.Context, tx, _ int) error {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for tx >= 2 {
			if acked, _, ok := src.LastAck(); ok && acked >= 2 {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
		return nil
	}
	var logs syncBuffer
	enc := &topicFrom{Encoder: pipelinetest.Encoder{Prefix: prefix}, from: 2, topic: prefix + ".later"}
	p := newPipeline(t, append(kafka, kgo.RequestRetries(1)), src, enc,
		pipeline.MaxBatchRecords(1), pipeline.Logger(zerolog.New(&logs)))
	r := start(t, p)
	r.waitAck(t, src, len(txns), 0)
	r.stop(t)

	if n := endTxns.Load(); n < 5 {
		t.Fatalf("%d EndTxn requests, want at least 5: the unknown outcome was not met", n)
	}
	if out := logs.String(); strings.Contains(out, "cannot read the topic's max.message.bytes") {
		t.Fatalf("the size checks could not read the limit of a topic met after the client was renewed:\n%s", out)
	}
}
