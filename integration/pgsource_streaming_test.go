package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/offsets"
)

// streamingConfig is a source that streams in-progress transactions as soon as they pass
// 64 kB (logical_decoding_work_mem's minimum, set for its walsender only), spilling into a
// directory of the test's own.
func streamingConfig(t *testing.T, db *PostgresDB, tables ...string) postgres.Config {
	cfg := pgSourceConfig(t, db, tables...)
	cfg.Streaming = postgres.StreamingOn
	cfg.DecodingWorkMemKB = 64
	cfg.SpillDir = t.TempDir()
	return cfg
}

// spillBytes returns how many bytes the spill files in dir hold; an error when there are none.
func spillBytes(dir string) (int64, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.spill"))
	if err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, errors.New("no spill file")
	}
	var n int64
	for _, name := range names {
		fi, err := os.Stat(name)
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// noEventYet fails the test if the stream has delivered an event.
func noEventYet(t *testing.T, s *pgStream, when string) {
	t.Helper()
	select {
	case ev := <-s.events:
		t.Fatalf("%s: event %s delivered", when, describe(t, ev))
	default:
	}
}

func idRange(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("c items %d", i))
	}
	return out
}

func sameChanges(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d changes, want %d (first %v)", what, len(got), len(want), got[:min(len(got), 5)])
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: change %d is %q, want %q", what, i, got[i], want[i])
		}
	}
}

// TestPGSourceStreamsLargeTransactionsWhole checks that a transaction the server streams while
// in progress reaches the pipeline once, whole, after its commit and in commit order; that
// ROLLBACK TO SAVEPOINT drops exactly the rows after the savepoint; and that resuming inside
// it with Skip works though the server streams it again from its start.
func TestPGSourceStreamsLargeTransactionsWhole(t *testing.T) {
	db := NewPostgresDB(t)
	big := db.Conn(t)
	small := db.Conn(t)
	mustExec(t, big, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
	cfg := streamingConfig(t, db, "public.items")
	src := openPGSource(t, cfg)
	stream := startPGStream(t, src, offsets.Position{})

	mustExec(t, big, "BEGIN")
	mustExec(t, big, "INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g")
	WaitFor(t, 30*time.Second, "the open transaction to be streamed and spilled", func() error {
		n, err := spillBytes(cfg.SpillDir)
		if err == nil && n < 100_000 {
			err = fmt.Errorf("%d bytes spilled so far", n)
		}
		return err
	})
	noEventYet(t, stream, "a streamed transaction before its commit")

	mustExec(t, small, "INSERT INTO items VALUES (100001, 'small')")
	_, smallCommit, changes := readTx(t, stream)
	sameChanges(t, "the small transaction", changes, []string{"c items 100001"})

	// Rows after the savepoint are streamed too, then rolled back.
	mustExec(t, big, "SAVEPOINT sp")
	before, err := spillBytes(cfg.SpillDir)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, big, "INSERT INTO items SELECT g, repeat('y', 100) FROM generate_series(6000, 8999) g")
	WaitFor(t, 30*time.Second, "the subtransaction's rows to be spilled", func() error {
		n, err := spillBytes(cfg.SpillDir)
		if err == nil && n < before+100_000 {
			err = fmt.Errorf("%d bytes spilled, %d before the savepoint", n, before)
		}
		return err
	})
	mustExec(t, big, "ROLLBACK TO SAVEPOINT sp")
	mustExec(t, big, "INSERT INTO items VALUES (9001, 'after the rollback')")
	noEventYet(t, stream, "a streamed transaction before its commit")
	mustExec(t, big, "COMMIT")

	begin, commit, changes := readTx(t, stream)
	want := append(idRange(1, 5000), "c items 9001")
	sameChanges(t, "the streamed transaction", changes, want)
	if lsnOf(t, begin.Position) != lsnOf(t, smallCommit.Position) || !strings.Contains(string(begin.Position.Source), `"tx"`) {
		t.Errorf("Begin position %s: want lsn %s and the transaction's commit LSN", begin.Position, smallCommit.Position)
	}
	// The file goes before the Commit event is sent.
	if n, err := spillBytes(cfg.SpillDir); err == nil {
		t.Errorf("%d bytes still spilled after the commit", n)
	}

	// Resume inside it: the server streams it again from its start; 4000 changes are skipped.
	if err := stream.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("stopping the stream: %v", err)
	}
	waitSlotInactive(t, small, cfg.Slot)
	resume := begin.Position
	resume.Skip = 4000
	again := startPGStream(t, src, resume)
	begin2, commit2, changes := readTx(t, again)
	sameChanges(t, "the resumed transaction", changes, append(idRange(4001, 5000), "c items 9001"))
	if begin2.Position.Skip != 4000 || commit2.Position.String() != commit.Position.String() {
		t.Errorf("resumed Begin %s, Commit %s; want skip 4000 and commit %s", begin2.Position, commit2.Position, commit.Position)
	}
}

// TestPGSourceStreamedRollbackDeliversNothing checks that a streamed transaction that rolls
// back delivers nothing, and leaves no spill file.
func TestPGSourceStreamedRollbackDeliversNothing(t *testing.T) {
	db := NewPostgresDB(t)
	big := db.Conn(t)
	small := db.Conn(t)
	mustExec(t, big, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
	cfg := streamingConfig(t, db, "public.items")
	src := openPGSource(t, cfg)
	stream := startPGStream(t, src, offsets.Position{})

	mustExec(t, big, "BEGIN")
	mustExec(t, big, "INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g")
	WaitFor(t, 30*time.Second, "the open transaction to be streamed and spilled", func() error {
		_, err := spillBytes(cfg.SpillDir)
		return err
	})
	mustExec(t, big, "ROLLBACK")
	mustExec(t, small, "INSERT INTO items VALUES (1, 'after')")
	_, _, changes := readTx(t, stream)
	sameChanges(t, "the transaction after the rollback", changes, []string{"c items 1"})
	noEventYet(t, stream, "after the only committed transaction")
	if n, err := spillBytes(cfg.SpillDir); err == nil {
		t.Errorf("%d bytes of spill files left after the rollback", n)
	}
}

// TestPGSourceStreamedSavepointKeepsRelation checks a table first touched inside a
// subtransaction that rolls back and then again by its parent: pgoutput described it to the
// transaction once, inside the subtransaction, so that description must outlive the rollback.
func TestPGSourceStreamedSavepointKeepsRelation(t *testing.T) {
	db := NewPostgresDB(t)
	big := db.Conn(t)
	mustExec(t, big, "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
	cfg := streamingConfig(t, db, "public.items")
	src := openPGSource(t, cfg)
	stream := startPGStream(t, src, offsets.Position{})

	mustExec(t, big, "BEGIN")
	mustExec(t, big, "SAVEPOINT sp")
	mustExec(t, big, "INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g")
	WaitFor(t, 30*time.Second, "the subtransaction to be streamed and spilled", func() error {
		_, err := spillBytes(cfg.SpillDir)
		return err
	})
	mustExec(t, big, "ROLLBACK TO SAVEPOINT sp")
	mustExec(t, big, "INSERT INTO items SELECT g, repeat('z', 100) FROM generate_series(5001, 5400) g")
	mustExec(t, big, "COMMIT")
	_, _, changes := readTx(t, stream)
	sameChanges(t, "the transaction", changes, idRange(5001, 5400))
}
