package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/offsets"
)

// TestMySQLSnapshotChunkBytes snapshots a table of 256 KiB rows with snapshot_chunk_bytes at
// 2 MiB: every row once, each chunk (one source transaction) within the budget. The rows and
// constants are those of TestPGSnapshotChunkBytes.
func TestMySQLSnapshotChunkBytes(t *testing.T) {
	m := NewMariaDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := m.DB.ExecContext(ctx, "CREATE TABLE wide (id INT PRIMARY KEY, v LONGTEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= wideRows; id++ {
		if _, err := m.DB.ExecContext(ctx, "INSERT INTO wide VALUES (?, REPEAT(MD5(?), 8192))", id, id); err != nil {
			t.Fatalf("insert %d: %v", id, err)
		}
	}
	cfg := mysqlSourceConfig(t, m, m.Name+".wide")
	cfg.SnapshotChunkBytes = wideBudget
	src, err := mysql.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	out, q := EventChan(sctx, 4)
	done := make(chan error, 1)
	go func() { done <- src.Stream(sctx, offsets.Position{}, q) }()

	w := &wideSnapshot{seen: map[int64]int{}}
	w.read(t, func() connectors.Event {
		select {
		case ev := <-out:
			return ev
		case err := <-done:
			t.Fatalf("the stream ended during the snapshot: %v; %d chunks", err, len(w.chunks))
			return connectors.Event{}
		}
	})
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the stream stopped with %v, want context.Canceled", err)
	}
	w.check(t)
}
