package integration

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The faults of the chaos suite, in the table's order; docs/reliability.md says what each does
// and how cdcd heals it.

// Durations of the faults. A fault's length is the fault itself, not a synchronisation: the
// runner then waits on conditions.
const (
	chaosToxicFor     = 15 * time.Second // latency, bandwidth
	chaosResetFor     = 10 * time.Second
	chaosHangFor      = 30 * time.Second // hangs and partitions: past cdcd's connect timeout (10 s)
	chaosPGDownFor    = 60 * time.Second
	chaosKafkaDownFor = 2 * time.Minute
	// chaosPublicationOutFor is how long a table stays out of its publication, unless cdcd
	// puts it back first.
	chaosPublicationOutFor = 20 * time.Second
	// chaosOversizeRows is how many rows too large for their topic the oversize cases write.
	chaosOversizeRows = 3
	// chaosBulkTransactions bounds the 100,000-row transactions of a mixed workload.
	chaosBulkTransactions = 5
)

// chaosKills is how many times the SIGKILL cases kill cdcd: $CDCD_CHAOS_KILLS, default 100
// (issue 12's count; about 6 minutes a source).
func chaosKills() int {
	if n, err := strconv.Atoi(os.Getenv("CDCD_CHAOS_KILLS")); err == nil && n > 0 {
		return n
	}
	return 100
}

// chaosCases lists every fault.
func chaosCases() []chaosCase {
	var cases []chaosCase
	for _, link := range []struct {
		source, server string
		target         chaosTarget
	}{
		{"postgres", "PostgreSQL", targetSourceLink},
		{"mysql", "MariaDB", targetSourceLink},
		{"postgres", "Kafka", targetKafkaLink},
	} {
		for _, f := range linkFaults() {
			cases = append(cases, chaosCase{name: "cdcd-" + link.server + " link: " + f.name, source: link.source,
				target: link.target, fault: f.fault,
				// A connect that hangs until connect_timeout was a permanent error once.
				makeTest: link.server == "PostgreSQL" && f.name == hangOnConnect})
		}
	}
	cases = append(cases,
		chaosCase{name: "PostgreSQL fast restart", source: "postgres", target: targetSourceServer, fault: pgRestart("fast", 0),
			makeTest: true},
		chaosCase{name: "PostgreSQL immediate restart", source: "postgres", target: targetSourceServer, fault: pgRestart("immediate", 0)},
		chaosCase{name: "PostgreSQL smart restart", source: "postgres", target: targetSourceServer, fault: pgSmartRestart},
		chaosCase{name: "PostgreSQL down 60 s (fast stop)", source: "postgres", target: targetSourceServer,
			fault: pgRestart("fast", chaosPGDownFor)},
		chaosCase{name: "MariaDB restart", source: "mysql", target: targetSourceServer, fault: func(t *testing.T, r *chaosRun) {
			r.maria.Stop(t)
			r.maria.Start(t)
		}},
		chaosCase{name: "Kafka SIGKILL, down 2 min", source: "postgres", target: targetKafkaServer, fault: func(t *testing.T, r *chaosRun) {
			r.kafka.Kill(t)
			holdFault(t, chaosKafkaDownFor)
			r.kafka.Start(t)
		}},
	)
	// Changes of what cdcd reads from: it heals them by reading the tables again.
	whenNeeded := []string{"snapshot_mode: when_needed"}
	cases = append(cases,
		chaosCase{name: "publication: the table removed from it for 20 s", source: "postgres", target: targetSourceServer,
			reread: true, fault: pgPublicationGap},
		chaosCase{name: "slot dropped (snapshot_mode when_needed)", source: "postgres", target: targetSourceServer,
			reread: true, sourceExtra: whenNeeded, fault: pgDropSlot},
		chaosCase{name: "slot invalidated: max_slot_wal_keep_size exceeded (snapshot_mode when_needed)", source: "postgres",
			target: targetSourceServer, reread: true, sourceExtra: whenNeeded, fault: pgInvalidateSlot},
	)
	for _, source := range []string{"postgres", "mysql"} {
		cases = append(cases, chaosCase{
			name:   strconv.Itoa(chaosOversizeRows) + " rows over their topic's max.message.bytes (error_policy dlq)",
			source: source, target: targetData, oversize: true, connectorExtra: []string{"error_policy: dlq"},
			fault: writeOversizedRows, check: checkOversizedRows,
		})
	}
	for _, source := range []string{"postgres", "mysql"} {
		cases = append(cases, chaosCase{
			name:   strconv.Itoa(chaosKills()) + " SIGKILLs of cdcd, mixed workload (DDL, 100,000-row transactions)",
			source: source, target: targetCDCD, mixed: true, fault: killUnderMixedLoad,
		})
	}
	return cases
}

