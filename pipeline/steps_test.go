package pipeline_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// TestStepsTimeEachSourceAndKafkaTransaction runs three source transactions committed a minute
// ago: the per-source-transaction steps hold one observation each, the receive step and the
// committed step at least their age, and the per-Kafka-transaction steps (flush, end_txn) one
// per Kafka transaction.
func TestStepsTimeEachSourceAndKafkaTransaction(t *testing.T) {
	kafka := newKafka(t)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	src := &timedSource{commits: []time.Time{base, base.Add(time.Second), base.Add(2 * time.Second)}, n: 2}
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}, pipeline.MaxLinger(20*time.Millisecond))
	r := start(t, p)
	waitFor(t, patience, "every transaction committed", func() error {
		if n := src.acked.Load(); n < 3 {
			return fmt.Errorf("acked up to %d", n)
		}
		return nil
	})
	r.stop(t)
	kafkaTxns := uint64(p.Metrics().Stats().Transactions)
	steps := p.Steps()
	want := []string{pipeline.StepReceive, pipeline.StepQueue, pipeline.StepLinger, pipeline.StepFlush, pipeline.StepEndTxn, pipeline.StepCommitted}
	if len(steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(steps), len(want))
	}
	ages := (58 + 59 + 60) * time.Second.Seconds()
	for i, s := range steps {
		if s.Step != want[i] {
			t.Errorf("step %d is %s, want %s", i, s.Step, want[i])
		}
		n := uint64(3) // per source transaction
		if s.Step == pipeline.StepFlush || s.Step == pipeline.StepEndTxn {
			n = kafkaTxns
		}
		if s.Count != n {
			t.Errorf("step %s: %d observations, want %d", s.Step, s.Count, n)
		}
		if (s.Step == pipeline.StepReceive || s.Step == pipeline.StepCommitted) && s.Sum < ages {
			t.Errorf("step %s: sum %vs, want at least the commits' ages, %vs", s.Step, s.Sum, ages)
		}
		if s.Step != pipeline.StepReceive && s.Step != pipeline.StepCommitted && s.Sum >= ages {
			t.Errorf("step %s: sum %vs, as old as the commits: it must not count from them", s.Step, s.Sum)
		}
	}
}
