package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
)

// The fault runner of the chaos suite (docs/reliability.md). Each case runs one connector on its
// own database under the counters workload (counters_test.go), applies one fault, waits for
// cdcd to recover by itself, and then compares every change in the database with what a
// read_committed consumer reads, giving one row of the table. `make chaos` runs every case
// (chaos_test.go, build tag chaos); a case marked makeTest also runs in `make test`
// (TestChaosInMakeTest below).

// chaosTarget tells what a case's fault acts on, and so which servers the case uses.
type chaosTarget int

const (
	// A proxy between cdcd and the shared stack's database server.
	targetSourceLink chaosTarget = iota
	// A proxy between cdcd (and the test's consumer) and a private broker.
	targetKafkaLink
	// A private database server, which the fault stops or restarts.
	targetSourceServer
	// A private broker, which the fault kills.
	targetKafkaServer
	// The cdcd process itself.
	targetCDCD
	// The data: rows the pipeline cannot deliver as they are, on the shared servers.
	targetData
)

// chaosCase is one fault.
type chaosCase struct {
	// name describes the fault in the table.
	name string
	// source is "postgres" or "mysql".
	source string
	target chaosTarget
	// fault applies the fault and returns once it has ended.
	fault func(t *testing.T, r *chaosRun)
	// mixed adds DDL on the counters table and 100,000-row transactions on a second table,
	// bulk, to the workload, while the fault runs.
	mixed bool
	// makeTest lists the case in `make test` too: cheap, and expected to pass.
	makeTest bool
	// sourceExtra and connectorExtra are lines added to the connector's postgres section
	// (PostgreSQL only) and to the connector itself.
	sourceExtra, connectorExtra []string
	// reread marks a fault that cdcd heals by reading the tables again (a snapshot): the
	// changes made while it could not decode them are replaced by the rows' values read, or
	// streamed, afterwards. The oracle then lets each counter miss one run of values (see
	// countCounters), and cdcd has recovered once every counter has reached its value in the
	// table.
	reread bool
	// oversize adds a table files to the connector, whose topic takes records of at most
	// oversizeTopicMax bytes, for a fault that writes rows too large for it.
	oversize bool
	// check adds the case's own findings, after the counters oracle, to the row.
	check func(t *testing.T, r *chaosRun, records []ChangeRecord) (lost, duplicated int)
}

// chaosRow is one line of the table.
type chaosRow struct {
	Fault, Source string
	// Written is how many changes the database holds: every committed change of the workload.
	Written    int
	Lost       int
	Duplicated int
	// Recovered tells whether cdcd delivered the changes of the fault's time without help.
	Recovered bool
	// FirstCommit is the time from the fault's end to the first Kafka transaction committed
	// after it, by the process that lived through the fault (negative: none, or only after a
	// restart by hand).
	FirstCommit time.Duration
	Note        string
}

// Timings of the runner. None decides an outcome by itself: each bounds a wait on a condition.
const (
	// chaosWarmup is how many changes must reach Kafka before the fault starts.
	chaosWarmup = 200
	// chaosAfterFault is how many changes committed after the fault's end must reach Kafka too,
	// so that a pipeline that comes back for one commit and stalls is not taken as recovered.
	chaosAfterFault = 200
	// chaosRecoverWithin is how long cdcd has, after the fault, to deliver every change
	// committed before the fault's end, before the case says it did not recover by itself.
	chaosRecoverWithin = 90 * time.Second
	// chaosStallAfter is how long the final read waits for a change while none comes: cdcd
	// is then stalled, and is restarted by hand.
	chaosStallAfter = time.Minute
)

// chaosLab holds the servers the cases share, started on first use and stopped when the test
// that made the lab ends: one toxiproxy, one private PostgreSQL, MariaDB and Kafka.
type chaosLab struct {
	t       *testing.T
	mu      sync.Mutex
	proxies *ChaosProxies
	pg      *PrivatePostgres
	maria   *PrivateMariaDB
	kafka   *ChaosKafka
	rows    []chaosRow
}

func newChaosLab(t *testing.T) *chaosLab { return &chaosLab{t: t} }

// Proxies returns the lab's toxiproxy, started on first use.
func (l *chaosLab) Proxies() *ChaosProxies {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.proxies == nil {
		l.proxies = NewChaosProxies(l.t)
	}
	return l.proxies
}

// Postgres returns the lab's private PostgreSQL, started on first use.
func (l *chaosLab) Postgres() *PrivatePostgres {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pg == nil {
		l.pg = StartPrivatePostgres(l.t)
	}
	return l.pg
}

