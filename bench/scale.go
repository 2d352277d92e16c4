package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cdcd-dev/cdcd/internal/procmem"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// measureScale runs only when named: it starts a PostgreSQL of its own and takes minutes.
const measureScale = "scale"

// ErrScale is wrapped by every failure of the scale phase itself.
var ErrScale = errors.New("scale")

// scaleTableSQL is the shape of each of the many tables of the scale phase: small rows, so
// that the figures show the per-table and per-connector costs rather than the encoding.
const scaleTableSQL = `CREATE TABLE %s (id bigint PRIMARY KEY, qty int, name text)`

// scaleTableName names the i-th (from 0) table of the many-tables run.
func scaleTableName(i int) string { return fmt.Sprintf("scale_t%04d", i) }

// spreadRange is the rows of one table in one transaction of the many-tables workload: the ids
// first, first+step, ... up to last.
type spreadRange struct {
	table       int
	first, last int64
	step        int64
}

// spreadRows spreads the rows from..to over tables tables, round robin by id (row g goes to
// table (g-1) % tables), so that every table gets writes and each transaction touches
// min(to-from+1, tables) of them. Each table's share is one arithmetic series, written by one
// generate_series.
func spreadRows(from, to int64, tables int) []spreadRange {
	if tables < 1 || to < from {
		return nil
	}
	n := int64(tables)
	var out []spreadRange
	for g := from; g <= to && g < from+n; g++ {
		last := g + (to-g)/n*n
		out = append(out, spreadRange{table: int((g - 1) % n), first: g, last: last, step: n})
	}
	return out
}

// spreadInsertSQL is the statement writing r into table.
func spreadInsertSQL(table string, r spreadRange) string {
	return fmt.Sprintf(`INSERT INTO %s (id, qty, name) SELECT g, g %% 1000, 'item ' || g
		FROM generate_series(%d::bigint, %d::bigint, %d::bigint) AS g`, table, r.first, r.last, r.step)
}

// scaleConnector is one connector of a scale daemon: a postgres connector on its own
// database, capturing tables.
type scaleConnector struct {
	name       string
	database   string
	tables     []string
	partitions int // topic_creation.default.partitions; 0 leaves it out
}

// scaleConfigYAML renders the config of a daemon running conns, all on the PostgreSQL at
// host:port; offsets and registry topics are named after name. Every value is a plain name or
// address, so none needs quoting.
func scaleConfigYAML(brokers, registryListen, name, host string, port int, logLevel string, conns []scaleConnector) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `kafka:
  brokers: [%s]
  offsets_topic: %s_offsets
registry:
  listen: %s
  topic: %s_schemas
log:
  level: %s
  format: json
api:
  listen: "off"
connectors:
`, brokers, name, registryListen, name, logLevel)
	for _, c := range conns {
		qualified := make([]string, len(c.tables))
		for i, t := range c.tables {
			qualified[i] = "public." + t
		}
		fmt.Fprintf(&sb, `  - name: %s
    topic_prefix: %s
`, c.name, c.name)
		if c.partitions > 0 {
			fmt.Fprintf(&sb, `    topic_creation:
      default:
        partitions: %d
`, c.partitions)
		}
		fmt.Fprintf(&sb, `    type: postgres
    postgres:
      host: %s
      port: %d
      user: postgres
      database: %s
      slot: %s
      publication: %s_pub
      tables: [%s]
      snapshot_mode: no_data
`, host, port, c.database, c.name, c.name, strings.Join(qualified, ", "))
	}
	return sb.String()
}

// scaleTopicsRegexp matches the data topics of the connectors named prefix*.
func scaleTopicsRegexp(prefix string) string {
	return "^" + regexp.QuoteMeta(prefix) + `[a-z0-9_]*\.public\.[a-z0-9_]+$`
}

// scaleResult is what the scale phase measured; scaleRows turns it into the table's rows.
type scaleResult struct {
	tables        int
	tablesStart   time.Duration // daemon start to the slot streaming
	tablesFirst   time.Duration // daemon start to the first record, written once streaming
	tablesRate    float64
	tablesRows    int
	tablesPeakRSS int64
	// tablesSchemaRecords are the SCHEMA records of the many-tables run's registry topic,
	// tablesSubjects the distinct subjects among them.
	tablesSchemaRecords, tablesSubjects int

	connectors  int
	oneIdleRSS  int64 // a daemon with one idle connector
	idleRSS     int64 // the daemon with every connector idle
	connStart   time.Duration
	connRate    float64
	connRows    int
	connPeakRSS int64
	connRestart time.Duration
	// schemaRecords are the SCHEMA records of the registry topic after the restart and a row
	// more per connector, subjects the distinct subjects among them.
	schemaRecords, subjects int
	partitionRates          map[int]float64
	partitionRows           int
}

