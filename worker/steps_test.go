package worker

import (
	"context"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// steppedConn is a connector with latency steps.
type steppedConn struct{ steps []pipeline.StepStats }

func (steppedConn) Run(context.Context, Health) error { return nil }
func (steppedConn) Stats() pipeline.Stats             { return pipeline.Stats{} }
func (steppedConn) Progress() []api.TableProgress     { return nil }
func (c steppedConn) Steps() []pipeline.StepStats     { return c.steps }

// plainConn is a connector without them.
type plainConn struct{}

func (plainConn) Run(context.Context, Health) error { return nil }
func (plainConn) Stats() pipeline.Stats             { return pipeline.Stats{} }
func (plainConn) Progress() []api.TableProgress     { return nil }

// Each step of a connector that times them is one histogram series labelled by connector and
// step; a connector that does not time them has none.
func TestCollectSteps(t *testing.T) {
	conn := steppedConn{steps: []pipeline.StepStats{
		{Step: pipeline.StepLinger, HistogramSnapshot: pipeline.HistogramSnapshot{Buckets: map[float64]uint64{0.001: 2, 0.02: 5}, Count: 6, Sum: 0.05}},
		{Step: pipeline.StepEndTxn, HistogramSnapshot: pipeline.HistogramSnapshot{Buckets: map[float64]uint64{0.001: 1}, Count: 1, Sum: 0.0005}},
	}}
	ch := make(chan prometheus.Metric, 10)
	collectSteps(ch, "a", conn)
	collectSteps(ch, "b", plainConn{})
	close(ch)
	got := make(map[string]uint64)
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		labels := map[string]string{}
		for _, l := range d.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["connector"] != "a" {
			t.Errorf("series of connector %q, want only a's", labels["connector"])
		}
		got[labels["step"]] = d.GetHistogram().GetSampleCount()
	}
	if len(got) != 2 || got[pipeline.StepLinger] != 6 || got[pipeline.StepEndTxn] != 1 {
		t.Errorf("step series %v, want linger 6 and end_txn 1", got)
	}
}