// MariaDB returns the lab's private MariaDB, started on first use.
func (l *chaosLab) MariaDB() *PrivateMariaDB {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maria == nil {
		l.maria = StartPrivateMariaDB(l.t)
	}
	return l.maria
}

// Kafka returns the lab's private broker behind its proxy, started on first use.
func (l *chaosLab) Kafka() *ChaosKafka {
	proxies := l.Proxies()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kafka == nil {
		l.kafka = StartChaosKafka(l.t, proxies)
	}
	return l.kafka
}

// chaosRun is one case's run: its servers, its cdcd and its workload.
type chaosRun struct {
	lab   *chaosLab
	c     chaosCase
	proxy *ChaosProxy // between cdcd and the database, for targetSourceLink
	pg    *PrivatePostgres
	maria *PrivateMariaDB
	kafka *ChaosKafka // nil: the shared broker
	cdcd  *CDCD
	// faultEnd is when the fault ended, set by the runner when fault returns, or by the fault.
	faultEnd time.Time
	writer   *chaosWriter
	setup    chaosSetup
	// bulkRows is how many rows of bulk the mixed workload has committed.
	bulkRows atomic.Int64
	notes    []string
}

// note adds a remark to the case's row.
func (r *chaosRun) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// runChaosCase runs c as a sub-test of t and records its row in the lab.
func runChaosCase(t *testing.T, lab *chaosLab, c chaosCase) {
	// The lab's servers belong to t: they start here, on t's goroutine, not in the sub-test.
	switch {
	case c.target == targetKafkaLink || c.target == targetKafkaServer:
		lab.Kafka()
	case c.target == targetSourceServer && c.source == "postgres":
		lab.Postgres()
	case c.target == targetSourceServer:
		lab.MariaDB()
	}
	t.Run(sanitize(c.source+"_"+c.name), func(t *testing.T) {
		row := chaosRow{Fault: c.name, Source: c.source, FirstCommit: -1,
			Note: "the case did not finish: see its sub-test's log"}
		defer func() {
			lab.mu.Lock()
			lab.rows = append(lab.rows, row)
			lab.mu.Unlock()
		}()
		row = runChaos(t, lab, c)
		t.Logf("%s", formatChaosRow(row))
		if row.Lost > 0 || row.Duplicated > 0 {
			t.Errorf("%s: %d changes lost, %d duplicated", c.name, row.Lost, row.Duplicated)
		}
		if !row.Recovered {
			t.Errorf("%s: cdcd did not recover by itself (%s)", c.name, row.Note)
		}
	})
}

// chaosSetup is what runChaos needs of a source.
type chaosSetup struct {
	config    string
	topic     string
	registry  string
	waitReady func(p *CDCD)
	connect   func(ctx context.Context) (incrementTx, func(), error)
	final     func() map[int64]int64
	// For a mixed case: the bulk table's topic, a transaction inserting the ids first to last,
	// a DDL adding column n to counters, and the ids bulk holds.
	bulkTopic  string
	bulkInsert func(ctx context.Context, first, last int) error
	addColumn  func(ctx context.Context, n int) error
	bulkIDs    func() []int64
	// diagnose describes the source's side of a stall (nil: nothing to say).
	diagnose func() string
	// pg is the PostgreSQL database and pgc its connector (nil for MariaDB), whose name is
	// its slot's and publication's.
	pg  *PostgresDB
	pgc *PostgresConnector
	// For an oversize case: the files table's topic, the dead-letter topic, and an insert
	// of row id with a data value of size bytes.
	filesTopic, dlqTopic string
	insertFile           func(ctx context.Context, id, size int) error
	// witness is the PostgreSQL case's witness slot (nil unless CDCD_CHAOS_WITNESS is set).
	witness *pgWitness
}

