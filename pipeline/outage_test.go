package pipeline_test

import (
	"sync/atomic"
	"testing"

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