// idlePerConnector is the RSS that each connector beyond the first adds to an idle daemon.
func (r scaleResult) idlePerConnector() float64 {
	if r.connectors < 2 {
		return 0
	}
	return float64(r.idleRSS-r.oneIdleRSS) / float64(r.connectors-1)
}

// addTo adds r's rows to t.
func (r scaleResult) addTo(t *table) {
	if r.tables > 0 {
		r.addTablesTo(t)
	}
	if r.connectors > 0 {
		r.addConnectorsTo(t)
	}
	for _, p := range []int{1, 10} {
		if rate, ok := r.partitionRates[p]; ok {
			t.add(fmt.Sprintf("scale: %d partition(s) throughput", p), rate, "events/s",
				fmt.Sprintf("one table, topic_creation.default.partitions %d, %d rows", p, r.partitionRows))
		}
	}
}

// addTablesTo adds the rows of the many-tables run to t.
func (r scaleResult) addTablesTo(t *table) {
	const mib = 1 << 20
	tablesNote := fmt.Sprintf("one connector, %d tables", r.tables)
	t.add("scale: tables start", r.tablesStart.Seconds(), "s", tablesNote+": daemon start to the slot streaming (publication created)")
	t.add("scale: tables first event", r.tablesFirst.Seconds(), "s", tablesNote+": daemon start to the first record (written once streaming)")
	t.add("scale: tables throughput", r.tablesRate, "events/s", fmt.Sprintf("%s, %d rows spread over all", tablesNote, r.tablesRows))
	t.add("scale: tables peak RSS", float64(r.tablesPeakRSS)/mib, "MiB", tablesNote+", VmHWM")
	t.add("scale: tables schemas registered twice", float64(r.tablesSchemaRecords-r.tablesSubjects), "records",
		fmt.Sprintf("SCHEMA records of the registry topic (%d) minus subjects (%d)", r.tablesSchemaRecords, r.tablesSubjects))
}

// addConnectorsTo adds the rows of the many-connectors run to t.
func (r scaleResult) addConnectorsTo(t *table) {
	const mib = 1 << 20
	connNote := fmt.Sprintf("%d connectors, one database each, one daemon", r.connectors)
	t.add("scale: connectors start", r.connStart.Seconds(), "s", connNote+": daemon start to every slot streaming")
	t.add("scale: one idle connector RSS", float64(r.oneIdleRSS)/mib, "MiB", "VmRSS of a daemon with one idle connector")
	t.add("scale: idle RSS", float64(r.idleRSS)/mib, "MiB", connNote+", idle, VmRSS")
	t.add("scale: idle RSS per connector", float64(r.idleRSS)/mib/float64(max(r.connectors, 1)), "MiB", "idle RSS / connectors")
	t.add("scale: idle RSS per added connector", r.idlePerConnector()/mib, "MiB", "(idle RSS - one idle connector RSS) / (connectors - 1)")
	t.add("scale: connectors throughput", r.connRate, "events/s", fmt.Sprintf("%s, %d rows over all, written at once", connNote, r.connRows))
	t.add("scale: connectors peak RSS", float64(r.connPeakRSS)/mib, "MiB", connNote+", under load, VmHWM")
	t.add("scale: connectors restart", r.connRestart.Seconds(), "s", connNote+": daemon restart (SIGTERM, start) to every slot streaming")
	t.add("scale: schemas registered twice", float64(r.schemaRecords-r.subjects), "records",
		fmt.Sprintf("SCHEMA records of the registry topic (%d) minus subjects (%d), after the restart and a row more per connector", r.schemaRecords, r.subjects))
}

