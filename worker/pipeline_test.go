package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pipelineFactory builds PipelineConnectors over pipelinetest's source and encoder, with a
// short stall threshold.
type pipelineFactory struct {
	*fakeFactory
	kafka []kgo.Opt
	src   *pipelinetest.Source
}

func (f *pipelineFactory) Build(_ context.Context, name string, cfg api.Config) (Connector, error) {
	p, err := pipeline.New(f.src, &pipelinetest.Encoder{Prefix: cfg["topic_prefix"]},
		pipeline.ConnectorName(name), pipeline.TopicPrefix(cfg["topic_prefix"]), pipeline.KafkaOpts(f.kafka...),
		pipeline.MaxLinger(20*time.Millisecond))
	if err != nil {
		return nil, err
	}
	c := PipelineConnector(p, nil).(*pipelineConnector)
	c.stallAfter = 300 * time.Millisecond
	return c, nil
}

// TestPipelineConnectorStallIsDegraded: a connector the worker runs over a real pipeline whose
// commit the broker holds is DEGRADED, saying it stalled, then RUNNING again once the commit
// goes through: the stall watch is part of how the worker runs every pipeline.
func TestPipelineConnectorStallIsDegraded(t *testing.T) {
	ctx := testCtx(t)
	release := make(chan struct{})
	kafka := pipelinetest.HeldCommitCluster(t, release)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(3), pipelinetest.Inserts(3)}
	src := &pipelinetest.Source{Txns: txns}
	f := &pipelineFactory{fakeFactory: newFakeFactory(), kafka: kafka, src: src}
	m := newManager(ctx, t, kafka, f, InMemoryConfigs(), StaticConnectors(map[string]api.Config{"a": fakeConfig("pa")}))

	st := waitState(ctx, t, m, "a", api.StateDegraded)
	if !strings.Contains(st.Connector.Trace, pipeline.ErrStalled.Error()) {
		t.Errorf("DEGRADED trace %q, want the stall's reason", st.Connector.Trace)
	}
	close(release)
	waitFor(t, "every transaction acknowledged", func() bool {
		tx, _, ok := src.LastAck()
		return ok && tx >= len(txns)
	})
	waitState(ctx, t, m, "a", api.StateRunning)
	if n := len(src.Starts()); n != 1 {
		t.Errorf("%d runs, want 1: a stall is waited out, not restarted", n)
	}
}
