package integration

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// mysqlSnapshotOf reads the snapshot among evs: the ids read (op r) and their markers, and the
// Commit position of the snapshot's last chunk (the first one without snapshot progress after
// a row). It fails the test on a streamed change inside the snapshot.
func mysqlSnapshotOf(t *testing.T, evs []connectors.Event) (ids []int64, markers []string, end offsets.Position) {
	t.Helper()
	for _, ev := range evs {
		switch ev.Kind {
		case connectors.EventChange:
			if ev.Change.Op != decoder.OpRead {
				t.Fatalf("a streamed %s inside the snapshot", describe(t, ev))
			}
			ids = append(ids, ev.Change.After[0].Int)
			markers = append(markers, ev.Change.Source.Snapshot.String())
		case connectors.EventCommit:
			if len(ids) > 0 && !strings.Contains(string(ev.Position.Source), `"snapshot"`) {
				return ids, markers, ev.Position
			}
		}
	}
	t.Fatalf("no end of the snapshot among %d events (%d rows read)", len(evs), len(ids))
	return nil, nil, offsets.Position{}
}

// streamedOne streams from from until one transaction, which must hold exactly the change want
// ("c t 1001"), and returns its Commit position.
func streamedOne(t *testing.T, src *mysql.Source, from offsets.Position, want string) offsets.Position {
	t.Helper()
	evs, err := streamUntil(t, src, from, 1)
	if err != nil {
		t.Fatalf("Stream from %s: %v", from, err)
	}
	var got []string
	for _, ev := range evs {
		if ev.Kind == connectors.EventChange {
			got = append(got, describe(t, ev))
		}
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("streamed %v from %s, want %s", got, from, want)
	}
	return evs[len(evs)-1].Position
}

// gtidsOf returns a stored position's GTIDs.
func gtidsOf(t *testing.T, pos offsets.Position) string {
	t.Helper()
	var p struct {
		GTIDs string `json:"gtids"`
	}
	if err := json.Unmarshal(pos.Source, &p); err != nil || p.GTIDs == "" {
		t.Fatalf("position %s has no gtids: %v", pos, err)
	}
	return p.GTIDs
}

// purgeBinlogs rotates the binary log and purges every older one: what the server keeps starts
// after everything written so far. A binary log another test's replica is reading cannot be
// purged yet, so the purge is tried again until the oldest log is the new one.
func purgeBinlogs(t *testing.T, db *sql.DB) {
	t.Helper()
	mustExecMySQL(t, db, "FLUSH BINARY LOGS")
	var current string
	var pos uint64
	var rest [2]sql.NullString
	if err := db.QueryRowContext(t.Context(), "SHOW MASTER STATUS").Scan(&current, &pos, &rest[0], &rest[1]); err != nil {
		t.Fatalf("SHOW MASTER STATUS: %v", err)
	}
	WaitFor(t, time.Minute, "the binary logs before "+current+" to be purged", func() error {
		if _, err := db.ExecContext(t.Context(), "PURGE BINARY LOGS TO '"+current+"'"); err != nil {
			return err
		}
		var oldest string
		var size, enc sql.RawBytes
		rows, err := db.QueryContext(t.Context(), "SHOW BINARY LOGS")
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		cols, _ := rows.Columns()
		if !rows.Next() {
			return fmt.Errorf("SHOW BINARY LOGS is empty: %v", rows.Err())
		}
		dest := []any{&oldest, &size, &enc}[:len(cols)]
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if oldest != current {
			return fmt.Errorf("the oldest binary log is %s", oldest)
		}
		return nil
	})
}