// linkFault is a fault of the network between cdcd and a server, made by the case's proxy.
type linkFault struct {
	name  string
	fault func(t *testing.T, r *chaosRun)
}

// link returns the proxy the case's fault acts on.
func (r *chaosRun) link() *ChaosProxy {
	if r.c.target == targetKafkaLink {
		return r.kafka.Proxy
	}
	return r.proxy
}

// linkFaults are toxiproxy's faults, applied both ways, on the connections open and to come.
func linkFaults() []linkFault {
	toxic := func(kind, attributes string, d time.Duration) func(t *testing.T, r *chaosRun) {
		return func(t *testing.T, r *chaosRun) {
			x := r.link()
			x.AddToxic(t, kind+"_up", kind, "upstream", attributes)
			x.AddToxic(t, kind+"_down", kind, "downstream", attributes)
			holdFault(t, d)
			x.RemoveToxics()
		}
	}
	return []linkFault{
		{"latency 250 ms ±50 each way, 15 s", toxic("latency", `{"latency":250,"jitter":50}`, chaosToxicFor)},
		{"bandwidth 32 KB/s each way, 15 s", toxic("bandwidth", `{"rate":32}`, chaosToxicFor)},
		{"reset_peer on every connection, 10 s", toxic("reset_peer", `{"timeout":0}`, chaosResetFor)},
		// toxiproxy's timeout toxic with no timeout passes no byte and keeps the connection
		// open; when it goes, it closes the connections it held.
		{"hang (no byte passes, connections stay open), 30 s", toxic("timeout", `{"timeout":0}`, chaosHangFor)},
		{"partition (connections closed, new ones refused), 30 s", func(t *testing.T, r *chaosRun) {
			x := r.link()
			x.Disable(t)
			holdFault(t, chaosHangFor)
			x.Enable(t)
		}},
		{hangOnConnect, func(t *testing.T, r *chaosRun) {
			x := r.link()
			x.AddToxic(t, "hang_up", "timeout", "upstream", `{"timeout":0}`)
			x.AddToxic(t, "hang_down", "timeout", "downstream", `{"timeout":0}`)
			x.Disable(t)
			x.Enable(t)
			holdFault(t, chaosHangFor)
			x.RemoveToxics()
		}},
	}
}

// hangOnConnect names the link fault whose new connections are accepted and never answered.
const hangOnConnect = "connections hang on connect (existing ones closed), 30 s"

// holdFault lets a fault last d.
func holdFault(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-time.After(d):
	case <-t.Context().Done():
	}
}

// pgRestart stops the private PostgreSQL in mode, keeps it down for down, and starts it.
func pgRestart(mode string, down time.Duration) func(t *testing.T, r *chaosRun) {
	return func(t *testing.T, r *chaosRun) {
		r.pg.Stop(t, mode, true)
		holdFault(t, down)
		r.pg.Start(t)
	}
}

