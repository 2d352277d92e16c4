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

// TestPostgresPromotionExactlyOnce runs a private PostgreSQL 18 primary and a physical standby
// streaming from it on loopback (its own physical slot, hot_standby_feedback,
// sync_replication_slots; the primary's synchronized_standby_slots names the standby's slot),
// and a connector whose host is the primary and whose postgres.hosts names the standby. While
// the counters workload writes through a connection string of both servers, the primary's
// postmaster is killed with SIGKILL once the connector's failover slot is synchronised to the
// standby, and the standby is promoted. The connector must go on from the synchronised slot on
// the new primary, and every change the new primary holds must arrive exactly once, in per-key
// order, and none it does not hold (the oracle sums the new primary's counters).
func TestPostgresPromotionExactlyOnce(t *testing.T) {
	pg := StartPrivatePostgresVersion(t, "18")
	standbyAddr := FreeAddr(t)
	_, standbyPort, _ := strings.Cut(standbyAddr, ":")
	standbyDir := filepath.Join(pg.stack.dir, "postgres", "standby")
	var standbyStarted atomic.Bool
	// Registered before the database, so that it runs after the database's removal.
	t.Cleanup(func() {
		if standbyStarted.Load() {
			_ = pg.pgCtlOn(standbyDir, "stop", "-m", "immediate", "-w")
		}
	})
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
	mustExec(t, conn, `SELECT pg_create_physical_replication_slot('standby1', true)`)
	pg.Set(t, "synchronized_standby_slots", "standby1")

	basebackup, err := pg.binary("pg_basebackup")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(pg.Addr(), ":")
	if err := pg.stack.run(asPostgres(basebackup, "-D", standbyDir, "-R", "-S", "standby1", "-X", "stream",
		"-d", "host="+host+" port="+port+" user=postgres dbname=postgres")...); err != nil {
		t.Fatalf("pg_basebackup of the standby: %v", err)
	}
	// A standby refuses to recover with fewer WAL senders or slots than its primary has: it
	// takes the primary's (deploy/dev/postgres.sh sets them).
	var walSenders, slots string
	if err := conn.QueryRow(t.Context(), `SELECT current_setting('max_wal_senders'), current_setting('max_replication_slots')`).Scan(&walSenders, &slots); err != nil {
		t.Fatal(err)
	}
	standbyStarted.Store(true)
	if err := pg.pgCtlOn(standbyDir, "start", "-w", "-o", "-c port="+standbyPort+" -c listen_addresses=127.0.0.1"+
		" -c unix_socket_directories="+filepath.Dir(standbyDir)+" -c hot_standby_feedback=on -c sync_replication_slots=on"+
		" -c wal_level=logical -c max_replication_slots="+slots+" -c max_wal_senders="+walSenders+
		" -c primary_slot_name=standby1 -c synchronized_standby_slots="); err != nil {
		log, _ := os.ReadFile(standbyDir + ".log")
		t.Fatalf("starting the standby: %v\n%s", err, log)
	}

	c := NewPostgresConnector(t, db, "public.counters")
	c.Extra = []string{"hosts: [" + standbyAddr + "]"}
	cdcd := StartCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
	both := &PostgresDB{Name: db.Name, addr: pg.Addr() + "," + standbyAddr}
	writer := startReconnectingWriterDSN(t, both.dsn(db.Name, "&target_session_attrs=read-write"))
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	records := collectWhileRunning(t, cdcd, consumer, 300)

	standby := &PostgresDB{Name: db.Name, addr: standbyAddr}
	WaitFor(t, 2*time.Minute, "the slot synchronised to the standby", func() error {
		sconn, err := pgx.Connect(t.Context(), standby.DSN())
		if err != nil {
			return err
		}
		defer func() { _ = sconn.Close(context.Background()) }()
		var synced bool
		if err := sconn.QueryRow(t.Context(), `SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = $1`, c.Name).Scan(&synced); err != nil {
			return err
		}
		if !synced {
			// A synchronised slot stays temporary, and a promotion drops it, until the
			// standby has caught up with the primary's copy.
			return errors.New("not synced (and persisted) yet")
		}
		return nil
	})
	records = append(records, collectWhileRunning(t, cdcd, consumer, 300)...)

	pidFile, err := os.ReadFile(filepath.Join(pg.dataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatalf("reading the primary's pid: %v", err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the primary's postmaster %d: %v", pid, err)
	}
	if err := pg.pgCtlOn(standbyDir, "promote", "-w"); err != nil {
		t.Fatalf("promoting the standby: %v", err)
	}
	t.Logf("primary (pid %d) killed, standby %s promoted", pid, standbyAddr)
	db.addr = standbyAddr
	records = append(records, collectWhileRunning(t, cdcd, consumer, 300)...)
	writer.stop(t)
	checkCountersInTable(t, db, consumer, records, "a promotion")
	cdcd.Stop(time.Minute)
}

// asPostgres prefixes cmdline with runuser when we are root, as the server's programs refuse
// root (as postgres.sh runs them).
func asPostgres(cmdline ...string) []string {
	if os.Getuid() == 0 {
		return append([]string{"runuser", "-u", "postgres", "--"}, cmdline...)
	}
	return cmdline
}

// pgCtlOn runs this server version's pg_ctl on another data folder (a standby's), logging to
// a file beside it.
func (p *PrivatePostgres) pgCtlOn(dataDir string, args ...string) error {
	pgCtl, err := p.binary("pg_ctl")
	if err != nil {
		return err
	}
	return p.stack.run(asPostgres(append([]string{pgCtl, "-D", dataDir, "-l", dataDir + ".log", "-t", "120"}, args...)...)...)
}

// startReconnectingWriterDSN is startReconnectingWriter on a connection string of its own
// (several hosts, target_session_attrs), so that the workload follows a promotion.
func startReconnectingWriterDSN(t *testing.T, dsn string) *reconnectingWriter {
	t.Helper()
	w := &reconnectingWriter{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.done:
				return
			case <-t.Context().Done():
				return
			default:
			}
			conn, err := pgx.Connect(t.Context(), dsn)
			if err != nil {
				select {
				case <-w.done:
					return
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			var written atomic.Int64
			_ = writeCounters(t.Context(), pgIncrement(conn), w.done, &written)
			_ = conn.Close(context.Background())
		}
	}()
	return w
}
