// Command bench measures cdcd against the local stack (make bench): the rate at which the
// database itself streams a fixed workload (pg_recvlogical, mariadb-binlog), the rate at which
// cdcd turns the same workload into committed Kafka records (in format avro, then json), the
// commit-to-visible latency at a steady write rate, and cdcd's peak memory, including for one
// very large transaction. It measures PostgreSQL by default, MariaDB with -only mysql, both
// with -only all. With -only snapshot (or pg, all) it also times cdcd's initial snapshot of a
// large table against psql's COPY. With -only outage (named alone) it stops a private Kafka
// broker for a minute under a steady write load and reports cdcd's memory and the backlog's
// drain. With -only scale (named alone) it measures one connector of 1,000 tables, 50
// connectors in one daemon and a topic of 10 partitions, on a PostgreSQL of its own
// (scale.go). With -only group (named alone) it runs two daemons as one group, their
// throughput and the failover after a SIGKILL of one (group.go). With -debezium (make
// bench-debezium) it runs the streaming and snapshot workloads with cdcd and then with Debezium
// in Kafka Connect, and prints one table comparing them.
//
// Each measurement runs alone with -only; docs/benchmarks.md explains what each figure means.
// Everything the bench creates (databases, replication slots, topics) is removed when it ends,
// also when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The measurements -only selects.
const (
	measureRaw             = "raw"
	measureThroughput      = "throughput"
	measureLatency         = "latency"
	measureBigTx           = "bigtx"
	measureSnapshot        = "snapshot"
	measureMySQLRaw        = "mysql-raw"
	measureMySQLThroughput = "mysql-throughput"
	measureMySQLLatency    = "mysql-latency"
	measureMySQLBigTx      = "mysql-bigtx"
	// The throughput in format json, on the throughput's workload (formats.go).
	measureThroughputJSON      = "throughput-json"
	measureMySQLThroughputJSON = "mysql-throughput-json"
	// The throughput with cdcd's /metrics scraped every second (scrape.go).
	measureThroughputScraped = "throughput-scraped"
	// measureOutage runs only when named: it takes over two minutes and runs a broker of its own.
	measureOutage = "outage"
)

var (
	// defaultMeasurements run without -only: the PostgreSQL ones but the snapshot, which
	// takes as long as all of them together.
	defaultMeasurements = []string{measureRaw, measureThroughput, measureThroughputJSON, measureThroughputScraped, measureLatency, measureBigTx}
	pgMeasurements      = append(slices.Clip(defaultMeasurements), measureSnapshot)
	mysqlMeasurements   = []string{measureMySQLRaw, measureMySQLThroughput, measureMySQLLatency, measureMySQLBigTx}
	allMeasurements     = slices.Concat(pgMeasurements, mysqlMeasurements)
	// standaloneMeasurements belong to no group.
	// mysql-throughput-json keeps a second cdcd frozen through the workload and the Avro run:
	// past MariaDB's net_write_timeout (60 s) the server drops it, so it runs only when named,
	// with a workload small enough.
	standaloneMeasurements = []string{measureOutage, measureMySQLThroughputJSON, measureScale, measureGroup}
	// groups are -only names that stand for several measurements.
	groups = map[string][]string{"all": allMeasurements, "mysql": mysqlMeasurements, "pg": pgMeasurements}
)

