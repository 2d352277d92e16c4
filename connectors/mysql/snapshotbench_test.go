package mysql

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
)

// BenchmarkSnapshotRun measures the chunk loop of an initial snapshot over a fake reader: the
// loop's own cost per row (chunking, positions, decoding, events), without a server.
func BenchmarkSnapshotRun(b *testing.B) {
	const n = 100_000
	m := newSchemaModel()
	m.Tables["d.a"] = &tableDef{Database: "d", Name: "a", Version: 1, Columns: []columnDef{{Name: "id", Type: "int(11)", Key: true}}}
	rd := &fakeReader{rows: map[string][]snapRow{}}
	for i := 1; i <= n; i++ {
		rd.rows["d.a"] = append(rd.rows["d.a"], snapRow{[]byte(strconv.Itoa(i))})
	}
	tables, err := newSchemaTracker(Config{}, m).capturedTables()
	if err != nil {
		b.Fatal(err)
	}
	set, _ := ParseGTIDSet(FlavorMariaDB, "0-1-9")
	b.ReportAllocs()
	for b.Loop() {
		s := &snapshotter{rd: rd, model: m, tables: tables, limit: 1024, budget: connectors.DefaultSnapshotChunkBytes,
			at: Position{GTIDs: set, File: "b.000001", Pos: 4}, now: time.Now, every: time.Hour}
		if err := s.run(context.Background(), &SnapshotProgress{Table: "d.a"}, true, func(connectors.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
