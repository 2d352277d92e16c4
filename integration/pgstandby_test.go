package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// standbyKills is how many times TestPostgresStandbyExactlyOnce kills cdcd.
const standbyKills = 3

// TestPostgresStandbyExactlyOnce runs a connector on a hot standby (a private PostgreSQL 18
// primary and its physical standby on loopback; decoding on a standby exists since 16), its
// heartbeats written on the primary (postgres.heartbeat_host). First with
// hot_standby_feedback off on the standby: the connector must refuse to start, naming the
// setting. Then, the setting on, cdcd creates its slot on the standby and snapshots there; the
// counters workload writes on the primary while cdcd is killed with SIGKILL a few times: every
// change the primary committed arrives exactly once, in per-key order. Last, the captured
// table idle while another is written on the primary, the standby's slot must move past the
// primary's WAL position thanks to the heartbeats alone.
func TestPostgresStandbyExactlyOnce(t *testing.T) {
	pg := StartPrivatePostgresVersion(t, "18")
	standby := newPhysicalStandby(t, pg)
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL);
		CREATE TABLE noise (id bigserial PRIMARY KEY, pad text)`)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
	c := NewPostgresConnector(t, db, "public.counters")
	// A standby is read-only: the publication is the primary's, replicated.
	mustExec(t, conn, fmt.Sprintf(`CREATE PUBLICATION %s FOR TABLE counters`, c.Name))
	// Without hot_standby_feedback on the command line, so that ALTER SYSTEM can turn it on.
	standby.start(t)
	sdb := standby.db(db)
	sconn := sdb.Conn(t)
	mustExec(t, sconn, `ALTER SYSTEM SET hot_standby_feedback = off`)
	mustExec(t, sconn, `SELECT pg_reload_conf()`)

	onStandby := *c
	onStandby.DB = sdb
	onStandby.Extra = []string{"heartbeat_interval: 1s", "heartbeat_host: " + pg.Addr()}
	cdcd := StartCDCD(t, onStandby.Config())
	WaitFor(t, 2*time.Minute, "the connector refusing hot_standby_feedback off", func() error {
		if !cdcd.LogsContain("hot_standby_feedback") {
			return fmt.Errorf("not refused yet")
		}
		return nil
	})
	cdcd.Kill()
	mustExec(t, sconn, `ALTER SYSTEM SET hot_standby_feedback = on`)
	mustExec(t, sconn, `SELECT pg_reload_conf()`)
	WaitFor(t, time.Minute, "hot_standby_feedback on", func() error {
		var on string
		c := sdb.Conn(t)
		defer func() { _ = c.Close(context.Background()) }()
		if err := c.QueryRow(t.Context(), `SHOW hot_standby_feedback`).Scan(&on); err != nil {
			return err
		}
		if on != "on" {
			return fmt.Errorf("is %s", on)
		}
		return nil
	})

	// The workload runs from before the slot exists: the slot's creation on the standby waits
	// for running-xacts records with transactions running, and the snapshot it exports must
	// match its consistent point exactly.
	writer := startReconnectingWriter(t, db)
	cdcd = cdcd.Restart()
	onStandby.WaitStreaming(t, sconn)
	if !cdcd.LogsContain("the server is a hot standby") {
		t.Errorf("the log does not say the server is a standby:\n%s", cdcd.Logs())
	}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	var records []ChangeRecord
	for range standbyKills {
		records = append(records, collectWhileRunning(t, cdcd, consumer, 300+rand.IntN(700))...)
		cdcd.Kill()
		cdcd = cdcd.Restart()
	}
	records = append(records, collectWhileRunning(t, cdcd, consumer, 1000)...)
	writer.stop(t)
	standby.waitReplayed(t, conn, sconn)
	checkCountersFromSnapshot(t, db, consumer, records, fmt.Sprintf("%d SIGKILLs of cdcd on a standby", standbyKills))

	var onPrimary int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, c.Name).Scan(&onPrimary); err != nil {
		t.Fatal(err)
	}
	if onPrimary != 0 {
		t.Errorf("slot %s exists on the primary: it should exist on the standby only", c.Name)
	}

	// Idle: only an uncaptured table is written on the primary. The standby's slot decodes
	// nothing of it; only the heartbeats, written on the primary and replayed, carry its
	// confirmed position past the primary's WAL position.
	mustExec(t, conn, `INSERT INTO noise (pad) SELECT repeat(md5(random()::text), 32) FROM generate_series(1, 2000)`)
	var target string
	if err := conn.QueryRow(t.Context(), `SELECT pg_current_wal_lsn()::text`).Scan(&target); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 2*time.Minute, "the standby's slot confirmed past "+target, func() error {
		if cdcd.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
		}
		var confirmed string
		var past bool
		err := sconn.QueryRow(t.Context(), `SELECT confirmed_flush_lsn::text, confirmed_flush_lsn >= $2::pg_lsn
			FROM pg_replication_slots WHERE slot_name = $1`, c.Name, target).Scan(&confirmed, &past)
		if err != nil {
			return err
		}
		if !past {
			return fmt.Errorf("confirmed_flush_lsn is %s", confirmed)
		}
		return nil
	})
	cdcd.Stop(time.Minute)
}

// checkCountersFromSnapshot is checkCountersInTable for a workload that was already writing
// when the snapshot was taken: each key's first record is its snapshot row (op r), whose
// counter is where that key's changes must go on from, one by one. A snapshot that does not
// match the slot's consistent point shows as a gap or a duplicate right after it.
func checkCountersFromSnapshot(t *testing.T, db *PostgresDB, consumer *AvroConsumer, records []ChangeRecord, across string) {
	t.Helper()
	conn := db.Conn(t)
	defer func() { _ = conn.Close(context.Background()) }()
	var increments int64
	if err := conn.QueryRow(t.Context(), `SELECT coalesce(sum(v), 0) FROM counters`).Scan(&increments); err != nil {
		t.Fatalf("summing the counters: %v", err)
	}
	base := func(records []ChangeRecord) (int64, int) {
		var sum int64
		n := 0
		for _, r := range records {
			if r.Op() == "r" {
				sum += toInt64(r.After()["v"])
				n++
			}
		}
		return sum, n
	}
	// The snapshot's rows come first, all of them before any change.
	if len(records) < counterKeys {
		records = append(records, consumer.Collect(t, counterKeys-len(records), 2*time.Minute)...)
	}
	snapped, n := base(records)
	if n != counterKeys {
		t.Fatalf("%d snapshot rows among the first %d records, want %d", n, len(records), counterKeys)
	}
	expected := counterKeys + int(increments-snapped)
	records = collectCounters(t, consumer, records, expected)
	t.Logf("%d changes after a snapshot of %d increments, across %s; %d records read", expected-counterKeys, snapped, across, len(records))
	checkCountersFrom(t, records, expected, true)
}