// settings are the bench's knobs; defaults are in defaultSettings only.
type settings struct {
	only      map[string]bool
	pgHost    string
	pgPort    int
	mysqlHost string
	mysqlPort int
	// mysqlUser and mysqlPassword are cdcd's capture user; the bench itself writes as root.
	mysqlUser       string
	mysqlPassword   string
	kafka           string
	rows            int
	txRows          int
	latencyRate     int
	latencyBatch    int
	latencyDuration time.Duration
	// latencyWarmup is how long the latency workload runs, not measured, before the first
	// latency measurement.
	latencyWarmup time.Duration
	bigTxRows     int
	// snapshotRows fill the table the snapshot phase reads.
	snapshotRows int
	// snapshotThreads is the snapshot phase's snapshot_max_threads; 0 keeps cdcd's default.
	snapshotThreads int
	// snapshotCodecs are the kafka.compression values the snapshot phase runs cdcd with, one
	// run each on the same table; empty: one run with cdcd's default.
	snapshotCodecs []string
	// snapshotBatchRecords is the snapshot phase's max_batch_records; 0 keeps cdcd's default.
	snapshotBatchRecords int
	// snapshotChunkRows is the snapshot phase's snapshot_chunk_rows; 0 keeps cdcd's default.
	snapshotChunkRows int
	// snapshotCeiling runs the snapshot phase's ceiling: psql's COPY and Kafka's own producer
	// (kafka-producer-perf-test) with the same records, at the same time (snapshotceiling.go).
	snapshotCeiling bool
	// cpuProfile is a folder where every cdcd run writes its CPU profile (--cpuprofile); the
	// snapshot phase then splits its CPU per row by step (cpusteps.go). Empty: none.
	cpuProfile string
	// stall is how long a phase may see no progress before it fails.
	stall time.Duration
	// outage is how long the outage phase keeps its private broker down; outageRate is the
	// rows per second written meanwhile.
	outage     time.Duration
	outageRate int
	// debeziumHome, when set, makes the run the comparison with Debezium (debezium.go), whose
	// jars it holds (deploy/dev/debezium.sh fetch prints it).
	debeziumHome string
	// scale is the scale phase's (scale.go).
	scale scaleSettings
	// groupRows is the rows the group phase writes to each of its two tables (group.go).
	groupRows int

	// batchLinger is the batch_linger of every cdcd the bench runs (-batch-linger, to compare
	// idle with full on one build); empty: cdcd's default.
	batchLinger string
}

// defaultSettings are sized so that the whole bench takes about five minutes on two cores. The
// addresses follow the stack scripts and their environment overrides.
func defaultSettings() settings {
	return settings{
		only:            map[string]bool{},
		pgHost:          "127.0.0.1",
		pgPort:          envInt("CDCD_PG_PORT", 55432),
		mysqlHost:       "127.0.0.1",
		mysqlPort:       envInt("CDCD_MARIADB_PORT", 33306),
		mysqlUser:       "cdcd",
		mysqlPassword:   "cdcd",
		kafka:           "127.0.0.1:" + envOr("CDCD_KAFKA_PORT", "19092"),
		rows:            1_000_000,
		txRows:          1_000,
		latencyRate:     10_000,
		latencyBatch:    100,
		latencyDuration: 20 * time.Second,
		latencyWarmup:   60 * time.Second,
		bigTxRows:       1_000_000,
		snapshotRows:    5_000_000,
		stall:           60 * time.Second,
		outage:          60 * time.Second,
		outageRate:      2_000,
		scale:           defaultScaleSettings(),
		groupRows:       200_000,
	}
}

// ErrSettings is wrapped by every invalid command line.
var ErrSettings = errors.New("invalid bench settings")

