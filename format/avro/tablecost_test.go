package avro

import (
	"context"
	"runtime"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestEncoderCostPerTable: what the encoder keeps per table once its schemas are registered
// (its codec: row plans, the source block's bytes, the ids by subject) stays small; the
// parsed schemas, used only to check compatibility before registering, are not kept
// (docs/benchmarks.md, "Scale", gives the figure this logs).
func TestEncoderCostPerTable(t *testing.T) {
	const n = 500
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	tables := manyTables(n)
	before := liveHeap()
	if _, err := e.PrepareTables(ctx, tables); err != nil {
		t.Fatal(err)
	}
	for _, tab := range tables {
		if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: tab,
			After: []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Int: 2})}}); err != nil {
			t.Fatal(err)
		}
	}
	// The fake registry keeps every schema text it was given: take them out of the count.
	var held uint64
	for subject, versions := range reg.subjects {
		held += uint64(len(subject))
		for _, v := range versions {
			held += uint64(len(v.Schema))
		}
	}
	after := liveHeap()
	per := (int64(after) - int64(before) - int64(held)) / n
	t.Logf("encoder: %d bytes per table (%d tables; the registry's copies of the schema texts, %d bytes, left out)", per, n, held)
	if per > 16<<10 {
		t.Errorf("the encoder keeps %d bytes per table, want under 16 KiB", per)
	}
	runtime.KeepAlive(e)
	runtime.KeepAlive(tables)
}
