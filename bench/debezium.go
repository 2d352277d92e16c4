package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcd-dev/cdcd/pipeline"
)

// ErrConnect is wrapped by every failure of the Kafka Connect worker that runs Debezium.
var ErrConnect = errors.New("kafka connect")

// The measurements of -debezium: each workload of make bench that both tools can run.
var debeziumMeasurements = []string{measureThroughput, measureMySQLThroughput, measureSnapshot, measureLatency, measureMySQLLatency}

// connectJVMFlags are the heap connect-standalone.sh gives the worker unless KAFKA_HEAP_OPTS says
// otherwise; the other flags are those of kafka-run-class.sh.
var connectJVMFlags = []string{"-Xms256M", "-Xmx2G", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
	"-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true"}

// debeziumConnected is logged by Debezium's binlog connectors once they read the binlog;
// debeziumPGStreaming by its PostgreSQL connector once it reads its slot.
const (
	debeziumConnected   = "Connected to "
	debeziumPGStreaming = "Processing messages"
)

// toolResult is what one tool did on one workload.
type toolResult struct {
	records int
	// rate is records over the time from the first to the last record seen.
	rate float64
	// wall runs from the tool's start (or thaw) to the last record seen.
	wall time.Duration
	// usage's CPU time runs over wall.
	usage
}

// comparison is one workload's result for both tools.
type comparison struct {
	workload       string
	cdcd, debezium toolResult
}

// debeziumHome is the folder deploy/dev/debezium.sh fetch prints: connect/ is the worker's
// classpath, plugins/ its plugin.path.
type debeziumHome string

func (h debeziumHome) classpath() string  { return filepath.Join(string(h), "connect", "*") }
func (h debeziumHome) pluginPath() string { return filepath.Join(string(h), "plugins") }

// version is the version in the name of the jar matching pattern (artifact-VERSION.jar) under the
// folder, or "unknown".
func (h debeziumHome) version(dir, artifact string) string {
	matches, _ := filepath.Glob(filepath.Join(string(h), dir, artifact+"-*.jar"))
	if len(matches) != 1 {
		return "unknown"
	}
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(matches[0]), artifact+"-"), ".jar")
}

// check fails unless the folder holds the worker and both connectors.
func (h debeziumHome) check() error {
	for _, dir := range []string{"connect", "plugins/debezium-postgres", "plugins/debezium-mariadb"} {
		if _, err := os.Stat(filepath.Join(string(h), dir)); err != nil {
			return fmt.Errorf("%w: -debezium %s has no %s (run deploy/dev/debezium.sh fetch): %w", ErrSettings, h, dir, err)
		}
	}
	return nil
}

// describe is the line above the table: what ran, and how Debezium was set up.
func (h debeziumHome) describe() string {
	return fmt.Sprintf("Debezium: Kafka Connect %s standalone (file offsets), PostgreSQL connector %s, MariaDB connector %s; "+
		"JsonConverter without schemas (Confluent's Avro converter is not served by the registries here): "+
		"this favours Debezium, which neither encodes Avro nor registers schemas; producer settings are Connect's defaults",
		h.version("connect", "connect-runtime"), h.version("plugins/debezium-postgres", "debezium-connector-postgres"),
		h.version("plugins/debezium-mariadb", "debezium-connector-mariadb"))
}

// runDebezium runs each selected workload with cdcd, then with Debezium, and prints the
// comparison table.
func (b *bench) runDebezium(ctx context.Context, out io.Writer) error {
	home := debeziumHome(b.s.debeziumHome)
	if err := home.check(); err != nil {
		return err
	}
	fmt.Fprintln(out, b.machine(ctx))
	fmt.Fprintln(out, home.describe())
	if err := b.buildCDCD(ctx); err != nil {
		return err
	}
	var results []comparison
	if b.s.selected(measureThroughput) {
		c, err := b.compareStreamingPG(ctx, home)
		if err != nil {
			return err
		}
		results = append(results, c)
	}
	if b.s.selected(measureMySQLThroughput) {
		c, err := b.compareStreamingMySQL(ctx, home)
		if err != nil {
			return err
		}
		results = append(results, c)
	}
	if b.s.selected(measureSnapshot) {
		c, err := b.compareSnapshot(ctx, home)
		if err != nil {
			return err
		}
		results = append(results, c)
	}
	var latencies []latencyComparison
	for _, d := range []database{b.postgresDatabase(), b.mariadbDatabase()} {
		if !b.s.selected(d.latency) {
			continue
		}
		c, err := b.compareLatency(ctx, home, d)
		if err != nil {
			return err
		}
		latencies = append(latencies, c)
	}
	if err := writeComparison(out, results); err != nil {
		return err
	}
	return writeLatencyComparison(out, latencies)
}

