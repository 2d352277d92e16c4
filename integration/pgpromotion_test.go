package integration

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
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
//
// Each moment of promotionMoments kills the primary at another point, on servers of its own:
// `make test` runs the default ones, the chaos build tag every one, and
// CDCD_PROMOTION_MOMENTS (names separated by commas, or "all") chooses.
func TestPostgresPromotionExactlyOnce(t *testing.T) {
	for _, m := range chosenPromotionMoments(t) {
		t.Run(m.name, func(t *testing.T) { runPromotion(t, m) })
	}
}

// promotionRig is what a promotion moment acts on.
type promotionRig struct {
	pg      *PrivatePostgres
	standby *physicalStandby
	db      *PostgresDB
	cdcd    *CDCD
}

// promotionMoment kills the primary (and perhaps more) at one moment and promotes the standby;
// kill returns the cdcd that runs after it.
type promotionMoment struct {
	name string
	kill func(t *testing.T, r *promotionRig) *CDCD
}

// promotionMoments are the moments the primary is killed at.
var promotionMoments = []promotionMoment{
	// Under the workload's load, at whatever point cdcd is.
	{"under_load", func(t *testing.T, r *promotionRig) *CDCD {
		r.standby.killPrimary(t)
		r.standby.promote(t)
		return r.cdcd
	}},
	// In the middle of one large transaction (4,000 changes) that cdcd reads and writes to
	// Kafka: killed as soon as the standby has replayed its commit, which is when the
	// primary's walsender (held by synchronized_standby_slots) may start sending it to cdcd.
	{"mid_transaction", func(t *testing.T, r *promotionRig) *CDCD {
		conn := r.db.Conn(t)
		// The table lock first: the workload's transactions then wait instead of deadlocking
		// with the 200 updates of every row.
		tx, err := conn.Begin(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(t.Context(), `LOCK TABLE counters IN EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		for range 200 {
			if _, err := tx.Exec(t.Context(), `UPDATE counters SET v = v + 1`); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
		sconn := r.standby.db(r.db).Conn(t)
		r.standby.waitReplayed(t, conn, sconn)
		r.standby.killPrimary(t)
		r.standby.promote(t)
		return r.cdcd
	}},
	// Right after a commit returns, before cdcd can have read it: the walsender waits for the
	// standby to confirm it, and the kill follows at once. The new primary may or may not
	// hold it (replication is asynchronous): Kafka must agree with it either way.
	{"commit_unread", func(t *testing.T, r *promotionRig) *CDCD {
		conn := r.db.Conn(t)
		mustExec(t, conn, `UPDATE counters SET v = v + 1 WHERE id = 1`)
		r.standby.killPrimary(t)
		r.standby.promote(t)
		return r.cdcd
	}},
	// cdcd killed with the primary, and started again only after the promotion: it resumes
	// from its committed offset on the new primary, its slot never released by a clean end.
	{"cdcd_restarting", func(t *testing.T, r *promotionRig) *CDCD {
		r.cdcd.Kill()
		r.standby.killPrimary(t)
		r.standby.promote(t)
		return r.cdcd.Restart()
	}},
}

// chosenPromotionMoments are the moments CDCD_PROMOTION_MOMENTS names ("all", or names
// separated by commas), else defaultPromotionMoments' (promotion_moments*_test.go: the chaos
// build tag runs all).
func chosenPromotionMoments(t *testing.T) []promotionMoment {
	names := os.Getenv("CDCD_PROMOTION_MOMENTS")
	if names == "" {
		names = defaultPromotionMoments
	}
	var out []promotionMoment
	for _, m := range promotionMoments {
		if names == "all" || slices.Contains(strings.Split(names, ","), m.name) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		t.Fatalf("CDCD_PROMOTION_MOMENTS=%q names no moment", names)
	}
	return out
}

// runPromotion runs the promotion test with the primary killed at moment m.
func runPromotion(t *testing.T, m promotionMoment) {
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

	rig := &promotionRig{pg: pg, standby: standby, db: db, cdcd: cdcd}
	cdcd = m.kill(t, rig)
	t.Logf("primary killed (%s), standby %s promoted", m.name, standby.addr)
	db.addr = standby.addr
	records = append(records, collectWhileRunning(t, cdcd, consumer, 300)...)
	writer.stop(t)
	checkCountersInTable(t, db, consumer, records, "a promotion ("+m.name+")")
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
