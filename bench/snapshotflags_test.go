package main

import (
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestSnapshotFlags checks the snapshot phase's codec, batch and profile flags and that the
// codec and batch size reach cdcd's config.
func TestSnapshotFlags(t *testing.T) {
	s, err := parseSettings([]string{"-only", "snapshot", "-snapshot-codecs", "lz4, zstd,none", "-snapshot-batch-records", "50000", "-snapshot-chunk-rows", "40000",
		"-cpuprofile", "/tmp/p", "-snapshot-ceiling"}, io.Discard)
	if err != nil {
		t.Fatalf("parseSettings: %v", err)
	}
	if !slices.Equal(s.snapshotCodecs, []string{"lz4", "zstd", "none"}) || s.snapshotBatchRecords != 50000 ||
		s.cpuProfile != "/tmp/p" || !s.snapshotCeiling || s.snapshotChunkRows != 40000 {
		t.Errorf("settings = codecs %v, batch %d, profile %q, ceiling %v", s.snapshotCodecs, s.snapshotBatchRecords, s.cpuProfile, s.snapshotCeiling)
	}
	if _, err := parseSettings([]string{"-snapshot-codecs", "lz4,brotli"}, io.Discard); !errors.Is(err, ErrSettings) {
		t.Errorf("-snapshot-codecs brotli: %v, want ErrSettings", err)
	}
	if _, err := parseSettings([]string{"-snapshot-batch-records", "-1"}, io.Discard); !errors.Is(err, ErrSettings) {
		t.Errorf("-snapshot-batch-records -1: %v, want ErrSettings", err)
	}
	cfg := cdcdConfig{brokers: "k:1", registryListen: "127.0.0.1:1", name: "n", source: pgSource{snapshotMode: "initial", chunkRows: 40000},
		compression: "lz4", batchRecords: 50000}
	y := cfg.yaml()
	if !strings.Contains(y, "kafka:\n  brokers: [k:1]\n  offsets_topic: n_offsets\n  compression: lz4\nregistry:") ||
		!strings.Contains(y, "    max_batch_records: 50000\n    type: postgres\n") || !strings.Contains(y, "      snapshot_chunk_rows: 40000\n") {
		t.Errorf("config without the codec or the batch size:\n%s", y)
	}
	cfg.compression, cfg.batchRecords = "", 0
	if y := cfg.yaml(); strings.Contains(y, "compression") || strings.Contains(y, "max_batch_records") {
		t.Errorf("config with cdcd's defaults names them:\n%s", y)
	}
}

// pprofTraces is the shape of go tool pprof -traces: a header, then stacks, leaf first, each
// headed by its samples' time.
const pprofTraces = `File: cdcd
Type: cpu
Duration: 2s, Total samples = 100ms ( 5%)
-----------+-------------------------------------------------------
      40ms   github.com/cdcd-dev/cdcd/decoder.binInt
             github.com/cdcd-dev/cdcd/decoder.(*PGDecoder).decodeFields
             github.com/cdcd-dev/cdcd/connectors/postgres.readKeyset.func1
-----------+-------------------------------------------------------
      20ms   runtime.memmove
             github.com/klauspost/compress/s2.encodeBlockSnappy
             github.com/twmb/franz-go/pkg/kgo.(*recBuf).bufferRecord
-----------+-------------------------------------------------------
      10ms   runtime.scanObject
             runtime.gcDrain
             runtime.gcAssistAlloc
             runtime.mallocgc
             github.com/cdcd-dev/cdcd/format/avro.(*Encoder).encode
-----------+-------------------------------------------------------
      20ms   runtime.mallocgc
             github.com/cdcd-dev/cdcd/format/avro.(*Encoder).encode (inline)
             github.com/cdcd-dev/cdcd/pipeline.(*encodeStage).record
-----------+-------------------------------------------------------
      10ms   runtime.futex
             runtime.findRunnable
             runtime.schedule
-----------+-------------------------------------------------------
`

// TestClassifyTraces checks the split of a profile into steps: the leaf-most frame that
// belongs to a step names it, the collector's work is GC wherever it runs.
func TestClassifyTraces(t *testing.T) {
	steps, err := classifyTraces([]byte(pprofTraces))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"decode": 0.4, "compression": 0.2, "GC": 0.1, "encode": 0.2, "other": 0.1}
	var sum float64
	for _, st := range steps {
		sum += st.share
		if math.Abs(st.share-want[st.name]) > 1e-9 {
			t.Errorf("step %s: share %v, want %v", st.name, st.share, want[st.name])
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("the shares add up to %v, want 1", sum)
	}
	if _, err := classifyTraces([]byte("File: cdcd\n")); err == nil {
		t.Error("a profile without samples: no error")
	}
}
