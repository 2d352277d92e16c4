package integration

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
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
	standby := newPhysicalStandby(t, pg)
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
	standby.createSlot(t, conn)
	pg.Set(t, "synchronized_standby_slots", standby.slot)
	standby.start(t, "hot_standby_feedback=on", "sync_replication_slots=on", "synchronized_standby_slots=")

	c := NewPostgresConnector(t, db, "public.counters")
	c.Extra = []string{"hosts: [" + standby.addr + "]"}
	cdcd := StartCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
	both := &PostgresDB{Name: db.Name, addr: pg.Addr() + "," + standby.addr}
	writer := startReconnectingWriterDSN(t, both.dsn(db.Name, "&target_session_attrs=read-write"))
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	records := collectWhileRunning(t, cdcd, consumer, 300)

	waitSlotSynced(t, standby.db(db), c.Name)
	records = append(records, collectWhileRunning(t, cdcd, consumer, 300)...)

	pid := standby.killPrimary(t)
	standby.promote(t)
	t.Logf("primary (pid %d) killed, standby %s promoted", pid, standby.addr)
	db.addr = standby.addr
	records = append(records, collectWhileRunning(t, cdcd, consumer, 300)...)
	writer.stop(t)
	checkCountersInTable(t, db, consumer, records, "a promotion")
	cdcd.Stop(time.Minute)
}

// waitSlotSynced waits until the standby (its copy of the database, standby) holds a
// synchronised and persisted copy of slot.
func waitSlotSynced(t *testing.T, standby *PostgresDB, slot string) {
	t.Helper()
	WaitFor(t, 2*time.Minute, "the slot synchronised to the standby", func() error {
		sconn, err := pgx.Connect(t.Context(), standby.DSN())
		if err != nil {
			return err
		}
		defer func() { _ = sconn.Close(context.Background()) }()
		var synced bool
		if err := sconn.QueryRow(t.Context(), `SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&synced); err != nil {
			return err
		}
		if !synced {
			// A synchronised slot stays temporary, and a promotion drops it, until the
			// standby has caught up with the primary's copy.
			return errors.New("not synced (and persisted) yet")
		}
		return nil
	})
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