// TestMySQLSnapshotModesAfterBinlogsPurged stores a streaming position, writes more, purges the
// binary logs that hold it, and restarts: initial fails with ErrPositionPurged naming the
// position, when_needed warns and snapshots again, then streams; always snapshots again at a
// new Source's start but not at a retry of the same Source.
func TestMySQLSnapshotModesAfterBinlogsPurged(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)")
	mustExecMySQL(t, m.DB, "INSERT INTO t SELECT seq, seq FROM seq_1_to_50")
	cfg := mysqlSourceConfig(t, m, m.Name+".t")
	cfg.SnapshotMode = mysql.SnapshotInitial
	cfg.SnapshotChunkRows = 20
	w := newHistoryWriter(t)
	open := func() *mysql.Source {
		t.Helper()
		src, err := mysql.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return src
	}
	// snapshotRun streams from from until the schema record's and the chunks' commits (rows
	// rows in chunks of 20), commits the history records as the pipeline would, and checks the
	// snapshot.
	snapshotRun := func(src *mysql.Source, from offsets.Position, want []int64) offsets.Position {
		t.Helper()
		evs, err := streamUntil(t, src, from, 1+(len(want)+19)/20)
		if err != nil {
			t.Fatalf("Stream from %s: %v", from, err)
		}
		w.write(t.Context(), evs, kgo.TryCommit)
		ids, markers, end := mysqlSnapshotOf(t, evs)
		checkPGSnapshot(t, ids, markers, want)
		return end
	}

	// A first run: the snapshot, then one streamed insert, whose commit is the stored position.
	src := open()
	end := snapshotRun(src, offsets.Position{}, seq(1, 50))
	mustExecMySQL(t, m.DB, "INSERT INTO t VALUES (1001, 1)")
	stored := streamedOne(t, src, end, "c t 1001")

	// More writes, then the binary logs up to them are purged: the stored position's are gone.
	mustExecMySQL(t, m.DB, "INSERT INTO t VALUES (1002, 1)")
	purgeBinlogs(t, m.DB)

	// initial: the stored position cannot be resumed, and the source says so.
	_, err := streamUntil(t, open(), stored, 1)
	if !errors.Is(err, mysql.ErrPositionPurged) || mysql.IsRetryable(err) {
		t.Fatalf("initial after the purge: Stream = %v, want the permanent ErrPositionPurged", err)
	}
	t.Logf("initial: %v", err)
	for _, want := range []string{gtidsOf(t, stored), "purged", "when_needed", "reset"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// when_needed: a warning naming the stored position and what the server has, a whole
	// snapshot, then streaming.
	logs := &logBuffer{}
	cfg.SnapshotMode = mysql.SnapshotWhenNeeded
	cfg.Logger = zerolog.New(logs)
	src = open()
	end = snapshotRun(src, stored, seq(1, 50, 1001, 1002))
	if gtidsOf(t, end) == gtidsOf(t, stored) {
		t.Errorf("the new snapshot is at the stored position %s", end)
	}
	var warning string
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, `"level":"warn"`) {
			warning = line
		}
	}
	t.Logf("when_needed: %s", warning)
	for _, want := range []string{gtidsOf(t, stored), "purged", "oldest binary log", "snapshotting again", "when_needed"} {
		if !strings.Contains(warning, want) {
			t.Errorf("warning %q does not say %q", warning, want)
		}
	}
	mustExecMySQL(t, m.DB, "INSERT INTO t VALUES (1003, 1)")
	stored = streamedOne(t, src, end, "c t 1003")

	// always: a new Source (a new start of the connector) snapshots although the position is
	// resumable; a second Stream of the same Source from the snapshot's end streams.
	cfg.SnapshotMode = mysql.SnapshotAlways
	cfg.Logger = zerolog.Nop()
	src = open()
	end = snapshotRun(src, stored, seq(1, 50, 1001, 1002, 1003))
	mustExecMySQL(t, m.DB, "INSERT INTO t VALUES (1004, 1)")
	streamedOne(t, src, end, "c t 1004")

	// initial_only: a new start snapshots, then Stream streams nothing and waits for its
	// context.
	cfg.SnapshotMode = mysql.SnapshotInitialOnly
	src = open()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, q := EventChan(ctx, 64)
	done := make(chan error, 1)
	go func() { done <- src.Stream(ctx, offsets.Position{}, q) }()
	var evs []connectors.Event
	for commits := 0; commits < 1+(54+19)/20; {
		select {
		case ev := <-out:
			evs = append(evs, ev)
			if ev.Kind == connectors.EventCommit {
				commits++
			}
		case err := <-done:
			t.Fatalf("initial_only: Stream ended during the snapshot: %v", err)
		}
	}
	ids, markers, _ := mysqlSnapshotOf(t, evs)
	checkPGSnapshot(t, ids, markers, seq(1, 50, 1001, 1002, 1003, 1004))
	mustExecMySQL(t, m.DB, "INSERT INTO t VALUES (1005, 1)")
	select {
	case err := <-done:
		t.Fatalf("initial_only: Stream ended after the snapshot: %v", err)
	default:
	}
	if ok, err := registeredReplica(t, m.DB, mysql.DefaultServerID(cfg.Name)); ok || err != nil {
		t.Errorf("initial_only: a binlog dump is open after the snapshot (%t, %v)", ok, err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || len(out) != 0 {
		t.Errorf("initial_only after its snapshot: Stream = %v with %d more events, want context.Canceled and none", err, len(out))
	}
}