// compareStreamingPG writes the workload once, after the slots of both tools were created; cdcd
// reads its slot first, then Debezium its own. Each starts on a stream that already holds every
// change.
func (b *bench) compareStreamingPG(ctx context.Context, home debeziumHome) (comparison, error) {
	d := b.postgresDatabase()
	var dbzSlot string
	w, err := d.prepareWorkload(ctx, func(ctx context.Context, tg target) error {
		t := tg.(*pgTarget)
		dbzSlot = t.db.name + "_dbz"
		return b.createSlot(ctx, t.db, dbzSlot)
	})
	if err != nil {
		return comparison{}, err
	}
	c := comparison{workload: fmt.Sprintf("PostgreSQL streaming, %d rows (slot before the writes)", b.s.rows)}
	r, err := b.measureThroughput(ctx, d, w, nil)
	if err != nil {
		return comparison{}, err
	}
	c.cdcd = toolResult(r)
	t := w.target.(*pgTarget)
	conn := b.pgConnector("dbz_tput", t, dbzSlot, "no_data")
	if c.debezium, err = b.runConnect(ctx, home, conn, b.s.rows, nil); err != nil {
		return comparison{}, err
	}
	return c, nil
}

// compareStreamingMySQL writes the workload twice, once for each tool, which is started,
// streaming, and frozen before the writes and thawed onto them: MariaDB keeps no changes for a
// reader not yet connected, and a reader frozen for longer than net_write_timeout is dropped.
func (b *bench) compareStreamingMySQL(ctx context.Context, home debeziumHome) (comparison, error) {
	d := b.mariadbDatabase()
	c := comparison{workload: fmt.Sprintf("MariaDB streaming, %d rows (thawed onto the backlog)", b.s.rows)}
	var frozen *cdcdRun
	w, err := d.prepareWorkload(ctx, func(ctx context.Context, tg target) error {
		var err error
		frozen, err = b.startFrozen(ctx, tg, d.phasePrefix+"tput")
		return err
	})
	if err != nil {
		return comparison{}, err
	}
	r, err := b.measureThroughput(ctx, d, w, frozen)
	if err != nil {
		return comparison{}, err
	}
	c.cdcd = toolResult(r)

	var run *connectRun
	_, err = b.prepareMySQLWorkloadNamed(ctx, "my_dbz_tput", func(ctx context.Context, tg target) error {
		var err error
		run, err = b.startConnectFrozen(ctx, home, b.mysqlConnector("my_dbz_tput", tg.(*mysqlTarget)))
		return err
	})
	if err != nil {
		return comparison{}, err
	}
	if c.debezium, err = b.runConnect(ctx, home, run.conn, b.s.rows, run); err != nil {
		return comparison{}, err
	}
	return c, nil
}

// compareSnapshot fills one table with snapshotRows rows; cdcd snapshots it first (creating its
// slot), then Debezium (creating its own).
func (b *bench) compareSnapshot(ctx context.Context, home debeziumHome) (comparison, error) {
	n := b.s.snapshotRows
	t, err := b.openPGTarget(ctx, "snap", "initial")
	if err != nil {
		return comparison{}, fmt.Errorf("snapshot: %w", err)
	}
	b.progress("snapshot: filling %s with %d rows", t.db.name, n)
	for from := int64(1); from <= int64(n); from += snapshotFillRows {
		if err := insertRange(ctx, t.conn, from, min(from+snapshotFillRows-1, int64(n))); err != nil {
			return comparison{}, fmt.Errorf("snapshot: %w", err)
		}
	}
	if _, err := t.conn.Exec(ctx, "VACUUM ANALYZE "+benchTable); err != nil {
		return comparison{}, fmt.Errorf("snapshot: VACUUM ANALYZE %s: %w", benchTable, err)
	}
	c := comparison{workload: fmt.Sprintf("PostgreSQL initial snapshot, %d rows", n)}
	run, err := b.startRun(ctx, t, "snap", false)
	if err != nil {
		return comparison{}, fmt.Errorf("snapshot: %w", err)
	}
	start := time.Now()
	got, err := run.cons.consume(ctx, fixed(n), run.proc.exitError, nil)
	if err != nil {
		return comparison{}, fmt.Errorf("snapshot: %w", err)
	}
	c.cdcd = toolResult{records: got.records, rate: spanRate(got), wall: got.last.Sub(start)}
	if c.cdcd.usage, err = run.finishUsage(ctx, "snapshot", 0); err != nil {
		return comparison{}, err
	}
	b.progress("snapshot: cdcd, %d records in %s", got.records, c.cdcd.wall.Round(time.Millisecond))
	conn := b.pgConnector("dbz_snap", t, t.db.name+"_dbz", "initial")
	if c.debezium, err = b.runConnect(ctx, home, conn, n, nil); err != nil {
		return comparison{}, err
	}
	return c, nil
}