// pgSmartRestart asks for a smart shutdown, which waits for every client session to end: the
// workload disconnects at once; cdcd, which holds no ordinary session while it streams, must
// not hold it up. A shutdown still waiting after a minute fails the case, and is made fast,
// then immediate, each noted in the row.
func pgSmartRestart(t *testing.T, r *chaosRun) {
	r.note("sessions at the smart shutdown, the workload's one included: %s", pgSessions(t, r))
	r.writer.pause()
	for _, mode := range []string{"smart", "fast", "immediate"} {
		if mode != "smart" {
			t.Errorf("the smart shutdown still waited after 1 min")
			r.note("the shutdown still waited after 1 min; asked again in %s mode", mode)
		}
		r.pg.Stop(t, mode, false)
		if Eventually(time.Minute, func() error {
			if !r.pg.Stopped() {
				return os.ErrExist
			}
			return nil
		}) == nil {
			break
		}
	}
	r.pg.Start(t)
	r.writer.resume()
}

// pgSessions describes the sessions open on the case's private PostgreSQL, ours aside.
func pgSessions(t *testing.T, r *chaosRun) string {
	t.Helper()
	conn := connectPostgres(t, (&PostgresDB{addr: r.pg.Addr()}).dsn("postgres", ""))
	defer func() { _ = conn.Close(context.Background()) }()
	var sessions string
	err := conn.QueryRow(t.Context(), `SELECT coalesce(string_agg(n || ' ' || backend_type, ', '), 'none') FROM (
		SELECT backend_type, count(*) AS n FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND backend_type IN ('client backend', 'walsender')
		GROUP BY backend_type) s`).Scan(&sessions)
	if err != nil {
		t.Fatalf("listing the sessions: %v", err)
	}
	return sessions
}

// killUnderMixedLoad kills cdcd with SIGKILL chaosKills times, a random 1 to 5 s apart, and
// restarts it at once each time, while the mixed workload adds columns to counters and commits
// up to chaosBulkTransactions 100,000-row transactions on bulk.
func killUnderMixedLoad(t *testing.T, r *chaosRun) {
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// At most chaosBulkTransactions, a few seconds apart: enough to be killed in the middle
		// of, few enough for the run to stay short.
		const rows = 100_000
		for n := 0; n < chaosBulkTransactions && ctx.Err() == nil; n++ {
			if n > 0 {
				holdFault(t, 3*time.Second)
			}
			first := n*rows + 1
			if err := r.setup.bulkInsert(ctx, first, first+rows-1); err != nil {
				if ctx.Err() == nil {
					t.Errorf("a 100,000-row transaction: %v", err)
				}
				return
			}
			r.bulkRows.Add(rows)
			if err := r.setup.addColumn(ctx, n); err != nil {
				if ctx.Err() == nil {
					t.Errorf("adding a column: %v", err)
				}
				return
			}
		}
	}()
	for range chaosKills() {
		holdFault(t, time.Second+rand.N(4*time.Second))
		r.cdcd.Kill()
		r.cdcd = r.cdcd.Restart()
	}
	cancel()
	wg.Wait()
}

// pgPublicationGap removes counters from the connector's publication, as an operator or a
// migration tool might, and adds it back after chaosPublicationOutFor unless cdcd has done so
// (its check runs every 5 s). PostgreSQL decodes none of its changes while it is out: cdcd
// must log the gap and read the table again (publication_gap: resnapshot, the default).
func pgPublicationGap(t *testing.T, r *chaosRun) {
	conn := r.setup.pg.Conn(t)
	defer func() { _ = conn.Close(context.Background()) }()
	pub := pgx.Identifier{r.setup.pgc.Name}.Sanitize()
	mustExec(t, conn, `ALTER PUBLICATION `+pub+` DROP TABLE counters`)
	holdFault(t, chaosPublicationOutFor)
	if r.setup.pgc.published(t, conn, "counters") {
		r.note("cdcd put the table back in its publication itself")
	} else {
		mustExec(t, conn, `ALTER PUBLICATION `+pub+` ADD TABLE counters`)
		r.note("the table put back by the test")
	}
}

