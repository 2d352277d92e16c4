package integration

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// physicalStandby is a physical standby of a private PostgreSQL, streaming from it on loopback
// through a physical slot of the primary: the promotion and standby tests' second server.
type physicalStandby struct {
	primary *PrivatePostgres
	// addr is the standby's host:port; dir its data folder, beside the primary's.
	addr, dir string
	// slot is the primary's physical slot the standby streams from.
	slot    string
	started atomic.Bool
}

// newPhysicalStandby reserves a port and a data folder for a standby of primary and registers
// its stop. Call it before the test's NewDB: cleanups run last first, and a promoted standby
// must still run when the database is dropped on it.
func newPhysicalStandby(t *testing.T, primary *PrivatePostgres) *physicalStandby {
	t.Helper()
	s := &physicalStandby{primary: primary, addr: FreeAddr(t), slot: "standby1",
		dir: filepath.Join(primary.stack.dir, "postgres", "standby")}
	t.Cleanup(func() {
		if s.started.Load() {
			_ = primary.pgCtlOn(s.dir, "stop", "-m", "immediate", "-w")
		}
	})
	return s
}

// start creates the primary's physical slot, takes a base backup into the standby's folder
// (pg_basebackup -R: standby.signal, and a primary_conninfo with dbname, which slot
// synchronisation needs) and starts the standby with settings (e.g. "hot_standby_feedback=on")
// added to those every standby here needs. It returns once the standby accepts connections.
func (s *physicalStandby) start(t *testing.T, settings ...string) {
	t.Helper()
	conn := connectPostgres(t, "postgres://postgres@"+s.primary.Addr()+"/postgres?sslmode=disable")
	defer func() { _ = conn.Close(context.Background()) }()
	s.createSlot(t, conn)
	basebackup, err := s.primary.binary("pg_basebackup")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(s.primary.Addr(), ":")
	if err := s.primary.stack.run(asPostgres(basebackup, "-D", s.dir, "-R", "-S", s.slot, "-X", "stream",
		"-d", "host="+host+" port="+port+" user=postgres dbname=postgres")...); err != nil {
		t.Fatalf("pg_basebackup of the standby: %v", err)
	}
	// A standby refuses to recover with fewer WAL senders or slots than its primary has: it
	// takes the primary's (deploy/dev/postgres.sh sets them).
	var walSenders, slots string
	if err := conn.QueryRow(t.Context(), `SELECT current_setting('max_wal_senders'), current_setting('max_replication_slots')`).Scan(&walSenders, &slots); err != nil {
		t.Fatal(err)
	}
	_, standbyPort, _ := strings.Cut(s.addr, ":")
	opts := "-c port=" + standbyPort + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + filepath.Dir(s.dir) +
		" -c wal_level=logical -c max_replication_slots=" + slots + " -c max_wal_senders=" + walSenders +
		" -c primary_slot_name=" + s.slot
	for _, set := range settings {
		opts += " -c " + set
	}
	s.started.Store(true)
	if err := s.primary.pgCtlOn(s.dir, "start", "-w", "-o", opts); err != nil {
		log, _ := os.ReadFile(s.dir + ".log")
		t.Fatalf("starting the standby: %v\n%s", err, log)
	}
}

// createSlot creates the primary's physical slot for the standby on conn, a connection to the
// primary, unless it exists (a test that names it in synchronized_standby_slots creates it
// first: the setting refuses a slot that does not exist).
func (s *physicalStandby) createSlot(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	mustExec(t, conn, `SELECT pg_create_physical_replication_slot($1, true)
		WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)`, s.slot)
}

// db is the standby's copy of a database of the primary.
func (s *physicalStandby) db(of *PostgresDB) *PostgresDB {
	return &PostgresDB{Name: of.Name, addr: s.addr}
}

// waitReplayed waits until the standby has replayed the primary's WAL up to its current
// position, so that what the primary committed is visible on the standby.
func (s *physicalStandby) waitReplayed(t *testing.T, primary, standby *pgx.Conn) {
	t.Helper()
	var at string
	if err := primary.QueryRow(t.Context(), `SELECT pg_current_wal_lsn()::text`).Scan(&at); err != nil {
		t.Fatalf("reading the primary's WAL position: %v", err)
	}
	WaitFor(t, 2*time.Minute, "the standby replaying up to "+at, func() error {
		var done bool
		if err := standby.QueryRow(t.Context(), `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, at).Scan(&done); err != nil {
			return err
		}
		if !done {
			return errors.New("not yet")
		}
		return nil
	})
}

// killPrimary kills the primary's postmaster with SIGKILL (its children die with it: they
// notice their postmaster gone) and returns its pid.
func (s *physicalStandby) killPrimary(t *testing.T) int {
	t.Helper()
	pidFile, err := os.ReadFile(filepath.Join(s.primary.dataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatalf("reading the primary's pid: %v", err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the primary's postmaster %d: %v", pid, err)
	}
	return pid
}

// promote promotes the standby and returns once it accepts writes.
func (s *physicalStandby) promote(t *testing.T) {
	t.Helper()
	if err := s.primary.pgCtlOn(s.dir, "promote", "-w"); err != nil {
		t.Fatalf("promoting the standby: %v", err)
	}
}
