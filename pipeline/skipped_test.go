package pipeline_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// Truncates are skipped by default, as Debezium's skipped.operations=t; SkipOperations
// replaces the set, and with no operation writes every change.
func TestSkippedOperations(t *testing.T) {
	txns := []pipelinetest.Txn{
		{decoder.OpCreate, decoder.OpTruncate, decoder.OpUpdate},
		{decoder.OpTruncate},
		{decoder.OpDelete, decoder.OpCreate},
	}
	// expected is the script's values without the skipped changes (and their tombstones).
	expected := func(skipped ...decoder.Op) []string {
		var out []string
		for tx, ops := range txns {
			for i, op := range ops {
				if slices.Contains(skipped, op) {
					continue
				}
				out = append(out, pipelinetest.Value(tx, i, op))
				if op == decoder.OpDelete {
					out = append(out, fmt.Sprintf("<tombstone k%d>", pipelinetest.RowID(tx, i)))
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		opts []pipeline.Option
		skip []decoder.Op
	}{
		{"default", nil, []decoder.Op{decoder.OpTruncate}},
		{"none", []pipeline.Option{pipeline.SkipOperations()}, nil},
		{"u,d", []pipeline.Option{pipeline.SkipOperations(decoder.OpUpdate, decoder.OpDelete)}, []decoder.Op{decoder.OpUpdate, decoder.OpDelete}},
	} {
		t.Run(c.name, func(t *testing.T) {
			kafka := newKafka(t)
			src := &pipelinetest.Source{Txns: txns}
			p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}, c.opts...)
			r := start(t, p)
			r.waitAck(t, src, len(txns), 0)
			r.stop(t)
			checkTopic(t, kafka, expected(c.skip...))
		})
	}
	_, err := pipeline.New(&pipelinetest.Source{}, &pipelinetest.Encoder{Prefix: prefix}, pipeline.ConnectorName("x"),
		pipeline.TopicPrefix(prefix), pipeline.SeedBrokers("127.0.0.1:1"), pipeline.SkipOperations(decoder.OpRead))
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Errorf("skipping snapshot reads: %v, want ErrInvalidOption", err)
	}
}
