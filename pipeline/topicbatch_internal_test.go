package pipeline

import (
	"context"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
)

// TestKnownTopicsCheckedWithoutAllocating: once a run knows a batch's topics, checking them
// before the batch (ensureBatchTopics) and at each record (ensureTopic) allocates nothing and
// never asks for a creation, for records of one topic and for records alternating between two.
func TestKnownTopicsCheckedWithoutAllocating(t *testing.T) {
	p := &Pipeline{cfg: defaultConfig()}
	r := newRun(p, nil, offsets.Position{})
	a, b := "srv.public.a", "srv.public.b"
	r.topics[a], r.topics[b] = struct{}{}, struct{}{}
	for _, topics := range [][]string{{a}, {a, b}} {
		bt := &batch{}
		for i := range 1000 {
			bt.recs = append(bt.recs, &kgo.Record{Topic: topics[i%len(topics)]})
			bt.items = append(bt.items, staged{kind: connectors.EventChange, lo: i, hi: i + 1})
		}
		ctx := context.Background()
		allocs := testing.AllocsPerRun(100, func() {
			r.ensureBatchTopics(ctx, bt)
			for _, rec := range bt.recs {
				if err := r.ensureTopic(ctx, rec.Topic); err != nil {
					t.Fatal(err)
				}
			}
		})
		if allocs != 0 {
			t.Fatalf("topics %v: %v allocations per batch of known topics, want 0", topics, allocs)
		}
	}
}

// BenchmarkKnownTopics is the Kafka stage's topic checks of a batch of 1,000 records of known
// topics, alternating between two every 100 records, per record (ns/op), in a run that knows
// those two topics alone and in one that knows 1,000 (a connector of 1,000 tables: the map
// hashes the topic then, where a map of up to 8 compares the strings).
func BenchmarkKnownTopics(b *testing.B) {
	for _, known := range []int{2, 1000} {
		b.Run(strconv.Itoa(known), func(b *testing.B) { benchmarkKnownTopics(b, known) })
	}
}

func benchmarkKnownTopics(b *testing.B, known int) {
	p := &Pipeline{cfg: defaultConfig()}
	r := newRun(p, nil, offsets.Position{})
	topics := []string{"srv.public.bench_items", "srv.public.bench_orders"}
	for _, t := range topics {
		r.topics[t] = struct{}{}
	}
	for i := len(topics); i < known; i++ {
		r.topics["srv.public.table_"+strconv.Itoa(i)] = struct{}{}
	}
	bt := &batch{}
	for i := range 1000 {
		bt.recs = append(bt.recs, &kgo.Record{Topic: topics[i/100%2]})
		bt.items = append(bt.items, staged{kind: connectors.EventChange, lo: i, hi: i + 1})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%len(bt.recs) == 0 {
			r.ensureBatchTopics(ctx, bt)
		}
		if err := r.ensureTopic(ctx, bt.recs[i%len(bt.recs)].Topic); err != nil {
			b.Fatal(err)
		}
	}
}