func (s settings) validate() error {
	for m := range s.only {
		if s.debeziumHome != "" && !slices.Contains(debeziumMeasurements, m) {
			return fmt.Errorf("%w: with -debezium, -only %q is not one of %s", ErrSettings, m,
				strings.Join(debeziumMeasurements, ", "))
		}
		if !slices.Contains(allMeasurements, m) && !slices.Contains(standaloneMeasurements, m) {
			return fmt.Errorf("%w: -only %q is not one of %s", ErrSettings, m,
				strings.Join(slices.Concat(allMeasurements, standaloneMeasurements), ", "))
		}
	}
	switch {
	case s.rows < 1 || s.txRows < 1:
		return fmt.Errorf("%w: -rows and -tx-rows must be positive", ErrSettings)
	case s.batchLinger != "" && s.batchLinger != "idle" && s.batchLinger != "full":
		return fmt.Errorf("%w: -batch-linger %q is not idle or full", ErrSettings, s.batchLinger)
	case s.latencyRate < 1 || s.latencyBatch < 1:
		return fmt.Errorf("%w: -latency-rate and -latency-batch must be positive", ErrSettings)
	case s.latencyBatch > s.latencyRate:
		return fmt.Errorf("%w: -latency-batch %d is more than -latency-rate %d rows per second",
			ErrSettings, s.latencyBatch, s.latencyRate)
	case s.latencyWarmup < 0:
		return fmt.Errorf("%w: -latency-warmup must not be negative", ErrSettings)
	case s.latencyDuration < time.Second:
		return fmt.Errorf("%w: -latency-duration must be at least 1s", ErrSettings)
	case s.bigTxRows < 1:
		return fmt.Errorf("%w: -bigtx-rows must be positive", ErrSettings)
	case s.snapshotRows < 1:
		return fmt.Errorf("%w: -snapshot-rows must be positive", ErrSettings)
	case s.snapshotThreads < 0 || s.snapshotBatchRecords < 0 || s.snapshotChunkRows < 0:
		return fmt.Errorf("%w: -snapshot-threads, -snapshot-batch-records and -snapshot-chunk-rows cannot be negative", ErrSettings)
	case slices.ContainsFunc(s.snapshotCodecs, func(c string) bool { return !slices.Contains(snapshotCodecNames, c) }):
		return fmt.Errorf("%w: -snapshot-codecs %s: each must be one of %s", ErrSettings,
			strings.Join(s.snapshotCodecs, ","), strings.Join(snapshotCodecNames, ", "))
	case s.stall < time.Second:
		return fmt.Errorf("%w: -stall must be at least 1s", ErrSettings)
	case s.outage < time.Second || s.outageRate < 100:
		return fmt.Errorf("%w: -outage must be at least 1s and -outage-rate at least 100 rows/s", ErrSettings)
	case s.scale.validate() != nil:
		return s.scale.validate()
	case s.pgPort < 1 || s.pgPort > 65535:
		return fmt.Errorf("%w: -pg-port %d is not a TCP port", ErrSettings, s.pgPort)
	case s.mysqlPort < 1 || s.mysqlPort > 65535:
		return fmt.Errorf("%w: -mysql-port %d is not a TCP port", ErrSettings, s.mysqlPort)
	case s.mysqlUser == "" || strings.ContainsAny(s.mysqlUser+s.mysqlPassword, " :#'\"{}[],\n"):
		// They go unquoted into cdcd's YAML config.
		return fmt.Errorf("%w: -mysql-user must be set, and it and -mysql-password be plain words", ErrSettings)
	}
	return nil
}

// selected tells whether measurement m runs: the default ones when -only is empty.
func (s settings) selected(m string) bool {
	if len(s.only) == 0 {
		if s.debeziumHome != "" {
			return slices.Contains(debeziumMeasurements, m)
		}
		return slices.Contains(defaultMeasurements, m)
	}
	return s.only[m]
}