// pgDropSlot drops the connector's slot under it: its walsender is ended and the slot dropped
// before cdcd takes it again. cdcd, under snapshot_mode when_needed, must create it again and
// read the tables again.
func pgDropSlot(t *testing.T, r *chaosRun) {
	conn := r.setup.pg.Conn(t)
	defer func() { _ = conn.Close(context.Background()) }()
	slot := r.setup.pgc.Name
	err := Eventually(time.Minute, func() error {
		if _, err := conn.Exec(t.Context(), `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
			WHERE slot_name = $1 AND active_pid IS NOT NULL`, slot); err != nil {
			return err
		}
		// "is active" until the walsender has gone, or once cdcd has taken the slot again.
		_, err := conn.Exec(t.Context(), `SELECT pg_drop_replication_slot($1)`, slot)
		return err
	})
	if err != nil {
		t.Fatalf("dropping slot %s: %v", slot, err)
	}
}

// pgInvalidateSlot lets the server invalidate the connector's slot while cdcd streams: with
// max_slot_wal_keep_size at 1MB, a transaction left open holds the slot's restart point back
// while other writes move the WAL on (as TestPostgresInvalidatedSlotFailsTheConnector does).
// cdcd, under snapshot_mode when_needed, must drop it, create it again and read the tables
// again; under initial it stops FAILED with the server's reason instead.
func pgInvalidateSlot(t *testing.T, r *chaosRun) {
	r.pg.Set(t, "max_slot_wal_keep_size", "1MB")
	defer r.pg.Set(t, "max_slot_wal_keep_size", "-1")
	conn := r.setup.pg.Conn(t)
	defer func() { _ = conn.Close(context.Background()) }()
	mustExec(t, conn, `CREATE TABLE IF NOT EXISTS filler (id int, pad text)`)
	blocker := r.setup.pg.Conn(t)
	defer func() { _ = blocker.Close(context.Background()) }()
	mustExec(t, blocker, "BEGIN; INSERT INTO filler VALUES (0, 'held open')")
	invalidateSlot(t, conn, r.setup.pgc.Name)
	mustExec(t, blocker, "ROLLBACK")
}

// writeOversizedRows writes chaosOversizeRows rows too large for their topic into files, each
// after a small one, 2 s apart: under error_policy dlq each large one goes to the dead-letter
// topic and the pipeline goes on.
func writeOversizedRows(t *testing.T, r *chaosRun) {
	for i := range chaosOversizeRows {
		if i > 0 {
			holdFault(t, 2*time.Second)
		}
		for _, row := range [][2]int{{2*i + 1, 100}, {2*i + 2, oversizeRow}} {
			if err := r.setup.insertFile(t.Context(), row[0], row[1]); err != nil {
				t.Fatalf("writing row %d of %d bytes into files: %v", row[0], row[1], err)
			}
		}
	}
}

// checkOversizedRows checks that each small row of files was read once from its topic, and
// each large one (even ids) once from the dead-letter topic, never from the data topic.
func checkOversizedRows(t *testing.T, r *chaosRun, records []ChangeRecord) (lost, duplicated int) {
	data := map[int64]int{}
	for _, rec := range records {
		if rec.Topic == r.setup.filesTopic && rec.After() != nil {
			data[toInt64(rec.After()["id"])]++
		}
	}
	dead := map[int64]int{}
	for _, d := range readAll(t, r.setup.dlqTopic, chaosOversizeRows) {
		var key struct{ ID string }
		if err := json.Unmarshal(d.Key, &key); err != nil {
			t.Errorf("a dead letter's key %q: %v", d.Key, err)
			continue
		}
		id, _ := strconv.ParseInt(key.ID, 10, 64)
		dead[id]++
	}
	count := func(n int) {
		if n == 0 {
			lost++
		}
		duplicated += max(n-1, 0)
	}
	for i := range chaosOversizeRows {
		small, large := int64(2*i+1), int64(2*i+2)
		count(data[small])
		count(dead[large])
		duplicated += data[large]
	}
	r.note("%d small rows of files in their topic, %d rows over the limit in the dead-letter topic",
		len(data), len(dead))
	return lost, duplicated
}