func runChaos(t *testing.T, lab *chaosLab, c chaosCase) chaosRow {
	r := &chaosRun{lab: lab, c: c}
	switch c.target {
	case targetKafkaLink, targetKafkaServer:
		r.kafka = lab.Kafka()
		// As the case before may have left it, had it failed during its fault.
		r.kafka.Proxy.RemoveToxics()
		r.kafka.Proxy.Enable(t)
		r.kafka.Start(t)
	}
	// The harness's databases by source kind: the connector kinds themselves live in the
	// daemon's table (connectors.Kind), the test only knows how to feed each.
	setups := map[string]func(*testing.T) chaosSetup{"postgres": r.postgresSetup, "mysql": r.mysqlSetup}
	setupOf, ok := setups[c.source]
	if !ok {
		t.Fatalf("unknown source %q", c.source)
	}
	setup := setupOf(t)

	r.setup = setup
	// Info, not the harness's debug: a line per commit would drown the log a failure prints.
	config := setup.config
	if chaosWitnessDir == "" {
		config = strings.Replace(config, "  level: debug\n", "  level: info\n", 1)
	}
	r.cdcd = startPlainCDCD(t, config)
	setup.waitReady(r.cdcd)
	topics := []string{setup.topic}
	if c.mixed {
		topics = append(topics, setup.bulkTopic)
	}
	if c.oversize {
		topics = append(topics, setup.filesTopic)
	}
	var consumer *AvroConsumer
	if r.kafka != nil {
		consumer = r.kafka.NewAvroConsumer(t, setup.registry, topics...)
	} else {
		consumer = NewAvroConsumer(t, setup.registry, topics...)
	}
	// The counters' first rows in Kafka, before any write: read by the initial snapshot or
	// streamed, either way the slot (or binlog position) is past its consistent point, so every
	// change of the workload is streamed. A change made before it is in the snapshot's values
	// (op r), never streamed, and the oracle would count it as lost (issue 12's "stall": see
	// docs/reliability.md).
	records := pollUntil(t, consumer, nil, atLeast(counterKeys), 2*time.Minute, r.cdcd)
	if len(records) < counterKeys {
		t.Fatalf("only %d of the %d counters reached Kafka before the workload; cdcd log:\n%s", len(records), counterKeys, r.cdcd.Logs())
	}
	r.writer = startChaosWriter(t, setup.connect)
	records = pollUntil(t, consumer, records, atLeast(chaosWarmup), 2*time.Minute, r.cdcd)
	if len(records) < chaosWarmup {
		t.Fatalf("only %d of %d changes reached Kafka before the fault; cdcd log:\n%s", len(records), chaosWarmup, r.cdcd.Logs())
	}

	t.Logf("fault: %s", c.name)
	faultStart := time.Now()
	c.fault(t, r)
	if r.faultEnd.IsZero() {
		r.faultEnd = time.Now()
	}
	t.Logf("fault ended after %s", r.faultEnd.Sub(faultStart).Round(time.Millisecond))

	// Recovered by itself: every change committed before the fault's end, and the next
	// chaosAfterFault ones, reach Kafka while the process that lived through the fault still
	// runs.
	atEnd := r.writer.written.Load()
	if err := Eventually(time.Minute, func() error {
		if n := r.writer.written.Load() - atEnd; n < chaosAfterFault {
			return fmt.Errorf("the workload committed %d changes since the fault's end", n)
		}
		return nil
	}); err != nil {
		t.Fatalf("the workload does not resume after the fault: %v", err)
	}
	target := counterKeys + int(r.writer.written.Load()) + int(r.bulkRows.Load())
	delivered := atLeast(target)
	if c.reread {
		delivered = countersReach(setup.topic, setup.final())
	}
	records = pollUntil(t, consumer, records, delivered, chaosRecoverWithin, r.cdcd)
	recovered := delivered(records) && !r.cdcd.Exited()
	caughtUp := recovered
	if !recovered {
		if r.cdcd.Exited() {
			r.note("cdcd exited: %s", lastError(r.cdcd.Logs()))
		} else {
			r.note("%d records for %d changes delivered %s after the fault; last error: %s", len(records), target,
				chaosRecoverWithin, lastError(r.cdcd.Logs()))
			r.cdcd.Kill()
		}
		// What an operator would do: start it again, to see whether the data survived.
		r.cdcd = r.cdcd.Restart()
		r.note("restarted by hand")
	}

	expected, final := r.writer.stop(t), setup.final()
	if failures := r.writer.failures.Load(); failures > 0 {
		t.Logf("the workload saw %d failed attempts (the fault's, retried)", failures)
	}
	written := 0
	for _, v := range final {
		written += int(v) + 1
	}
	if written < expected {
		t.Errorf("the database holds %d changes, the workload committed %d", written, expected)
	}
	var bulk []int64
	if c.mixed {
		bulk = setup.bulkIDs()
	}
	delivered = atLeast(written + len(bulk))
	if c.reread {
		delivered = countersReach(setup.topic, final)
	}
	records = pollUntilQuiet(t, consumer, records, delivered, chaosStallAfter)
	if !delivered(records) {
		// Recovered at first, then stuck: what an operator would do, and whether it helps.
		r.note("stalled: %d of %d changes delivered, none for %s after the workload stopped (last error: %s)",
			len(records), written+len(bulk), chaosStallAfter, lastError(r.cdcd.Logs()))
		if setup.diagnose != nil {
			r.note("%s", setup.diagnose())
		}
		if setup.witness != nil {
			r.note("%s", setup.witness.report(t, records, setup.topic))
			if err := os.WriteFile(filepath.Join(chaosWitnessDir, setup.witness.slot+".cdcd.log"), []byte(r.cdcd.Logs()), 0o644); err != nil {
				t.Logf("witness: %v", err)
			}
		}
		r.note("restarted by hand")
		recovered = false
		r.cdcd.Kill()
		r.cdcd = r.cdcd.Restart()
		records = pollUntilQuiet(t, consumer, records, delivered, chaosStallAfter)
	}
	records = append(records, consumer.Drain(t, 3*time.Second)...)
	lost, dup, reordered, skipped := countCounters(records, setup.topic, final, c.reread)
	if c.reread {
		r.note("%d changes made while cdcd could not decode them replaced by the rows read again", skipped)
	}
	if c.mixed {
		bulkLost, bulkDup := countBulk(records, setup.bulkTopic, bulk)
		r.note("%d of the changes in 100,000-row transactions (%d lost, %d duplicated)", len(bulk), bulkLost, bulkDup)
		written += len(bulk)
		lost += bulkLost
		dup += bulkDup
	}
	if reordered > 0 {
		r.note("%d changes out of order", reordered)
	}
	if c.check != nil {
		l, d := c.check(t, r, records)
		lost += l
		dup += d
	}
	// Without recovery, the first commit after the fault is the hand restart's: not the fault's.
	first := time.Duration(-1)
	if caughtUp {
		first = firstCommitAfter(t, r, setup.topic, r.faultEnd)
	}
	if code := r.cdcd.Stop(time.Minute); code != 0 {
		r.note("exit code %d after SIGTERM", code)
	}
	return chaosRow{Fault: c.name, Source: c.source, Written: written, Lost: lost, Duplicated: dup,
		Recovered: recovered, FirstCommit: first, Note: strings.Join(r.notes, "; ")}
}

