package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
)

// BenchmarkSnapshotRun measures the chunk loop of an initial snapshot over a fake reader: the
// loop's own cost per row (chunking, positions, events), without a server.
func BenchmarkSnapshotRun(b *testing.B) {
	keys := make([]int, 100_000)
	for i := range keys {
		keys[i] = i + 1
	}
	rd := &fakeReader{keyed: map[string][]int{"s.a": keys}, width: map[string]int{"s.a": 64}}
	b.ReportAllocs()
	for b.Loop() {
		sn := &snapshotter{rd: rd, tables: []string{"s.a"}, limit: 1024, budget: connectors.DefaultSnapshotChunkBytes,
			cp: 0x100, now: time.Now, every: time.Hour}
		if err := sn.run(context.Background(), nil, func(connectors.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(keys)*b.N)/b.Elapsed().Seconds(), "rows/s")
}
