package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// keyChangeSource streams one transaction holding one update that moves row 1 to row 2, then
// waits; it counts its acks.
type keyChangeSource struct{ acks atomic.Int32 }

func (s *keyChangeSource) Stream(ctx context.Context, from offsets.Position, out chan<- pipeline.Event) error {
	if !from.IsZero() {
		<-ctx.Done()
		return ctx.Err()
	}
	row := func(id int64) []decoder.Value { return []decoder.Value{{State: decoder.ValueSet, Int: id}} }
	update := &decoder.Change{Op: decoder.OpUpdate, Table: pipelinetest.Table, Before: row(1), After: row(2)}
	for _, ev := range []pipeline.Event{
		{Kind: pipeline.EventBegin, Position: offsets.Position{Source: json.RawMessage(`{"tx":0}`)}},
		{Kind: pipeline.EventChange, Change: update},
		{Kind: pipeline.EventCommit, Position: offsets.Position{Source: json.RawMessage(`{"after":0}`)}},
	} {
		select {
		case out <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *keyChangeSource) Ack(offsets.Position) error { s.acks.Add(1); return nil }

// TestKeyChangeBecomesDeleteTombstoneCreate checks that an update which changed the key is
// written as Debezium writes it: a delete of the old key, its tombstone, a create of the new.
func TestKeyChangeBecomesDeleteTombstoneCreate(t *testing.T) {
	kafka := newKafka(t)
	src := &keyChangeSource{}
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix})
	r := start(t, p)
	waitFor(t, 20*time.Second, "the ack of the transaction", func() error {
		if src.acks.Load() == 0 {
			return errors.New("no ack yet")
		}
		return nil
	})
	r.stop(t)
	checkTopic(t, kafka, []string{"0/0/d", "<tombstone k1>", "0/0/c"})
}
