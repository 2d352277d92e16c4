package worker

import (
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// stepper is a [Connector] that times the steps of its commit latency (a pipeline's, see
// [pipeline.Pipeline.Steps]); the collector exports them while the connector runs.
type stepper interface {
	Steps() []pipeline.StepStats
}

// Steps returns the pipeline's step histograms.
func (c *pipelineConnector) Steps() []pipeline.StepStats { return c.p.Steps() }

// stepsDesc describes cdcd_connector_step_seconds, labelled by connector and step.
var stepsDesc = prometheus.NewDesc("cdcd_connector_step_seconds",
	"Time a source transaction spends in one step of its way to the commit of the Kafka transaction holding it: receive (source commit to cdcd), queue (encode queue), linger (batching), flush and end_txn (per Kafka transaction), and committed (source commit to Kafka commit).",
	[]string{"connector", "step"}, nil)

// collectSteps sends the step histograms of conn, named name, if it times them.
func collectSteps(ch chan<- prometheus.Metric, name string, conn Connector) {
	s, ok := conn.(stepper)
	if !ok {
		return
	}
	for _, st := range s.Steps() {
		ch <- prometheus.MustNewConstHistogram(stepsDesc, st.Count, st.Sum, st.Buckets, name, st.Step)
	}
}
