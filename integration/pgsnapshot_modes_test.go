package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/jackc/pglogrepl"
	"github.com/rs/zerolog"
)

// logBuffer is a zerolog writer that tests can read while a Stream writes to it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// readPGSnapshot reads one whole snapshot from s: the ids read (op r), their markers, and the
// final Commit position (the plain streaming one).
func readPGSnapshot(t *testing.T, s *pgStream) (ids []int64, markers []string, end offsets.Position) {
	t.Helper()
	for {
		ev := s.next(t)
		switch ev.Kind {
		case connectors.EventChange:
			if ev.Change.Op != decoder.OpRead {
				t.Fatalf("a streamed %s inside the snapshot", ev.Change.Op)
			}
			ids = append(ids, ev.Change.After[0].Int)
			markers = append(markers, ev.Change.Source.Snapshot.String())
		case connectors.EventCommit:
			if !strings.Contains(string(ev.Position.Source), `"snapshot"`) {
				return ids, markers, ev.Position
			}
		}
	}
}

// nextPGChange returns the next change and the Commit position of its transaction.
func nextPGChange(t *testing.T, s *pgStream) (string, offsets.Position) {
	t.Helper()
	var got string
	for {
		ev := s.next(t)
		switch ev.Kind {
		case connectors.EventChange:
			got = describe(t, ev)
		case connectors.EventCommit:
			if got != "" {
				return got, ev.Position
			}
		}
	}
}

func checkPGSnapshot(t *testing.T, ids []int64, markers []string, want []int64) {
	t.Helper()
	slices.Sort(ids)
	if !slices.Equal(ids, want) {
		t.Errorf("snapshot read %d rows %v, want %d rows", len(ids), ids, len(want))
	}
	if len(markers) < 2 || markers[0] != "first" || markers[len(markers)-1] != "last" {
		t.Fatalf("snapshot markers %v", markers)
	}
	for _, m := range markers[1 : len(markers)-1] {
		if m != "true" {
			t.Fatalf("snapshot markers %v", markers)
		}
	}
}

func seq(from, to int64, more ...int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return append(out, more...)
}

// TestPGSnapshotModesAfterSlotDropped stores a streaming position, drops the slot, and restarts:
// initial fails with ErrPositionReleased, when_needed warns and snapshots again, then streams;
// always snapshots again at a new Source's start but not at a retry of the same Source.
func TestPGSnapshotModesAfterSlotDropped(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO t SELECT g, g FROM generate_series(1, 50) g`)
	cfg := pgSourceConfig(t, db, "public.t")
	cfg.SnapshotMode = postgres.SnapshotInitial
	cfg.SnapshotChunkRows = 20

	// A first run: the snapshot, then one streamed insert, whose commit is the stored position.
	s := startPGStream(t, openPGSource(t, cfg), offsets.Position{})
	ids, markers, _ := readPGSnapshot(t, s)
	checkPGSnapshot(t, ids, markers, seq(1, 50))
	mustExec(t, conn, "INSERT INTO t VALUES (1001, 1)")
	got, stored := nextPGChange(t, s)
	if got != "c t 1001" {
		t.Fatalf("streamed %s, want c t 1001", got)
	}
	if err := s.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream returned %v", err)
	}
	waitSlotInactive(t, conn, cfg.Slot)
	mustExec(t, conn, fmt.Sprintf("SELECT pg_drop_replication_slot('%s')", cfg.Slot))

	// initial: the stored position cannot be resumed, and the source says so.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := openPGSource(t, cfg).Stream(ctx, stored, connectors.NewQueue(16, pipeline.DefaultEventBufferBytes))
	if !errors.Is(err, postgres.ErrPositionReleased) || postgres.IsRetryable(err) {
		t.Fatalf("initial after the slot was dropped: Stream = %v, want the permanent ErrPositionReleased", err)
	}

	// when_needed: a warning naming the slot and the stored position, a whole snapshot, then
	// streaming.
	logs := &logBuffer{}
	cfg.SnapshotMode = postgres.SnapshotWhenNeeded
	cfg.Logger = zerolog.New(logs)
	s = startPGStream(t, openPGSource(t, cfg), stored)
	ids, markers, end := readPGSnapshot(t, s)
	checkPGSnapshot(t, ids, markers, seq(1, 50, 1001))
	endLSN, err1 := pglogrepl.ParseLSN(lsnOf(t, end))
	storedLSN, err2 := pglogrepl.ParseLSN(lsnOf(t, stored))
	if err1 != nil || err2 != nil || endLSN <= storedLSN {
		t.Errorf("the new snapshot ends at %s, not past the stored %s (%v, %v)", end, stored, err1, err2)
	}
	lost := stored
	mustExec(t, conn, "INSERT INTO t VALUES (1002, 1)")
	if got, stored = nextPGChange(t, s); got != "c t 1002" {
		t.Fatalf("streamed %s after the new snapshot, want c t 1002", got)
	}
	var warning string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"level":"warn"`) {
			warning = line
		}
	}
	for _, want := range []string{cfg.Slot, lsnOf(t, lost), "does not exist", "snapshotting again"} {
		if !strings.Contains(warning, want) {
			t.Errorf("warning %q does not say %q", warning, want)
		}
	}
	if err := s.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream returned %v", err)
	}
	waitSlotInactive(t, conn, cfg.Slot)

	// always: a new Source (a new start of the connector) snapshots although the position is
	// resumable; a second Stream of the same Source from the snapshot's end streams.
	cfg.SnapshotMode = postgres.SnapshotAlways
	cfg.Logger = zerolog.Nop()
	src := openPGSource(t, cfg)
	s = startPGStream(t, src, stored)
	ids, markers, end = readPGSnapshot(t, s)
	checkPGSnapshot(t, ids, markers, seq(1, 50, 1001, 1002))
	if err := s.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream returned %v", err)
	}
	waitSlotInactive(t, conn, cfg.Slot)
	s = startPGStream(t, src, end)
	mustExec(t, conn, "INSERT INTO t VALUES (1003, 1)")
	if got, _ := nextPGChange(t, s); got != "c t 1003" {
		t.Fatalf("a retry of the same always Source sent %s first, want the streamed c t 1003", got)
	}
}
