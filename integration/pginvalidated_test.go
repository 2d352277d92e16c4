package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// TestPGSnapshotModesAfterSlotInvalidated lets PostgreSQL invalidate the connector's slot
// (max_slot_wal_keep_size exceeded while the connector is away: wal_status lost). Under
// snapshot_mode initial the Stream fails for good (not retried every 30 s), with the server's
// reason and the fix; under when_needed it drops and creates the slot and snapshots again, as
// it does for a dropped slot.
func TestPGSnapshotModesAfterSlotInvalidated(t *testing.T) {
	pg := StartPrivatePostgres(t)
	pg.Set(t, "max_slot_wal_keep_size", "1MB")
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO t SELECT g, g FROM generate_series(1, 50) g;
		CREATE TABLE filler (id int, pad text)`)
	cfg := pgSourceConfig(t, db, "public.t")
	host, port, _ := net.SplitHostPort(pg.Addr())
	p, _ := strconv.ParseUint(port, 10, 16)
	cfg.Host, cfg.Port = host, uint16(p)
	cfg.SnapshotMode = postgres.SnapshotInitial

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

	// Other writes move the WAL on by whole segments until a checkpoint removes what the slot
	// needs.
	invalidateSlot(t, conn, cfg.Slot)

	// Setting an offset of it is refused, saying why.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := postgres.CheckResume(ctx, cfg, stored); !errors.Is(err, postgres.ErrNotResumable) ||
		!strings.Contains(err.Error(), "invalidated") {
		t.Errorf("CheckResume(%s) on the invalidated slot = %v, want ErrNotResumable saying it is invalidated", stored, err)
	}

	// initial: a permanent error with the server's reason and the fix.
	err := openPGSource(t, cfg).Stream(ctx, stored, connectors.NewQueue(16, pipeline.DefaultEventBufferBytes))
	if !errors.Is(err, postgres.ErrSlotInvalidated) || pipeline.IsRetryable(err) {
		t.Fatalf("initial after the slot was invalidated: Stream = %v, want the permanent ErrSlotInvalidated", err)
	}
	for _, want := range []string{cfg.Slot, "wal_status lost", "maximum reserved size", "max_slot_wal_keep_size (1MB)",
		"when_needed", "pg_drop_replication_slot"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// when_needed: a warning, a whole snapshot on a new slot, then streaming.
	logs := &logBuffer{}
	cfg.SnapshotMode = postgres.SnapshotWhenNeeded
	cfg.Logger = zerolog.New(logs)
	s = startPGStream(t, openPGSource(t, cfg), stored)
	ids, markers, _ = readPGSnapshot(t, s)
	checkPGSnapshot(t, ids, markers, seq(1, 50, 1001))
	mustExec(t, conn, "INSERT INTO t VALUES (1002, 1)")
	if got, _ := nextPGChange(t, s); got != "c t 1002" {
		t.Fatalf("streamed %s after the new snapshot, want c t 1002", got)
	}
	if !strings.Contains(logs.String(), "invalidated") || !strings.Contains(logs.String(), "snapshotting again") {
		t.Errorf("no warning says the slot was invalidated and the tables are snapshotted again:\n%s", logs)
	}
	if err := s.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stream returned %v", err)
	}
	var status string
	if err := conn.QueryRow(t.Context(), `SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1`,
		cfg.Slot).Scan(&status); err != nil || status == "lost" {
		t.Errorf("the slot after the new snapshot: wal_status %q, %v", status, err)
	}
}

// TestPostgresInvalidatedSlotFailsTheConnector lets PostgreSQL invalidate the slot of a
// running connector (a transaction left open holds the slot's restart point back while other
// writes pass max_slot_wal_keep_size; the server ends the walsender). The connector must stop
// FAILED, saying why and what to do, rather than retry every 30 s while its status says
// RUNNING; with the API off, cdcd then exits.
func TestPostgresInvalidatedSlotFailsTheConnector(t *testing.T) {
	pg := StartPrivatePostgres(t)
	pg.Set(t, "max_slot_wal_keep_size", "1MB")
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL); CREATE TABLE filler (id int, pad text)`)
	c := NewPostgresConnector(t, db, "public.t")
	cdcd := StartCDCD(t, c.Config())
	waitSlotActive(t, cdcd, db, c.Name)
	mustExec(t, conn, "INSERT INTO t VALUES (1, 1)")
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("t"))
	consumer.Collect(t, 1, 2*time.Minute)

	blocker := db.Conn(t)
	mustExec(t, blocker, "BEGIN; INSERT INTO filler VALUES (0, 'held open')")
	invalidateSlot(t, conn, c.Name)
	mustExec(t, blocker, "ROLLBACK")

	if code := cdcd.Wait(2 * time.Minute); code == 0 {
		t.Errorf("cdcd exited with code 0 after its connector's slot was invalidated")
	}
	logs := cdcd.Logs()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"message":"connector stopped"`) {
			t.Logf("%s", line)
		}
	}
	for _, want := range []string{"replication slot invalidated", c.Name, "maximum reserved size", "when_needed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q:\n%s", want, logs)
		}
	}
}

// invalidateSlot writes to the table filler (id int, pad text) on conn and moves the WAL on by
// whole segments, with a checkpoint after each, until the server has invalidated slot (its
// wal_status lost). The server's max_slot_wal_keep_size must be small, and the slot's restart
// point held back: its connector away, or a transaction left open.
func invalidateSlot(t *testing.T, conn *pgx.Conn, slot string) {
	t.Helper()
	WaitFor(t, 2*time.Minute, "slot "+slot+" to be invalidated", func() error {
		mustExec(t, conn, `INSERT INTO filler SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g`)
		mustExec(t, conn, `SELECT pg_switch_wal()`)
		mustExec(t, conn, `CHECKPOINT`)
		var status string
		if err := conn.QueryRow(t.Context(), `SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1`,
			slot).Scan(&status); err != nil {
			return err
		}
		if status != "lost" {
			return fmt.Errorf("wal_status is %q", status)
		}
		return nil
	})
}