// postgresSetup makes a counters table on the case's PostgreSQL (private if the fault acts on
// the server) and a connector that reaches it through the case's proxy, if any.
func (r *chaosRun) postgresSetup(t *testing.T) chaosSetup {
	var db *PostgresDB
	if r.c.target == targetSourceServer {
		r.pg = r.lab.Postgres()
		r.pg.Start(t) // a no-op unless the case before failed while it was down
		db = r.pg.NewDB(t)
	} else {
		db = NewPostgresDB(t)
	}
	// Closed once cdcd streams: a smart shutdown would wait for it.
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	seen := db
	if r.c.target == targetSourceLink {
		r.proxy = r.lab.Proxies().Proxy(t, Name(t, "pg"), "", db.addr)
		seen = &PostgresDB{Name: db.Name, addr: r.proxy.Addr}
	}
	c := NewPostgresConnector(t, seen)
	c.Tables = []string{"public.counters"}
	if r.c.mixed {
		mustExec(t, conn, `CREATE TABLE bulk (id bigint PRIMARY KEY, payload text NOT NULL)`)
		c.Tables = append(c.Tables, "public.bulk")
	}
	if r.c.oversize {
		mustExec(t, conn, `CREATE TABLE files (id int PRIMARY KEY, data bytea NOT NULL)`)
		c.Tables = append(c.Tables, "public.files")
		createLimitedTopic(t, c.Topic("files"), oversizeTopicMax)
	}
	c.Extra = r.c.sourceExtra
	c.ConnectorExtra = r.c.connectorExtra
	config := c.Config()
	if r.kafka != nil {
		config = r.kafka.UseIn(t, config)
	}
	mixedConn := func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, db.DSN()) }
	var witness *pgWitness
	if chaosWitnessDir != "" {
		witness = newPGWitness(t, db, c.Name)
	}
	return chaosSetup{
		witness:    witness,
		pg:         db,
		pgc:        c,
		filesTopic: c.Topic("files"),
		dlqTopic:   c.Prefix + ".dlq",
		insertFile: func(ctx context.Context, id, size int) error {
			fc, err := mixedConn(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = fc.Close(context.Background()) }()
			_, err = fc.Exec(ctx, `INSERT INTO files VALUES ($1, $2)`, id, incompressible(size))
			return err
		},
		diagnose: func() string {
			dc := db.Conn(t)
			defer func() { _ = dc.Close(context.Background()) }()
			var state string
			err := dc.QueryRow(t.Context(), `SELECT format('slot active %s, WAL %s, confirmed %s, walsender sent %s, written %s, state %s',
				s.active, pg_current_wal_lsn(), s.confirmed_flush_lsn, r.sent_lsn, r.write_lsn, r.state)
				FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
				WHERE s.slot_name = $1`, c.Name).Scan(&state)
			if err != nil {
				return "reading the slot: " + err.Error()
			}
			return state
		},
		bulkTopic: c.Topic("bulk"),
		bulkInsert: func(ctx context.Context, first, last int) error {
			mc, err := mixedConn(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = mc.Close(context.Background()) }()
			_, err = mc.Exec(ctx, `INSERT INTO bulk SELECT g, md5(g::text) FROM generate_series($1::bigint, $2::bigint) g`, first, last)
			return err
		},
		addColumn: func(ctx context.Context, n int) error {
			mc, err := mixedConn(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = mc.Close(context.Background()) }()
			_, err = mc.Exec(ctx, fmt.Sprintf(`ALTER TABLE counters ADD COLUMN c%d int`, n))
			return err
		},
		bulkIDs: func() []int64 {
			bc := db.Conn(t)
			defer func() { _ = bc.Close(context.Background()) }()
			rows, err := bc.Query(t.Context(), `SELECT id FROM bulk`)
			if err != nil {
				t.Fatalf("reading bulk: %v", err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				t.Fatalf("reading bulk: %v", err)
			}
			return ids
		},
		config:   config,
		topic:    c.Topic("counters"),
		registry: c.RegistryURL(),
		waitReady: func(p *CDCD) {
			c.WaitStreaming(t, conn)
			mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
			_ = conn.Close(context.Background())
		},
		connect: func(ctx context.Context) (incrementTx, func(), error) {
			wc, err := pgx.Connect(ctx, db.DSN())
			if err != nil {
				return nil, nil, err
			}
			return pgIncrement(wc), func() { _ = wc.Close(context.Background()) }, nil
		},
		final: func() map[int64]int64 {
			// A new connection: the server may have restarted since conn was opened.
			fc := db.Conn(t)
			defer func() { _ = fc.Close(context.Background()) }()
			rows, err := fc.Query(t.Context(), `SELECT id, v FROM counters`)
			if err != nil {
				t.Fatalf("reading the counters: %v", err)
			}
			out := map[int64]int64{}
			for rows.Next() {
				var id, v int64
				if err := rows.Scan(&id, &v); err != nil {
					t.Fatalf("reading the counters: %v", err)
				}
				out[id] = v
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("reading the counters: %v", err)
			}
			return out
		},
	}
}