// measureScale runs the three scale runs on a PostgreSQL of the bench's own (a daemon restart
// and 50 replication slots are not for the shared server), or on -scale-pg-port when set.
func (b *bench) measureScale(ctx context.Context, t *table) error {
	port := b.s.scale.pgPort
	if port == 0 {
		var err error
		if port, err = b.startPrivatePostgres(ctx); err != nil {
			return fmt.Errorf("%w: %w", ErrScale, err)
		}
	}
	// Every PostgreSQL call of the bench goes to the scale server until the phase's own
	// cleanups have run; the restore, registered first, runs after them.
	shared := b.s.pgPort
	b.onCleanup("pointing the bench back at the shared PostgreSQL", func(context.Context) error {
		b.s.pgPort = shared
		return nil
	})
	b.s.pgPort = port
	var r scaleResult
	if b.s.scale.selected(scaleRunTables) {
		if err := b.scaleTables(ctx, &r); err != nil {
			return fmt.Errorf("%w: tables: %w", ErrScale, err)
		}
	}
	if b.s.scale.selected(scaleRunConnectors) {
		if err := b.scaleConnectors(ctx, &r); err != nil {
			return fmt.Errorf("%w: connectors: %w", ErrScale, err)
		}
	}
	r.partitionRates = map[int]float64{}
	r.partitionRows = b.s.scale.partitionRows
	for _, p := range []int{1, 10} {
		if !b.s.scale.selected(scaleRunPartitions) {
			break
		}
		rate, err := b.scalePartitions(ctx, p)
		if err != nil {
			return fmt.Errorf("%w: %d partitions: %w", ErrScale, p, err)
		}
		r.partitionRates[p] = rate
	}
	r.addTo(t)
	return nil
}

// startPrivatePostgres starts deploy/dev/postgres.sh in the bench's folder on a free port and
// registers its stop; it returns the port.
func (b *bench) startPrivatePostgres(ctx context.Context) (int, error) {
	dir, err := b.tempDir()
	if err != nil {
		return 0, err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return 0, err
	}
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	portText := addr[strings.LastIndexByte(addr, ':')+1:]
	stack := filepath.Join(dir, "pg-stack")
	// postgres.sh runs the server as the postgres user when run as root: it must reach the
	// folder (os.MkdirTemp makes it private).
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			return 0, fmt.Errorf("opening %s to the postgres user: %w", d, err)
		}
	}
	script := filepath.Join(root, "deploy", "dev", "postgres.sh")
	env := append(os.Environ(), "CDCD_STACK_DIR="+stack, "CDCD_PG_PORT="+portText)
	runScript := func(ctx context.Context, command string) error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, command)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("postgres.sh %s (private, %s): %w\n%s", command, addr, err, out)
		}
		return nil
	}
	b.onCleanup("stopping the private PostgreSQL "+addr, func(ctx context.Context) error {
		return runScript(context.WithoutCancel(ctx), "down")
	})
	b.progress("scale: starting a private PostgreSQL on %s", addr)
	if err := runScript(ctx, "up"); err != nil {
		return 0, err
	}
	var port int
	if _, err := fmt.Sscan(portText, &port); err != nil {
		return 0, fmt.Errorf("port of %s: %w", addr, err)
	}
	return port, nil
}

// newScaleDatabase creates a database for phase holding tables (created with scaleTableSQL;
// none when tables is empty: the bench table then) and registers its drop.
func (b *bench) newScaleDatabase(ctx context.Context, phase string, tables []string) (string, error) {
	name := b.name(phase)
	admin, err := b.connect(ctx, "postgres")
	if err != nil {
		return "", err
	}
	defer func() { _ = admin.Close(context.Background()) }()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	b.onCleanup("dropping database "+name, func(ctx context.Context) error { return b.dropDatabase(ctx, name) })
	conn, err := b.connect(ctx, name)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	batch := &pgx.Batch{}
	for _, t := range tables {
		batch.Queue(fmt.Sprintf(scaleTableSQL, t))
	}
	if len(tables) == 0 {
		batch.Queue(createTableSQL)
	}
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return "", fmt.Errorf("creating the tables of database %s: %w", name, err)
	}
	return name, nil
}

// scaleDaemon is a cdcd running the connectors of a scale run.
type scaleDaemon struct {
	name  string
	yaml  string
	proc  *cdcdProcess
	conns []scaleConnector
}

// startScaleDaemon starts (or, with a used d, starts again) the daemon of d, its log named
// after run.
func (b *bench) startScaleDaemon(d *scaleDaemon, run string) error {
	proc, err := b.startCDCDYAML(d.name+"_"+run, d.yaml)
	if err != nil {
		return err
	}
	d.proc = proc
	return nil
}