// spanRate is records over the time from the first to the last, 0 for a single instant.
func spanRate(got consumeResult) float64 {
	if span := got.last.Sub(got.first); span > 0 {
		return float64(got.records) / span.Seconds()
	}
	return 0
}

// connector is one Debezium connector's config and the topic its records go to.
type connector struct {
	name  string
	topic string
	// props are the connector's properties, besides name.
	props [][2]string
	// ready, when not nil, tells from the worker's log whether the connector streams.
	ready func(log string) bool
}

// pgConnector is Debezium's PostgreSQL connector on t's table and publication through slot
// (which it creates if it does not exist).
func (b *bench) pgConnector(phase string, t *pgTarget, slot, snapshotMode string) connector {
	name := b.name(phase)
	return connector{name: name, topic: name + ".public." + benchTable, props: [][2]string{
		{"connector.class", "io.debezium.connector.postgresql.PostgresConnector"},
		{"tasks.max", "1"},
		{"database.hostname", b.s.pgHost},
		{"database.port", fmt.Sprint(b.s.pgPort)},
		{"database.user", "postgres"},
		{"database.dbname", t.db.name},
		{"topic.prefix", name},
		{"plugin.name", "pgoutput"},
		{"slot.name", slot},
		{"publication.name", t.db.publication},
		{"publication.autocreate.mode", "disabled"},
		{"table.include.list", "public." + benchTable},
		{"snapshot.mode", snapshotMode},
	}, ready: pgStreaming}
}

// pgStreaming tells whether a line of the worker's log says Debezium's PostgreSQL connector
// streams from its slot.
func pgStreaming(log string) bool {
	return strings.Contains(log, debeziumPGStreaming)
}

// mysqlConnector is Debezium's MariaDB connector on t's table, from the binlog's end, its schema
// history in a file (no topic of its own).
func (b *bench) mysqlConnector(phase string, t *mysqlTarget) connector {
	name := b.name(phase)
	return connector{name: name, topic: name + "." + t.name + "." + benchTable, props: [][2]string{
		{"connector.class", "io.debezium.connector.mariadb.MariaDbConnector"},
		{"tasks.max", "1"},
		{"database.hostname", b.s.mysqlHost},
		{"database.port", fmt.Sprint(b.s.mysqlPort)},
		{"database.user", b.s.mysqlUser},
		{"database.password", b.s.mysqlPassword},
		// Far from the ids cdcd derives from names (mysql.DefaultServerID), and unique per run.
		{"database.server.id", fmt.Sprint(5_400_000 + rand.IntN(100_000))},
		{"database.ssl.mode", "disable"},
		{"topic.prefix", name},
		{"database.include.list", t.name},
		{"table.include.list", t.name + "." + benchTable},
		{"snapshot.mode", "no_data"},
		{"snapshot.locking.mode", "none"},
		{"include.schema.changes", "false"},
		{"schema.history.internal", "io.debezium.storage.file.history.FileSchemaHistory"},
		{"schema.history.internal.file.filename", filepath.Join(b.tmp, name+".history")},
		{"schema.history.internal.store.only.captured.tables.ddl", "true"},
	}, ready: binlogConnected}
}

// binlogConnected tells whether a line of the worker's log says Debezium reads the binlog.
func binlogConnected(log string) bool {
	for line := range strings.Lines(log) {
		if strings.Contains(line, debeziumConnected) && strings.Contains(line, "binlog") {
			return true
		}
	}
	return false
}

