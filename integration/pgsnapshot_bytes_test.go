package integration

import (
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
)

// Wide rows for the byte-budget tests: 300 rows of 256 KiB each (75 MiB decoded; the values
// repeat, so the servers store them compressed or at least cheaply), read with chunks of at most
// 2 MiB. Without the budget, the default 10 000-row limit reads the table in one chunk.
const (
	wideRows     = 300
	wideRowBytes = 32 * 8192 // md5 hex, 8192 times
	wideBudget   = 2 << 20
	// wideMaxChunk is the most rows a chunk within the budget can hold.
	wideMaxChunk = wideBudget / wideRowBytes
)

// wideSnapshot counts what one snapshot of a wide table delivered.
type wideSnapshot struct {
	// seen counts each id's reads; chunks holds the rows of each transaction with reads.
	seen   map[int64]int
	chunks []int
}

// add records the reads of one source transaction; a row of another size fails. Transactions
// without reads (MySQL's schema history) are not chunks.
func (w *wideSnapshot) add(t *testing.T, rows []*decoder.Change) {
	t.Helper()
	if len(rows) == 0 {
		return
	}
	for _, ch := range rows {
		if n := len(ch.After[1].Bytes); n != wideRowBytes {
			t.Fatalf("row %d holds %d bytes, want %d", ch.After[0].Int, n, wideRowBytes)
		}
		w.seen[ch.After[0].Int]++
	}
	w.chunks = append(w.chunks, len(rows))
}

// check asserts that every row came exactly once, in chunks within the budget.
// read takes the events next returns until the snapshot's last chunk, adding each chunk's rows.
func (w *wideSnapshot) read(t *testing.T, next func() connectors.Event) {
	t.Helper()
	var rows []*decoder.Change
	for last := false; ; {
		ev := next()
		switch ev.Kind {
		case connectors.EventCommit:
			w.add(t, rows)
			if last {
				return
			}
		case connectors.EventChange:
			if ev.Change.Op != decoder.OpRead {
				t.Fatalf("a %s change during the snapshot", ev.Change.Op)
			}
			rows = append(rows, ev.Change)
			last = ev.Change.Source.Snapshot == decoder.SnapshotLast
		default:
			rows = rows[:0]
		}
	}
}

func (w *wideSnapshot) check(t *testing.T) {
	t.Helper()
	for id := int64(1); id <= wideRows; id++ {
		if w.seen[id] != 1 {
			t.Errorf("row %d read %d times, want once", id, w.seen[id])
		}
	}
	if len(w.seen) != wideRows {
		t.Errorf("%d distinct rows read, want %d", len(w.seen), wideRows)
	}
	for i, n := range w.chunks {
		if n > wideMaxChunk {
			t.Errorf("chunk %d holds %d rows of %d bytes: over the %d-byte budget", i, n, wideRowBytes, wideBudget)
		}
	}
	if min := wideRows / wideMaxChunk; len(w.chunks) < min {
		t.Errorf("%d chunks, want at least %d: %v", len(w.chunks), min, w.chunks)
	}
	t.Logf("%d chunks: %v", len(w.chunks), w.chunks)
}

// TestPGSnapshotChunkBytes snapshots a table of 256 KiB rows with snapshot_chunk_bytes at 2 MiB,
// with one connection and with the parallel reader: every row once, each chunk (one source
// transaction) within the budget.
func TestPGSnapshotChunkBytes(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE wide (id int PRIMARY KEY, v text NOT NULL);
		INSERT INTO wide SELECT g, repeat(md5(g::text), 8192) FROM generate_series(1, 300) g`)
	for _, threads := range []int{1, 2} {
		t.Run(map[int]string{1: "serial", 2: "parallel"}[threads], func(t *testing.T) {
			cfg := pgSourceConfig(t, db, "public.wide")
			cfg.SnapshotMode = postgres.SnapshotInitial
			cfg.SnapshotMaxThreads = threads
			cfg.SnapshotChunkBytes = wideBudget
			src := openPGSource(t, cfg)
			s := startPGStream(t, src, offsets.Position{})
			w := &wideSnapshot{seen: map[int64]int{}}
			deadline := time.Now().Add(30 * time.Second)
			w.read(t, func() connectors.Event {
				if time.Now().After(deadline) {
					t.Fatalf("the snapshot did not end within 30s: %d chunks", len(w.chunks))
				}
				return s.next(t)
			})
			w.check(t)
		})
	}
}
