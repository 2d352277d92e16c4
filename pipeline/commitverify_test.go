package pipeline_test

import (
	"context"
	"strings"
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

// TestCommitAskedAgainIsAcknowledgedOnlyOnceVisible: a commit asked again after an unknown
// outcome is acknowledged to the source only once its offset record is read back committed. Here
// the coordinator answers the commit asked again with success although the transaction never
// committed (kfake then aborts it, at the new producer's ID load), which is what a coordinator
// confused by a failover, a proxy or a broker bug could answer: the answer alone is not proof.
// It failed before: the pipeline acknowledged the position of a transaction that was aborted,
// and its changes were lost (the source never sent them again).
func TestCommitAskedAgainIsAcknowledgedOnlyOnceVisible(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	kafka := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	// The first commit goes through. The second fails as long as the client tries (twice with
	// RequestRetries(1)); the pipeline's own request is then answered "committed" without
	// reaching the coordinator, whose transaction stays open until the next producer aborts it.
	var endTxns, lied atomic.Int32
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		n := endTxns.Add(1)
		if n < 2 || n > 4 {
			return nil, nil, false
		}
		end := req.(*kmsg.EndTxnRequest)
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.Version = req.GetVersion()
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		if n == 4 {
			lied.Add(1)
			resp.ErrorCode = 0
			resp.ProducerID, resp.ProducerEpoch = end.ProducerID, end.ProducerEpoch+1
		}
		return resp, nil, true
	})

	txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(1), pipelinetest.Inserts(3), pipelinetest.Inserts(2)}
	src := &pipelinetest.Source{Txns: txns}
	var logs syncBuffer
	p := newPipeline(t, append(kafka, kgo.RequestRetries(1)), src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.MaxBatchRecords(1), pipeline.TransactionTimeout(5*time.Second),
		pipeline.RestartBackoff(time.Millisecond, 10*time.Millisecond), pipeline.Logger(zerolog.New(&logs)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.RunWithRestarts(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitAck(t, src, len(txns), 0)
	if lied.Load() == 0 {
		t.Fatal("the commit was never asked again: the scenario did not happen")
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
	checkCommitted(t, p, pipelinetest.Pos(len(txns), 0))
	if out := logs.String(); !strings.Contains(out, "not visible") {
		t.Errorf("the log does not say that the commit asked again was not visible:\n%s", out)
	}
}