// mysqlSetup is postgresSetup for MariaDB.
func (r *chaosRun) mysqlSetup(t *testing.T) chaosSetup {
	var m *MariaDB
	if r.c.target == targetSourceServer {
		r.maria = r.lab.MariaDB()
		r.maria.Start(t) // a no-op unless the case before failed while it was down
		m = r.maria.NewDB(t)
	} else {
		m = NewMariaDB(t)
	}
	mustExecMySQL(t, m.DB, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	seen := m
	if r.c.target == targetSourceLink {
		r.proxy = r.lab.Proxies().Proxy(t, Name(t, "mysql"), "", m.addr)
		seen = &MariaDB{Name: m.Name, DB: m.DB, addr: r.proxy.Addr}
	}
	c := NewMySQLConnector(t, seen, "counters")
	if r.c.mixed {
		mustExecMySQL(t, m.DB, `CREATE TABLE bulk (id bigint PRIMARY KEY, payload text NOT NULL)`)
		c.Tables = append(c.Tables, m.Name+".bulk")
	}
	if r.c.oversize {
		mustExecMySQL(t, m.DB, `CREATE TABLE files (id int PRIMARY KEY, data longblob NOT NULL)`)
		c.Tables = append(c.Tables, m.Name+".files")
		createLimitedTopic(t, c.Topic("files"), oversizeTopicMax)
	}
	if len(r.c.sourceExtra) > 0 {
		t.Fatalf("a MariaDB case has lines for the mysql section, which the harness does not write: %v", r.c.sourceExtra)
	}
	c.ConnectorExtra = r.c.connectorExtra
	config := c.Config()
	if r.kafka != nil {
		config = r.kafka.UseIn(t, config)
	}
	return chaosSetup{
		filesTopic: c.Topic("files"),
		dlqTopic:   c.Prefix + ".dlq",
		insertFile: func(ctx context.Context, id, size int) error {
			_, err := m.DB.ExecContext(ctx, `INSERT INTO files VALUES (?, ?)`, id, incompressible(size))
			return err
		},
		bulkTopic: c.Topic("bulk"),
		bulkInsert: func(ctx context.Context, first, last int) error {
			_, err := m.DB.ExecContext(ctx, fmt.Sprintf(`INSERT INTO bulk SELECT seq, md5(seq) FROM seq_%d_to_%d`, first, last))
			return err
		},
		addColumn: func(ctx context.Context, n int) error {
			_, err := m.DB.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE counters ADD COLUMN c%d int`, n))
			return err
		},
		bulkIDs: func() []int64 {
			rows, err := m.DB.QueryContext(t.Context(), `SELECT id FROM bulk`)
			if err != nil {
				t.Fatalf("reading bulk: %v", err)
			}
			defer func() { _ = rows.Close() }()
			var ids []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					t.Fatalf("reading bulk: %v", err)
				}
				ids = append(ids, id)
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("reading bulk: %v", err)
			}
			return ids
		},
		config:   config,
		topic:    c.Topic("counters"),
		registry: c.RegistryURL(),
		waitReady: func(p *CDCD) {
			id := mysql.DefaultServerID(c.Name)
			WaitFor(t, 2*time.Minute, "cdcd reading the binlog", func() error {
				if p.Exited() {
					t.Fatalf("cdcd exited; log:\n%s", p.Logs())
				}
				ok, err := registeredReplica(t, m.DB, id)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("no replica with server id %d", id)
				}
				return nil
			})
			mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO counters SELECT seq, 0 FROM seq_1_to_%d`, counterKeys))
		},
		// database/sql reconnects by itself.
		connect: func(context.Context) (incrementTx, func(), error) { return mysqlIncrement(m.DB), func() {}, nil },
		final: func() map[int64]int64 {
			rows, err := m.DB.QueryContext(t.Context(), `SELECT id, v FROM counters`)
			if err != nil {
				t.Fatalf("reading the counters: %v", err)
			}
			defer func() { _ = rows.Close() }()
			out := map[int64]int64{}
			for rows.Next() {
				var id, v int64
				if err := rows.Scan(&id, &v); err != nil {
					t.Fatalf("reading the counters: %v", err)
				}
				out[id] = v
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("reading the counters: %v", err)
			}
			return out
		},
	}
}

