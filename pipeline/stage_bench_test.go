package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	avroformat "github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkEncodeStage runs changes of one source transaction through the encode stage (the
// transform chain, the Avro encoder with transaction metadata, the batch), as a run does
// between the source's queue and Kafka; its allocations per change are the engine's hot path.
func BenchmarkEncodeStage(b *testing.B) {
	enc, err := avroformat.NewEncoder(avroformat.WithTopicPrefix("cdc"), avroformat.WithRegistry(benchRegistry{}),
		avroformat.WithSource(postgres.SourceBlock))
	if err != nil {
		b.Fatal(err)
	}
	p := &Pipeline{enc: enc, cfg: defaultConfig()}
	p.cfg.txMetadata = true
	s := newEncodeStage(p, offsets.Position{})
	row := []decoder.Value{{State: decoder.ValueSet, Int: 42}}
	ch := &decoder.Change{Op: decoder.OpUpdate, Table: stageTable, Before: row, After: row,
		Source: postgres.NewSourceInfo(time.UnixMilli(1_700_000_000_000), decoder.SnapshotFalse, 741, 0x16B3748)}
	ev := connectors.Event{Kind: connectors.EventChange, Change: ch}
	bt := &batch{items: make([]staged, 0, 1024), recs: make([]*kgo.Record, 0, 1024)}
	ctx := context.Background()
	s.tx.begin(0, "741:23803720", ch.Source.CommitTime)
	if _, err := s.stage(ctx, ev, bt); err != nil { // registers the schemas, writes BEGIN
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if len(bt.recs) == cap(bt.recs) {
			bt.reset()
		}
		if it, err := s.stage(ctx, ev, bt); err != nil || it.err != nil {
			b.Fatal(err, it.err)
		}
	}
}

// benchRegistry accepts every schema, as id 1.
type benchRegistry struct{}

func (benchRegistry) Compatibility(context.Context, string) (avroformat.Compatibility, error) {
	return avroformat.CompatNone, nil
}

func (benchRegistry) Versions(context.Context, string) ([]avroformat.Schema, error) { return nil, nil }

func (benchRegistry) Lookup(context.Context, string, string) (avroformat.Schema, bool, error) {
	return avroformat.Schema{}, false, nil
}

func (benchRegistry) Register(context.Context, string, string) (int, error) { return 1, nil }