func parseSettings(args []string, stderr io.Writer) (settings, error) {
	s := defaultSettings()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", "", "run only these measurements, comma-separated: "+
		strings.Join(slices.Concat(allMeasurements, standaloneMeasurements), ", ")+
		"; or all, mysql, pg (default: "+strings.Join(defaultMeasurements, ",")+")")
	fs.StringVar(&s.pgHost, "pg-host", s.pgHost, "PostgreSQL host")
	fs.IntVar(&s.pgPort, "pg-port", s.pgPort, "PostgreSQL port (user postgres, trust)")
	fs.StringVar(&s.mysqlHost, "mysql-host", s.mysqlHost, "MariaDB host")
	fs.IntVar(&s.mysqlPort, "mysql-port", s.mysqlPort, "MariaDB port (the bench writes as root without password)")
	fs.StringVar(&s.mysqlUser, "mysql-user", s.mysqlUser, "MariaDB user cdcd captures as")
	fs.StringVar(&s.mysqlPassword, "mysql-password", s.mysqlPassword, "password of -mysql-user")
	fs.StringVar(&s.kafka, "kafka", s.kafka, "Kafka broker host:port")
	fs.IntVar(&s.rows, "rows", s.rows, "rows of the fixed workload (raw and throughput)")
	fs.IntVar(&s.txRows, "tx-rows", s.txRows, "rows per transaction of the fixed workload")
	fs.IntVar(&s.latencyRate, "latency-rate", s.latencyRate, "rows written per second during the latency run")
	fs.IntVar(&s.latencyBatch, "latency-batch", s.latencyBatch, "rows per single-statement transaction of the latency run")
	fs.DurationVar(&s.latencyDuration, "latency-duration", s.latencyDuration, "length of the latency run")
	fs.DurationVar(&s.latencyWarmup, "latency-warmup", s.latencyWarmup, "how long the latency workload runs unmeasured, through a cdcd of its own, before the first latency run (0: none)")
	fs.StringVar(&s.batchLinger, "batch-linger", s.batchLinger, "batch_linger of cdcd's connectors: idle or full (empty: cdcd's default, idle)")
	fs.IntVar(&s.bigTxRows, "bigtx-rows", s.bigTxRows, "rows of the single big transaction")
	fs.IntVar(&s.snapshotRows, "snapshot-rows", s.snapshotRows, "rows of the table the snapshot phase reads")
	fs.IntVar(&s.snapshotThreads, "snapshot-threads", s.snapshotThreads, "snapshot_max_threads of the snapshot phase (0: cdcd's default)")
	codecs := fs.String("snapshot-codecs", "", "kafka.compression values of the snapshot phase, one cdcd run each on the same table, comma-separated: "+
		strings.Join(snapshotCodecNames, ", ")+" (default: one run, cdcd's default snappy)")
	fs.IntVar(&s.snapshotBatchRecords, "snapshot-batch-records", s.snapshotBatchRecords, "max_batch_records of the snapshot phase's connector (0: cdcd's default)")
	fs.IntVar(&s.snapshotChunkRows, "snapshot-chunk-rows", s.snapshotChunkRows, "snapshot_chunk_rows of the snapshot phase's connector (0: cdcd's default)")
	fs.BoolVar(&s.snapshotCeiling, "snapshot-ceiling", s.snapshotCeiling, "snapshot phase: also run psql's COPY and kafka-producer-perf-test together, with the snapshot's record size and codec")
	fs.StringVar(&s.cpuProfile, "cpuprofile", s.cpuProfile, "folder where each cdcd run writes its CPU profile; the snapshot phase then prints its CPU per row by step")
	fs.DurationVar(&s.stall, "stall", s.stall, "fail a phase that makes no progress for this long")
	fs.DurationVar(&s.outage, "outage", s.outage, "how long the outage phase keeps its private Kafka down")
	fs.IntVar(&s.outageRate, "outage-rate", s.outageRate, "rows per second written during the outage phase")
	fs.StringVar(&s.debeziumHome, "debezium", s.debeziumHome, "compare with Debezium instead, on the workloads "+
		strings.Join(debeziumMeasurements, ", ")+", from the jars in this folder (make bench-debezium; deploy/dev/debezium.sh fetch prints it)")
	s.scale.flags(fs)
	fs.IntVar(&s.groupRows, "group-rows", s.groupRows, "rows the group phase writes to each of its two tables")
	if err := fs.Parse(args); err != nil {
		return s, fmt.Errorf("%w: %w", ErrSettings, err)
	}
	for c := range strings.SplitSeq(*codecs, ",") {
		if c = strings.TrimSpace(c); c != "" {
			s.snapshotCodecs = append(s.snapshotCodecs, c)
		}
	}
	for m := range strings.SplitSeq(*only, ",") {
		m = strings.TrimSpace(m)
		if g, ok := groups[m]; ok {
			for _, gm := range g {
				s.only[gm] = true
			}
		} else if m != "" {
			s.only[m] = true
		}
	}
	return s, s.validate()
}