// atLeast is a wait's end: n records read.
func atLeast(n int) func([]ChangeRecord) bool {
	return func(records []ChangeRecord) bool { return len(records) >= n }
}

// countersReach is a wait's end: every counter of want read on topic with its value in want
// (or a greater one).
func countersReach(topic string, want map[int64]int64) func([]ChangeRecord) bool {
	return func(records []ChangeRecord) bool {
		top := map[int64]int64{}
		for _, r := range records {
			if after := r.After(); r.Topic == topic && after != nil {
				id, v := toInt64(after["id"]), toInt64(after["v"])
				if cur, ok := top[id]; !ok || v > cur {
					top[id] = v
				}
			}
		}
		for id, v := range want {
			if cur, ok := top[id]; !ok || cur < v {
				return false
			}
		}
		return true
	}
}

// pollUntil reads until done says records are all there or timeout passes, and returns records
// with what it read. A cdcd (if not nil) that exits ends the wait: nothing more will come.
func pollUntil(t *testing.T, consumer *AvroConsumer, records []ChangeRecord, done func([]ChangeRecord) bool,
	timeout time.Duration, p *CDCD) []ChangeRecord {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !done(records) && time.Now().Before(deadline) {
		if p != nil && p.Exited() {
			return append(records, consumer.Poll(t, time.Second)...)
		}
		records = append(records, consumer.Poll(t, time.Second)...)
	}
	return records
}

// pollUntilQuiet reads until done says records are all there or nothing has come for quiet,
// and returns records with what it read.
func pollUntilQuiet(t *testing.T, consumer *AvroConsumer, records []ChangeRecord, done func([]ChangeRecord) bool,
	quiet time.Duration) []ChangeRecord {
	t.Helper()
	last := time.Now()
	for !done(records) && time.Since(last) < quiet {
		got := consumer.Poll(t, time.Second)
		if len(got) > 0 {
			last = time.Now()
		}
		records = append(records, got...)
	}
	return records
}

