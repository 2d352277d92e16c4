package main

import (
	"testing"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/worker"
)

// The daemon's connector, wrapped to name Kafka refusals, still gives the worker its latency
// steps: without them /metrics has no cdcd_connector_step_seconds.
func TestRefusalNamingConnectorForwardsSteps(t *testing.T) {
	p, err := pipeline.New(&pipelinetest.Source{}, &pipelinetest.Encoder{}, pipeline.ConnectorName("c"), pipeline.TopicPrefix("p"),
		pipeline.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	var conn worker.Connector = refusalNamingConnector{worker.PipelineConnector(p, nil), &KafkaConfig{}}
	s, ok := conn.(interface{ Steps() []pipeline.StepStats })
	if !ok {
		t.Fatal("the daemon's connector has no Steps")
	}
	if got := s.Steps(); len(got) != len(p.Steps()) || got[0].Step != pipeline.StepReceive {
		t.Errorf("steps %+v, want the pipeline's", got)
	}
}
