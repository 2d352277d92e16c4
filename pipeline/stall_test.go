package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// TestStalledRunIsReportedAndRecovers holds the broker's answer to a commit, as a broker gone
// quiet does: the run is reported stalled (the connector's status must not say RUNNING), then
// healthy again once the commit goes through, without a restart.
func TestStalledRunIsReportedAndRecovers(t *testing.T) {
	release := make(chan struct{})
	kafka := pipelinetest.HeldCommitCluster(t, release)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(3), pipelinetest.Inserts(3)}
	src := &pipelinetest.Source{Txns: txns}
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}, pipeline.MaxLinger(20*time.Millisecond))

	var stalled, healthy atomic.Int32
	var reason atomic.Pointer[error]
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- p.RunWithRestarts(ctx,
			pipeline.OnStalled(300*time.Millisecond, func(err error) { reason.Store(&err); stalled.Add(1) }),
			pipeline.OnHealthy(time.Hour, func() { healthy.Add(1) }))
	}()
	waitFor(t, time.Minute, "the held commit reported as a stall", func() error {
		if stalled.Load() == 0 {
			return errors.New("no stall reported")
		}
		return nil
	})
	if err := *reason.Load(); !errors.Is(err, pipeline.ErrStalled) {
		t.Errorf("stall reason %v, want an ErrStalled", err)
	}
	if healthy.Load() != 0 {
		t.Errorf("healthy reported while the commit is held")
	}
	close(release)
	waitFor(t, time.Minute, "every transaction acknowledged, and healthy again", func() error {
		if tx, _, ok := src.LastAck(); !ok || tx < len(txns) {
			return fmt.Errorf("last ack %d", tx)
		}
		if healthy.Load() == 0 {
			return errors.New("not reported healthy")
		}
		return nil
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunWithRestarts = %v, want context.Canceled", err)
	}
	if n := stalled.Load(); n != 1 {
		t.Errorf("%d stalls reported, want 1", n)
	}
	if n := len(src.Starts()); n != 1 {
		t.Errorf("%d runs, want 1: a stall is waited out, not restarted", n)
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}