// countCounters is the counters oracle, counting instead of stopping at the first fault: final
// holds each key's value in the database, so its changes are the values 0 to final; lost are
// those never read, duplicated the reads of a value already read, reordered the values read
// after a greater one of the same key.
//
// With reread, the fault hid some changes from cdcd, which healed it by reading the tables
// again (op r records). A key changed while cdcd read it is not read again: the stream's
// change replaces the read (as Debezium's incremental snapshots do). So each key may miss one
// run of values, followed by a value read: those are skipped, by design, not lost; any other
// value not read, a second run or the last values, is lost. A value both streamed and read
// again is no duplicate.
func countCounters(records []ChangeRecord, topic string, final map[int64]int64, reread bool) (lost, duplicated, reordered, skipped int) {
	seen := map[[2]int64]int{}
	last := map[int64]int64{}
	for _, r := range records {
		if r.Topic != topic {
			continue
		}
		after := r.After()
		if after == nil {
			continue // a delete or a tombstone: the workload writes none
		}
		id, v := toInt64(after["id"]), toInt64(after["v"])
		if prev, ok := last[id]; ok && v < prev {
			reordered++
		}
		last[id] = v
		if reread && r.Op() == "r" && seen[[2]int64{id, v}] > 0 {
			continue
		}
		seen[[2]int64{id, v}]++
	}
	for key, n := range seen {
		if n > 1 {
			duplicated += n - 1
		}
		if f, ok := final[key[0]]; !ok || key[1] > f {
			duplicated++ // a change the database does not hold
		}
	}
	for id, f := range final {
		// The runs of values never read, each followed by one read (a run at the end is not).
		var runs []int
		run := 0
		for v := int64(0); v <= f; v++ {
			if seen[[2]int64{id, v}] == 0 {
				run++
				continue
			}
			if run > 0 {
				runs = append(runs, run)
			}
			run = 0
		}
		lost += run
		if reread && len(runs) > 0 {
			longest := slices.Max(runs)
			skipped += longest
			lost -= longest
		}
		for _, n := range runs {
			lost += n
		}
	}
	return lost, duplicated, reordered, skipped
}

// countBulk is the oracle of the bulk table: each id the table holds is read once.
func countBulk(records []ChangeRecord, topic string, ids []int64) (lost, duplicated int) {
	seen := map[int64]int{}
	for _, r := range records {
		if r.Topic == topic && r.After() != nil {
			seen[toInt64(r.After()["id"])]++
		}
	}
	held := map[int64]bool{}
	for _, id := range ids {
		held[id] = true
		if seen[id] == 0 {
			lost++
		}
	}
	for id, n := range seen {
		duplicated += n - 1
		if !held[id] {
			duplicated++
		}
	}
	return lost, duplicated
}

// firstCommitAfter is the time from end to the first transaction committed on topic after it:
// the broker stamps each commit marker with the time it wrote it.
func firstCommitAfter(t *testing.T, r *chaosRun, topic string, end time.Time) time.Duration {
	t.Helper()
	client := func(opts ...kgo.Opt) *kgo.Client {
		if r.kafka != nil {
			return r.kafka.Client(t, opts...)
		}
		return NewKafkaClient(t, opts...)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(client()).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Logf("listing the end of %s: %v", topic, err)
		return -1
	}
	want := map[int32]int64{}
	partitions := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
			partitions[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return -1
	}
	reader := client(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: partitions}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	first := time.Time{}
	for len(want) > 0 {
		fetches := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Logf("reading the commit markers of %s: %v", topic, ctx.Err())
			break
		}
		for _, rec := range fetches.Records() {
			// A control record's key is its version then its type: 1 is a commit.
			if rec.Attrs.IsControl() && len(rec.Key) >= 4 && binary.BigEndian.Uint16(rec.Key[2:4]) == 1 &&
				rec.Timestamp.After(end) && (first.IsZero() || rec.Timestamp.Before(first)) {
				first = rec.Timestamp
			}
			if rec.Offset >= want[rec.Partition]-1 {
				delete(want, rec.Partition)
			}
		}
	}
	if first.IsZero() {
		return -1
	}
	return first.Sub(end)
}

// errorWrapping matches the context cdcd's errors carry before their cause.
var errorWrapping = regexp.MustCompile(`(pipeline|source|postgres source|mysql source|streaming slot \S+|connector \S+): `)