// properties renders a Java properties file.
func properties(props [][2]string) string {
	var sb strings.Builder
	for _, p := range props {
		fmt.Fprintf(&sb, "%s=%s\n", p[0], p[1])
	}
	return sb.String()
}

// connectRun is a Kafka Connect standalone worker running one connector, and the consumer of
// the connector's topic.
type connectRun struct {
	conn connector
	proc *cdcdProcess
	cons *consumer
}

// startConnect creates the connector's topic (the broker creates none by itself), opens its
// consumer, and starts a standalone worker with the connector. Its offsets are in a file, so it
// creates no topic and joins no group; everything is removed at cleanup.
func (b *bench) startConnect(ctx context.Context, home debeziumHome, conn connector) (*connectRun, error) {
	if err := b.prepareTopic(ctx, conn.topic); err != nil {
		return nil, err
	}
	cons, err := b.newConsumer(conn.topic)
	if err != nil {
		return nil, err
	}
	b.onCleanup("closing the consumer of "+conn.topic, func(context.Context) error { cons.close(); return nil })
	rest, err := freeAddr()
	if err != nil {
		return nil, err
	}
	worker := [][2]string{
		{"bootstrap.servers", b.s.kafka},
		{"key.converter", "org.apache.kafka.connect.json.JsonConverter"},
		{"value.converter", "org.apache.kafka.connect.json.JsonConverter"},
		{"key.converter.schemas.enable", "false"},
		{"value.converter.schemas.enable", "false"},
		{"offset.storage.file.filename", filepath.Join(b.tmp, conn.name+".offsets")},
		{"plugin.path", home.pluginPath()},
		{"listeners", "http://" + rest},
	}
	files := map[string]string{
		conn.name + "-worker.properties":    properties(worker),
		conn.name + "-connector.properties": properties(append([][2]string{{"name", conn.name}}, conn.props...)),
		conn.name + "-log4j2.xml":           connectLog4j,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(b.tmp, name), []byte(content), 0o600); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	logPath := filepath.Join(b.tmp, conn.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the Kafka Connect log: %w", err)
	}
	defer func() { _ = logFile.Close() }()
	args := append(append([]string{}, connectJVMFlags...),
		"-Dlog4j2.configurationFile=file:"+filepath.Join(b.tmp, conn.name+"-log4j2.xml"),
		"-cp", home.classpath(), "org.apache.kafka.connect.cli.ConnectStandalone",
		filepath.Join(b.tmp, conn.name+"-worker.properties"), filepath.Join(b.tmp, conn.name+"-connector.properties"))
	b.progress("starting Kafka Connect with Debezium connector %s", conn.name)
	// Not CommandContext, as for cdcd: the cleanup stops it.
	cmd := exec.Command("java", args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting java: %w", ErrConnect, err)
	}
	p := &cdcdProcess{cmd: cmd, logPath: logPath, done: make(chan struct{}), kind: ErrConnect}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	b.onCleanup("stopping Kafka Connect "+conn.name, func(context.Context) error { return p.stop() })
	return &connectRun{conn: conn, proc: p, cons: cons}, nil
}

// startConnectFrozen starts the worker, waits until its connector streams, then freezes it, as
// startFrozen does cdcd.
func (b *bench) startConnectFrozen(ctx context.Context, home debeziumHome, conn connector) (*connectRun, error) {
	run, err := b.startConnectStreaming(ctx, home, conn)
	if err != nil {
		return nil, err
	}
	if err := run.proc.freeze(); err != nil {
		return nil, err
	}
	b.progress("Kafka Connect %s streaming, frozen until the workload is written", conn.name)
	return run, nil
}