// newScaleDaemon writes the config of conns and registers the deletion of its topics.
func (b *bench) newScaleDaemon(phase string, conns []scaleConnector) (*scaleDaemon, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	name := b.name(phase)
	// The connectors are named after the daemon, so that its topics share its prefix.
	conns = slices.Clone(conns)
	for i := range conns {
		conns[i].name = fmt.Sprintf("%s_c%02d", name, i)
	}
	b.onCleanup("deleting topics of "+name, func(ctx context.Context) error { return b.deleteTopicsPrefixed(ctx, name) })
	return &scaleDaemon{name: name, conns: conns,
		yaml: scaleConfigYAML(b.s.kafka, addr, name, b.s.pgHost, b.s.pgPort, b.s.scale.logLevel, conns)}, nil
}

// deleteTopicsPrefixed deletes every topic whose name starts with prefix.
func (b *bench) deleteTopicsPrefixed(ctx context.Context, prefix string) error {
	client, err := b.kafkaClient()
	if err != nil {
		return err
	}
	defer client.Close()
	topics, err := kadm.NewClient(client).ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	var names []string
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return b.deleteTopics(ctx, names)
}

// waitSlots waits until every slot of d's connectors is streaming and returns when that was.
func (b *bench) waitSlots(ctx context.Context, d *scaleDaemon) (time.Time, error) {
	admin, err := b.connect(ctx, "postgres")
	if err != nil {
		return time.Time{}, err
	}
	defer func() { _ = admin.Close(context.Background()) }()
	slots := make([]string, len(d.conns))
	for i, c := range d.conns {
		slots[i] = c.name
	}
	budget := b.s.stall + time.Duration(len(slots))*time.Second
	deadline := time.Now().Add(budget)
	for {
		var active int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = ANY($1)`,
			slots).Scan(&active); err != nil {
			return time.Time{}, fmt.Errorf("counting the active slots: %w", err)
		}
		if active == len(slots) {
			return time.Now(), nil
		}
		if err := d.proc.exitError(); err != nil {
			return time.Time{}, err
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%w: %d of %d slots streaming after %s; last lines of %s:\n%s",
				ErrCDCD, active, len(slots), budget, d.proc.logPath, d.proc.logTail(20))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// scaleConsumer reads every data topic of d's connectors, those cdcd creates while it runs
// included (a short metadata age finds them; a new topic is read from its start).
func (b *bench) scaleConsumer(d *scaleDaemon) (*consumer, error) {
	client, err := b.kafkaClient(
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(scaleTopicsRegexp(d.name)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.MetadataMaxAge(time.Second),
	)
	if err != nil {
		return nil, err
	}
	b.onCleanup("closing the consumer of "+d.name, func(context.Context) error { client.Close(); return nil })
	return &consumer{client: client, topic: d.name + "'s data topics", stall: b.s.stall}, nil
}

// launchScaleDaemon subscribes a consumer to d's topics, starts d and waits until every slot of
// its connectors streams; it returns the consumer, when d started and when the slots streamed.
func (b *bench) launchScaleDaemon(ctx context.Context, d *scaleDaemon) (cons *consumer, start, ready time.Time, err error) {
	if cons, err = b.scaleConsumer(d); err != nil {
		return nil, start, ready, err
	}
	start = time.Now()
	if err = b.startScaleDaemon(d, "run"); err != nil {
		return nil, start, ready, err
	}
	if ready, err = b.waitSlots(ctx, d); err != nil {
		return nil, start, ready, err
	}
	return cons, start, ready, nil
}

// scaleTables measures one connector capturing scaleTables tables.
func (b *bench) scaleTables(ctx context.Context, r *scaleResult) error {
	n := b.s.scale.tables
	tables := make([]string, n)
	for i := range tables {
		tables[i] = scaleTableName(i)
	}
	b.progress("scale: creating %d tables", n)
	db, err := b.newScaleDatabase(ctx, "stab", tables)
	if err != nil {
		return err
	}
	d, err := b.newScaleDaemon("stab", []scaleConnector{{database: db, tables: tables}})
	if err != nil {
		return err
	}
	b.progress("scale: starting cdcd with one connector of %d tables", n)
	cons, start, ready, err := b.launchScaleDaemon(ctx, d)
	if err != nil {
		return err
	}
	r.tables, r.tablesStart = n, ready.Sub(start)
	conn, err := b.connect(ctx, db)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows := b.s.scale.rows
	tx := int64(b.s.txRows)
	written := make(chan error, 1)
	go func() {
		for from := int64(1); from <= int64(rows); from += tx {
			batch := &pgx.Batch{}
			batch.Queue("BEGIN")
			for _, sr := range spreadRows(from, min(from+tx-1, int64(rows)), n) {
				batch.Queue(spreadInsertSQL(tables[sr.table], sr))
			}
			batch.Queue("COMMIT")
			if err := conn.SendBatch(ctx, batch).Close(); err != nil {
				written <- fmt.Errorf("writing rows from %d: %w", from, err)
				return
			}
		}
		written <- nil
	}()
	got, err := cons.consume(ctx, fixed(rows), d.proc.exitError, nil)
	if err != nil {
		return err
	}
	if err := <-written; err != nil {
		return err
	}
	r.tablesFirst = got.first.Sub(start)
	r.tablesRows = got.records
	if span := got.last.Sub(got.first); span > 0 {
		r.tablesRate = float64(got.records) / span.Seconds()
	}
	if n := cons.extra(ctx, extraQuiet); n > 0 {
		return fmt.Errorf("%d records more than written (duplicates?)", n)
	}
	if r.tablesPeakRSS, err = d.proc.peakRSS(); err != nil {
		return err
	}
	if r.tablesSchemaRecords, r.tablesSubjects, err = b.countSchemaRecords(ctx, d.name+"_schemas"); err != nil {
		return err
	}
	b.progress("scale: %d tables: streaming after %s, %d records", n, r.tablesStart.Round(time.Millisecond), got.records)
	return d.proc.stop()
}

// idleRSS waits for p's resident memory to settle (start-up garbage collected) and returns it.
func idleRSS(ctx context.Context, p *cdcdProcess) (int64, error) {
	// The Go runtime returns freed memory within minutes; a few seconds after start the heap
	// has settled enough to compare, and the figure taken is the smallest seen.
	var low int64
	for range 10 {
		rss, err := procmem.Resident(p.cmd.Process.Pid)
		if err != nil {
			return 0, fmt.Errorf("reading the resident memory: %w", err)
		}
		if low == 0 || rss < low {
			low = rss
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return low, nil
}

// scaleConnectors measures scaleConnectors connectors in one daemon, each on its own database.
func (b *bench) scaleConnectors(ctx context.Context, r *scaleResult) error {
	n := b.s.scale.connectors
	b.progress("scale: creating %d databases", n)
	// One more database for the daemon of one connector, measured first.
	conns := make([]scaleConnector, n+1)
	for i := range conns {
		db, err := b.newScaleDatabase(ctx, fmt.Sprintf("sc%02d", i), nil)
		if err != nil {
			return err
		}
		conns[i] = scaleConnector{database: db, tables: []string{benchTable}}
	}
	// One idle connector alone first: the daemon's own cost, which the others add to.
	one, err := b.newScaleDaemon("sone", conns[n:])
	if err != nil {
		return err
	}
	if err := b.startScaleDaemon(one, "run"); err != nil {
		return err
	}
	if _, err := b.waitSlots(ctx, one); err != nil {
		return err
	}
	if r.oneIdleRSS, err = idleRSS(ctx, one.proc); err != nil {
		return err
	}
	if err := one.proc.stop(); err != nil {
		return err
	}
	conns = conns[:n]
	d, err := b.newScaleDaemon("scon", conns)
	if err != nil {
		return err
	}
	b.progress("scale: starting cdcd with %d connectors", n)
	cons, start, ready, err := b.launchScaleDaemon(ctx, d)
	if err != nil {
		return err
	}
	r.connectors, r.connStart = n, ready.Sub(start)
	if r.idleRSS, err = idleRSS(ctx, d.proc); err != nil {
		return err
	}
	b.progress("scale: %d connectors streaming after %s, idle RSS %d MiB", n, r.connStart.Round(time.Millisecond), r.idleRSS>>20)
	// Under load: every database written at once, the same rows each.
	per := max(b.s.scale.connectorRows/n, 1)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range conns {
		wg.Go(func() {
			conn, err := b.connect(ctx, c.database)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = conn.Close(context.Background()) }()
			for from := int64(1); from <= int64(per); from += int64(b.s.txRows) {
				if err := insertRange(ctx, conn, from, min(from+int64(b.s.txRows)-1, int64(per))); err != nil {
					errs <- fmt.Errorf("database %s: %w", c.database, err)
					return
				}
			}
		})
	}
	got, err := cons.consume(ctx, fixed(per*n), d.proc.exitError, nil)
	wg.Wait()
	close(errs)
	if werr := <-errs; werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	r.connRows = got.records
	if span := got.last.Sub(got.first); span > 0 {
		r.connRate = float64(got.records) / span.Seconds()
	}
	if n := cons.extra(ctx, extraQuiet); n > 0 {
		return fmt.Errorf("%d records more than written (duplicates?)", n)
	}
	if r.connPeakRSS, err = d.proc.peakRSS(); err != nil {
		return err
	}
	// The restart: the time for every connector to stream again from its stored offset.
	if err := d.proc.stop(); err != nil {
		return err
	}
	b.progress("scale: restarting cdcd with %d connectors", n)
	start = time.Now()
	if err := b.startScaleDaemon(d, "restart"); err != nil {
		return err
	}
	if ready, err = b.waitSlots(ctx, d); err != nil {
		return err
	}
	r.connRestart = ready.Sub(start)
	// One row more per connector: each encoder, new after the restart, meets its table's
	// schemas again and must find them registered, not register them anew.
	for _, c := range conns {
		conn, err := b.connect(ctx, c.database)
		if err != nil {
			return err
		}
		err = insertRange(ctx, conn, int64(per)+1, int64(per)+1)
		_ = conn.Close(context.Background())
		if err != nil {
			return fmt.Errorf("database %s: %w", c.database, err)
		}
	}
	if _, err := cons.consume(ctx, fixed(n), d.proc.exitError, nil); err != nil {
		return fmt.Errorf("after the restart: %w", err)
	}
	if n := cons.extra(ctx, extraQuiet); n > 0 {
		return fmt.Errorf("%d records more than written after the restart (duplicates?)", n)
	}
	if r.schemaRecords, r.subjects, err = b.countSchemaRecords(ctx, d.name+"_schemas"); err != nil {
		return err
	}
	return d.proc.stop()
}

// countSchemaRecords reads the registry topic from its start to its end and returns its SCHEMA
// records and the distinct subjects among them.
func (b *bench) countSchemaRecords(ctx context.Context, topic string) (records, subjects int, err error) {
	client, err := b.kafkaClient(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return 0, 0, err
	}
	defer client.Close()
	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, 0, fmt.Errorf("the end of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	seen := map[string]bool{}
	deadline := time.Now().Add(b.s.stall)
	for len(want) > 0 {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("reading %s: not at its end after %s", topic, b.s.stall)
		}
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := client.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			// The last offset may be a transaction's commit marker, which is never fetched.
			if rec.Offset+2 >= want[rec.Partition] {
				delete(want, rec.Partition)
			}
			var key struct {
				KeyType string `json:"keytype"`
				Subject string `json:"subject"`
			}
			if json.Unmarshal(rec.Key, &key) == nil && key.KeyType == "SCHEMA" {
				records++
				seen[key.Subject] = true
			}
		})
	}
	return records, len(seen), nil
}

// scalePartitions measures one table whose topic has partitions partitions: the rows are
// written first, then cdcd started on them, as the throughput phase does.
func (b *bench) scalePartitions(ctx context.Context, partitions int) (float64, error) {
	phase := fmt.Sprintf("sp%02d", partitions)
	db, err := b.newScaleDatabase(ctx, phase, nil)
	if err != nil {
		return 0, err
	}
	d, err := b.newScaleDaemon(phase, []scaleConnector{{database: db,
		tables: []string{benchTable}, partitions: partitions}})
	if err != nil {
		return 0, err
	}
	// The slot is created before the writes so that the stream holds them all.
	cons, _, _, err := b.launchScaleDaemon(ctx, d)
	if err != nil {
		return 0, err
	}
	if err := d.proc.freeze(); err != nil {
		return 0, err
	}
	conn, err := b.connect(ctx, db)
	if err != nil {
		return 0, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows := b.s.scale.partitionRows
	b.progress("scale: %d partitions: writing %d rows", partitions, rows)
	for from := int64(1); from <= int64(rows); from += int64(b.s.txRows) {
		if err := insertRange(ctx, conn, from, min(from+int64(b.s.txRows)-1, int64(rows))); err != nil {
			return 0, err
		}
	}
	if err := d.proc.thaw(); err != nil {
		return 0, err
	}
	got, err := cons.consume(ctx, fixed(rows), d.proc.exitError, nil)
	if err != nil {
		return 0, err
	}
	if n := cons.extra(ctx, extraQuiet); n > 0 {
		return 0, fmt.Errorf("%d records more than written (duplicates?)", n)
	}
	var rate float64
	if span := got.last.Sub(got.first); span > 0 {
		rate = float64(got.records) / span.Seconds()
	}
	b.progress("scale: %d partitions: %.0f events/s", partitions, rate)
	return rate, d.proc.stop()
}