// lastError returns the message and error of cdcd's last error line, for the table.
func lastError(logs string) string {
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var entry struct {
			Level, Message, Error string
		}
		if json.Unmarshal([]byte(lines[i]), &entry) != nil || (entry.Level != "error" && entry.Level != "warn") {
			continue
		}
		// The wrapping names stages and the slot; the cause is at the end.
		// One line, for a table cell: pgconn lists each address tried on its own line.
		s := strings.Join(strings.Fields(errorWrapping.ReplaceAllString(entry.Error, "")), " ")
		if len(s) > 140 {
			s = "..." + s[len(s)-140:]
		}
		return strings.TrimSpace(entry.Message + ": " + s)
	}
	return "(no error logged)"
}

// chaosWriter runs the counters workload through a fault: a failed transaction is counted and
// tried again on a new connection, and the database's final values, not this count, are the
// oracle's truth (a commit that failed on the client may have committed on the server).
type chaosWriter struct {
	written  atomic.Int64
	failures atomic.Int64
	paused   atomic.Bool
	done     chan struct{}
	wg       sync.WaitGroup
}

// startChaosWriter starts committing increments, about two hundred transactions a second, on
// connections that connect opens.
func startChaosWriter(t *testing.T, connect func(ctx context.Context) (incrementTx, func(), error)) *chaosWriter {
	t.Helper()
	w := &chaosWriter{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		var inc incrementTx
		closeConn := func() {}
		defer func() { closeConn() }()
		pace := time.NewTicker(5 * time.Millisecond)
		defer pace.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.Context().Done():
				return
			case <-pace.C:
			}
			if w.paused.Load() {
				if inc != nil {
					closeConn()
					inc, closeConn = nil, func() {}
				}
				continue
			}
			if inc == nil {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				var err error
				inc, closeConn, err = connect(ctx)
				cancel()
				if err != nil {
					inc, closeConn = nil, func() {}
					w.failures.Add(1)
					continue
				}
			}
			ids := make([]int, 1+rand.IntN(3))
			for i := range ids {
				ids[i] = 1 + rand.IntN(counterKeys)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			err := inc(ctx, ids)
			cancel()
			if err != nil {
				w.failures.Add(1)
				closeConn()
				inc, closeConn = nil, func() {}
				continue
			}
			w.written.Add(int64(len(ids)))
		}
	}()
	return w
}

// pause makes the writer close its connection and stop writing until resume.
func (w *chaosWriter) pause() { w.paused.Store(true) }

// resume undoes pause.
func (w *chaosWriter) resume() { w.paused.Store(false) }

// stop ends the workload and returns how many changes it committed for sure, the initial rows
// included.
func (w *chaosWriter) stop(t *testing.T) int {
	t.Helper()
	close(w.done)
	w.wg.Wait()
	return counterKeys + int(w.written.Load())
}

// formatChaosRow is one row of the table in Markdown.
func formatChaosRow(r chaosRow) string {
	recovered := "no"
	if r.Recovered {
		recovered = "yes"
	}
	first := "-"
	if r.FirstCommit >= 0 {
		first = fmt.Sprintf("%.1f s", r.FirstCommit.Seconds())
	}
	return fmt.Sprintf("| %s | %s | %d | %d | %d | %s | %s | %s |", r.Source, r.Fault, r.Written, r.Lost,
		r.Duplicated, recovered, first, strings.ReplaceAll(r.Note, "|", "/"))
}

// chaosTable is the whole table in Markdown.
func chaosTable(rows []chaosRow) string {
	var b strings.Builder
	b.WriteString("| source | fault | changes written | lost | duplicated | recovered by itself | fault end to first commit | note |\n")
	b.WriteString("|---|---|---:|---:|---:|---|---:|---|\n")
	for _, r := range rows {
		b.WriteString(formatChaosRow(r) + "\n")
	}
	return b.String()
}

// TestChaosInMakeTest runs the cases marked makeTest, the cheap ones expected to pass, in
// `make test`; `make chaos` runs them all.
func TestChaosInMakeTest(t *testing.T) {
	lab := newChaosLab(t)
	t.Cleanup(func() {
		if len(lab.rows) > 0 {
			t.Logf("chaos table:\n%s", chaosTable(lab.rows))
		}
	})
	n := 0
	for _, c := range chaosCases() {
		if c.makeTest {
			runChaosCase(t, lab, c)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no chaos case is marked makeTest: make test would run none")
	}
}