// startConnectStreaming starts the worker and waits until its connector streams: conn.ready
// says so from the worker's log.
func (b *bench) startConnectStreaming(ctx context.Context, home debeziumHome, conn connector) (*connectRun, error) {
	run, err := b.startConnect(ctx, home, conn)
	if err != nil {
		return nil, err
	}
	// The JVM and the plugin scan take a while on a loaded machine: twice the stall budget.
	deadline := time.Now().Add(2 * b.s.stall)
	for {
		log, err := os.ReadFile(run.proc.logPath)
		if err != nil {
			return nil, fmt.Errorf("%w: reading its log: %w", ErrConnect, err)
		}
		if conn.ready(string(log)) {
			return run, nil
		}
		if err := run.proc.exitError(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: connector %s not streaming after %s; last lines of %s:\n%s",
				ErrConnect, conn.name, 2*b.s.stall, run.proc.logPath, run.proc.logTail(20))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runConnect measures Debezium on a workload already written: it starts the worker with conn, or
// thaws frozen, and counts the records of conn's topic until want arrived. Debezium delivers at
// least once: more records than rows fail the run, as they do cdcd's.
func (b *bench) runConnect(ctx context.Context, home debeziumHome, conn connector, want int, frozen *connectRun) (toolResult, error) {
	run := frozen
	var start time.Time
	var cpuFrom time.Duration
	if run != nil {
		var err error
		if cpuFrom, err = run.proc.cpuTime(); err != nil {
			return toolResult{}, err
		}
		start = time.Now()
		if err := run.proc.thaw(); err != nil {
			return toolResult{}, err
		}
	} else {
		start = time.Now()
		var err error
		if run, err = b.startConnect(ctx, home, conn); err != nil {
			return toolResult{}, err
		}
	}
	got, err := run.cons.consume(ctx, fixed(want), run.proc.exitError, nil)
	if err != nil {
		return toolResult{}, fmt.Errorf("debezium %s: %w", conn.name, err)
	}
	res := toolResult{records: got.records, rate: spanRate(got), wall: got.last.Sub(start)}
	b.progress("debezium %s: %d records in %s", conn.name, got.records, res.wall.Round(time.Millisecond))
	if n := run.cons.extra(ctx, extraQuiet); n > 0 {
		return toolResult{}, fmt.Errorf("debezium %s: %d records more than written arrived on %s", conn.name, n, conn.topic)
	}
	if res.peakRSS, err = run.proc.peakRSS(); err != nil {
		return toolResult{}, err
	}
	cpu, err := run.proc.cpuTime()
	if err != nil {
		return toolResult{}, err
	}
	res.cpu = cpu - cpuFrom
	if err := run.proc.stop(); err != nil {
		return toolResult{}, fmt.Errorf("debezium %s: stopping: %w", conn.name, err)
	}
	return res, nil
}

// prepareTopic creates topic with cdcd's partitions and replication, and registers its deletion.
func (b *bench) prepareTopic(ctx context.Context, topic string) error {
	client, err := b.kafkaClient()
	if err != nil {
		return err
	}
	defer client.Close()
	b.onCleanup("deleting topic "+topic, func(ctx context.Context) error { return b.deleteTopics(ctx, []string{topic}) })
	resp, err := kadm.NewClient(client).CreateTopic(ctx, pipeline.DefaultTopicPartitions, pipeline.DefaultReplicationFactor, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("creating topic %s on Kafka %s: %w", topic, b.s.kafka, err)
	}
	return nil
}

// writeComparison prints one row per tool and workload, and the ratio of cdcd's figures to
// Debezium's; nothing when no workload ran.
func writeComparison(out io.Writer, results []comparison) error {
	if len(results) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\ttool\tevents\tevents/s\twall s\tpeak RSS MiB\tCPU s / M events")
	row := func(workload, tool string, r toolResult) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", workload, tool, r.records, formatValue(r.rate),
			formatValue(r.wall.Seconds()), formatValue(float64(r.peakRSS)/(1<<20)), formatValue(cpuPerMillion(r)))
	}
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return formatValue(a / b)
	}
	for _, c := range results {
		row(c.workload, "cdcd", c.cdcd)
		row(c.workload, "Debezium (JsonConverter)", c.debezium)
		fmt.Fprintf(tw, "%s\t%s\t\t%s\t%s\t%s\t%s\n", c.workload, "cdcd / Debezium",
			ratio(c.cdcd.rate, c.debezium.rate), ratio(c.cdcd.wall.Seconds(), c.debezium.wall.Seconds()),
			ratio(float64(c.cdcd.peakRSS), float64(c.debezium.peakRSS)), ratio(cpuPerMillion(c.cdcd), cpuPerMillion(c.debezium)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the results: %w", err)
	}
	return nil
}

// cpuPerMillion is r's CPU seconds per million events.
func cpuPerMillion(r toolResult) float64 {
	if r.records == 0 {
		return 0
	}
	return r.cpu.Seconds() * 1e6 / float64(r.records)
}

// connectLog4j logs the worker at INFO to its standard output (the run's log file), as
// connect-log4j2.yaml does to the console.
const connectLog4j = `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="INFO">
      <AppenderRef ref="stdout"/>
    </Root>
  </Loggers>
</Configuration>
`
