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
)

// TestCommitWithUnknownOutcomeIsAskedAgain: a commit whose outcome the Kafka client never learns
// (here the coordinator says it is not available until the client gives up; in life, a broker
// gone away in the middle of the commit) pauses the pipeline and asks the broker again, instead
// of failing the run and tearing the source down: the source is started once, every change
// arrives once, and the pipeline goes on with a new producer. It failed before: the run ended
// with the commit's error.
func TestCommitWithUnknownOutcomeIsAskedAgain(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	kafka := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	// The first commit goes through; the second fails twice, which is all the client tries
	// with RequestRetries(1), then once more when the pipeline asks again.
	var endTxns atomic.Int32
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if n := endTxns.Add(1); n < 2 || n > 4 {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.Version = req.GetVersion()
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil, true
	})

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

// TestCommitAfterTheTransactionTimeoutRestarts: when the broker comes back after the transaction
// timeout it has aborted the transaction and answers the commit asked again with fencing; the
// run ends with ErrTransactionTimedOut, which says so without speaking of another process, is
// retried, and every change still arrives once.
func TestCommitAfterTheTransactionTimeoutRestarts(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	kafka := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	// The second commit fails as long as the client tries, then, asked again past the timeout
	// (the pipeline's clock jumps over it), is answered as Kafka answers a transaction it
	// aborted.
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
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
		if n == 4 {
			skew.Store(int64(2 * time.Second))
			resp.ErrorCode = kerr.InvalidProducerEpoch.Code
		}
		return resp, nil, true
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