func main() {
	s, err := parseSettings(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// An interrupt cancels the measurements; the cleanups still run, on their own deadlines.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, s, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// run performs the selected measurements in order and prints the table. A failed measurement
// stops the bench: later figures would be measured on a machine in an unknown state.
func run(ctx context.Context, s settings, out io.Writer) (err error) {
	b := &bench{s: s, log: os.Stderr}
	defer func() {
		b.failed = err != nil
		b.cleanup()
	}()
	if s.debeziumHome != "" {
		return b.runDebezium(ctx, out)
	}
	fmt.Fprintln(out, b.machine(ctx))
	var t table
	dbs := []database{b.postgresDatabase(), b.mariadbDatabase()}
	for _, d := range dbs {
		if s.selected(d.throughput) || s.selected(d.throughputJSON) || s.selected(d.throughputScraped) || s.selected(d.latency) ||
			s.selected(d.bigTx) || s.selected(d.snapshot) {
			if err := b.buildCDCD(ctx); err != nil {
				return err
			}
			break
		}
	}
	if (s.selected(measureOutage) || s.selected(measureScale) || s.selected(measureGroup)) && b.cdcdBin == "" {
		if err := b.buildCDCD(ctx); err != nil {
			return err
		}
	}
	for _, d := range dbs {
		if err := b.runDatabase(ctx, d, &t); err != nil {
			return err
		}
	}
	if s.selected(measureOutage) {
		if err := b.measureOutage(ctx, &t); err != nil {
			return err
		}
	}
	if s.selected(measureScale) {
		if err := b.measureScale(ctx, &t); err != nil {
			return err
		}
	}
	if s.selected(measureGroup) {
		if err := b.measureGroup(ctx, &t); err != nil {
			return err
		}
	}
	return t.write(out)
}

// runDatabase performs the selected measurements of one database, adding its rows to t.
func (b *bench) runDatabase(ctx context.Context, d database, t *table) error {
	s := b.s
	add := func(measurement string, value float64, unit, note string) {
		t.add(d.rowPrefix+measurement, value, unit, note)
	}
	if s.selected(d.raw) || s.selected(d.throughput) || s.selected(d.throughputJSON) || s.selected(d.throughputScraped) {
		var frozen *cdcdRun
		var jsonRun formatRun
		var scrapedTarget target
		beforeWrite := func(ctx context.Context, tg target) error {
			if s.selected(d.throughputJSON) {
				var err error
				if jsonRun, err = b.prepareFormatRun(ctx, d, tg, "json"); err != nil {
					return err
				}
			}
			if s.selected(d.throughputScraped) {
				var err error
				if scrapedTarget, err = b.ownSlot(ctx, tg, "scraped"); err != nil {
					return fmt.Errorf("throughput scraped: %w", err)
				}
			}
			if !d.startBeforeWorkload || !s.selected(d.throughput) {
				return nil
			}
			var err error
			frozen, err = b.startFrozen(ctx, tg, d.phasePrefix+"tput")
			return err
		}
		w, err := d.prepareWorkload(ctx, beforeWrite)
		if err != nil {
			return err
		}
		add("workload insert rate", float64(s.rows)/w.elapsed.Seconds(), "rows/s",
			fmt.Sprintf("%d rows in transactions of %d", s.rows, s.txRows))
		// The ceilings are read around cdcd, raw then minimal before it and minimal then raw
		// after it, so that neither tool nor reader alone meets the cold WAL; the ratios use the
		// faster of each reader's two reads.
		var c ceilings
		if s.selected(d.raw) {
			if err := b.readCeilings(ctx, d, w, &c, false); err != nil {
				return err
			}
		}
		if s.selected(d.throughput) {
			r, err := b.measureThroughput(ctx, d, w, frozen)
			if err != nil {
				return err
			}
			if s.selected(d.raw) {
				if err := b.readCeilings(ctx, d, w, &c, true); err != nil {
					return err
				}
			}
			c.add(add, d, s.rows)
			add("cdcd throughput", r.rate, "events/s", "first to last record seen by a read_committed consumer")
			wallNote := fmt.Sprintf("from cdcd start to the last of %d records", r.records)
			if frozen != nil {
				wallNote = fmt.Sprintf("from cdcd thawed to the last of %d records", r.records)
			}
			add("cdcd wall time", r.wall.Seconds(), "s", wallNote)
			add("cdcd CPU per event (throughput)", r.perEvent(r.records), "µs/event", "process CPU time (user+system) over the wall time / records")
			if raw := c.best(c.raw); raw > 0 {
				add("cdcd / raw", r.rate/raw, "ratio", "throughput over the faster raw read")
				// Both from the start of the process to the last event: a first Kafka commit
				// that waits while the source reads on makes the first-to-last rate a burst.
				add("cdcd / raw, whole runs", float64(r.records)/r.wall.Seconds()/raw, "ratio",
					"records / cdcd wall time, over the faster raw read (both include start-up)")
			}
			if minimal := c.best(c.minimal); minimal > 0 {
				add("cdcd / minimal reader", r.rate/minimal, "ratio", "throughput over the faster minimal read: the share of the read rate cdcd keeps")
			}
			add("cdcd peak RSS (throughput)", float64(r.peakRSS)/(1<<20), "MiB", "VmHWM")
		} else {
			c.add(add, d, s.rows)
		}
		if s.selected(d.throughputJSON) {
			r, err := b.measureFormatThroughput(ctx, d, w, jsonRun)
			if err != nil {
				return err
			}
			add("cdcd throughput (json)", r.rate, "events/s", "as cdcd throughput, the same workload, format json (schemas on)")
			add("cdcd CPU per event (json)", r.perEvent(r.records), "µs/event", "as cdcd CPU per event (throughput), format json")
		}
		if s.selected(d.throughputScraped) {
			r, err := b.measureScrapedThroughput(ctx, d, w, scrapedTarget)
			if err != nil {
				return err
			}
			addScraped(t, d.rowPrefix, r)
		}
	}
	if s.selected(d.latency) {
		r, err := b.measureLatency(ctx, d)
		if err != nil {
			return err
		}
		note := fmt.Sprintf("%s, %d records", d.latencyClock, r.records)
		add("latency p50", r.p50, "ms", note)
		add("latency p99", r.p99, "ms", note)
		add("latency max", r.max, "ms", note)
		if d.rowTime {
			tsNote := fmt.Sprintf("commit (source.ts_ms, whole seconds) to visible, %d records", r.records)
			add("latency p50 (ts_ms)", r.tsP50, "ms", tsNote)
			add("latency p99 (ts_ms)", r.tsP99, "ms", tsNote)
		}
		ackNote := fmt.Sprintf("the writer receiving its commit's acknowledgement to visible, %d records", r.records)
		add("latency p50 (acknowledged)", r.ackP50, "ms", ackNote)
		add("latency p99 (acknowledged)", r.ackP99, "ms", ackNote)
		add("latency max (acknowledged)", r.ackMax, "ms", ackNote)
		if r.warmup > 0 {
			add("latency warm-up", r.warmup.Seconds(), "s", "the same workload through a cdcd of its own before this run, not measured")
		}
		add("latency write rate achieved", r.writeRate, "rows/s",
			fmt.Sprintf("target %d rows/s in statements of %d rows for %s", s.latencyRate, s.latencyBatch, s.latencyDuration))
		stNote := "one autocommitted INSERT, from sending it to its commit's acknowledgement (the WAL flush included)"
		add("latency write statement p50", r.statementP50, "ms", stNote)
		add("latency write statement p99", r.statementP99, "ms", stNote)
		add("latency write statement max", r.statementMax, "ms", stNote)
		addSteps(add, r)
	}
	if s.selected(d.bigTx) {
		r, err := b.measureBigTx(ctx, d)
		if err != nil {
			return err
		}
		add("big transaction time", r.total.Seconds(), "s",
			fmt.Sprintf("one INSERT of %d rows, from its start to the last record (insert %.1fs, then %.1fs)",
				s.bigTxRows, r.insert.Seconds(), (r.total-r.insert).Seconds()))
		add("big transaction records", float64(r.records), "records", fmt.Sprintf("all %d arrived", s.bigTxRows))
		add("cdcd CPU per event (big transaction)", r.perEvent(r.records), "µs/event", "process CPU time (user+system) from cdcd start to the last record / records")
		add("cdcd peak RSS (big transaction)", float64(r.peakRSS)/(1<<20), "MiB", "VmHWM")
	}
	if s.selected(d.snapshot) {
		if err := b.measureSnapshot(ctx, add); err != nil {
			return err
		}
	}
	return nil
}

// envOr returns the environment variable name, or fallback when it is empty.
func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// envInt returns the environment variable name as a number, or fallback when it is empty or not
// a number (validate then reports the port that is used).
func envInt(name string, fallback int) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		return fallback
	}
	return n
}
