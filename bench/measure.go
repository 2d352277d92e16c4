package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// extraQuiet is how long a phase keeps reading after the expected records, to catch duplicates.
const extraQuiet = 2 * time.Second

// target is the database of one phase, on PostgreSQL or MariaDB: it holds the empty bench
// table, writes its rows, and knows where a cdcd started on it begins to read.
type target interface {
	// source is the database part of the config of a cdcd capturing the bench table.
	source() connectorSource
	// streaming tells whether the cdcd of cfg reads the change stream.
	streaming(ctx context.Context, cfg cdcdConfig) (bool, error)
	// insert writes the rows from..to in one autocommitted statement.
	insert(ctx context.Context, from, to int64) error
}

// database is what the phases need of one server: the labels of its figures and the making of
// its targets. The PostgreSQL and the MariaDB ones are in pg.go and mysql.go.
type database struct {
	// rowPrefix starts each of its table rows ("" for PostgreSQL, whose rows came first).
	rowPrefix string
	// phasePrefix starts the names of its phases' objects, so that both servers' never meet.
	phasePrefix string
	// raw, throughput, latency and bigTx are the -only names of its measurements.
	raw, throughput, latency, bigTx string
	// throughputJSON is the -only name of the throughput in format json (formats.go).
	throughputJSON string
	// throughputScraped is the -only name of the throughput with /metrics scraped every
	// second (scrape.go), "" when it has none.
	throughputScraped string
	// snapshot is the -only name of its initial snapshot measurement, "" when it has none.
	snapshot string
	// rawLabel names the raw reader in the table; rawNote says what it read.
	rawLabel, rawNote string
	// latencyClock says which time the latency starts from.
	latencyClock string
	// startBeforeWorkload is set for a server that keeps no changes for a reader not yet
	// connected (MariaDB: cdcd without an offset starts at the binlog's end): the throughput's
	// cdcd is started, streaming, then frozen (SIGSTOP) before the workload is written, and
	// thawed to read it.
	startBeforeWorkload bool
	// rowTime is set when source.ts_ms is too coarse for the latency (MariaDB's whole
	// seconds): the latency then starts at the row's updated_at, and ts_ms is shown besides.
	rowTime bool
	// newTarget creates a target with its bench table for phase.
	newTarget func(ctx context.Context, phase string) (target, error)
	// prepareWorkload creates the throughput's target and what the raw reader needs, calls
	// beforeWrite with the target, then writes the fixed workload.
	prepareWorkload func(ctx context.Context, beforeWrite func(context.Context, target) error) (*workload, error)
}

// workload is the fixed workload of the raw and throughput measurements, written before either
// reads it.
type workload struct {
	target  target
	elapsed time.Duration
	// readRaw times the server's own client reading exactly the workload's changes; each call
	// reads them anew, at most twice.
	readRaw func(ctx context.Context) (rawRead, error)
	// readMinimal, nil when the server has none, times the minimal reader of the same stream
	// (minreader.go), at most twice.
	readMinimal func(ctx context.Context) (rawRead, error)
}

// writeWorkload inserts the fixed workload into t in transactions of txRows rows and returns
// how long it took.
func (b *bench) writeWorkload(ctx context.Context, t target) (time.Duration, error) {
	b.progress("writing the workload: %d rows in transactions of %d", b.s.rows, b.s.txRows)
	start := time.Now()
	for from := int64(1); from <= int64(b.s.rows); from += int64(b.s.txRows) {
		to := min(from+int64(b.s.txRows)-1, int64(b.s.rows))
		if err := t.insert(ctx, from, to); err != nil {
			return 0, fmt.Errorf("workload: %w", err)
		}
	}
	return time.Since(start), nil
}

// measureRaw times read (the server's own client, or the minimal reader) reading the workload:
// the rate the server produces its change stream, with no client work beyond receiving. It
// returns events per second and the reader's times.
func (b *bench) measureRaw(ctx context.Context, what string, read func(context.Context) (rawRead, error)) (float64, rawRead, error) {
	r, err := read(ctx)
	if err != nil {
		return 0, rawRead{}, fmt.Errorf("%s: %w", what, err)
	}
	b.progress("%s: %d events in %s", what, b.s.rows, r.elapsed.Round(time.Millisecond))
	return float64(b.s.rows) / r.elapsed.Seconds(), r, nil
}

// rawLimit bounds a raw reader: the stall budget on top of a generous one second per 10 000
// events, so that a stuck reader does not hang the bench.
func (b *bench) rawLimit() time.Duration {
	return b.s.stall + time.Duration(b.s.rows/10_000)*time.Second
}

// cdcdRun is cdcd started on one target with its topics ready and a consumer of its data topic.
type cdcdRun struct {
	cfg  cdcdConfig
	proc *cdcdProcess
	cons *consumer
}

// startRun prepares the topics, opens the consumer, starts cdcd on t and, when waitReady, waits
// until cdcd streams.
func (b *bench) startRun(ctx context.Context, t target, phase string, waitReady bool) (*cdcdRun, error) {
	cfg, err := b.newCDCDConfig(phase, t.source())
	if err != nil {
		return nil, err
	}
	if err := b.prepareTopics(ctx, cfg); err != nil {
		return nil, err
	}
	cons, err := b.newConsumer(cfg.dataTopic())
	if err != nil {
		return nil, err
	}
	b.onCleanup("closing the consumer of "+cfg.dataTopic(), func(context.Context) error { cons.close(); return nil })
	b.progress("starting cdcd %s", cfg.name)
	proc, err := b.startCDCD(cfg)
	if err != nil {
		return nil, err
	}
	if waitReady {
		if err := b.waitStreaming(ctx, proc, t, cfg); err != nil {
			return nil, err
		}
	}
	return &cdcdRun{cfg: cfg, proc: proc, cons: cons}, nil
}

// finish checks that no record beyond the expected ones arrived, reads the peak memory and
// stops cdcd.
func (r *cdcdRun) finish(ctx context.Context, phase string) (peakRSS int64, err error) {
	u, err := r.finishUsage(ctx, phase, 0)
	return u.peakRSS, err
}

// usage is what a process cost over a measurement.
type usage struct {
	// peakRSS is the process's peak resident set size (VmHWM), in bytes.
	peakRSS int64
	// cpu is the process's CPU time, user and system, over the measured span.
	cpu time.Duration
}

// perEvent returns u's CPU time per event, in microseconds: what a change costs even when the
// machine is not saturated and the rate does not show it.
func (u usage) perEvent(events int) float64 {
	if events <= 0 {
		return 0
	}
	return float64(u.cpu.Microseconds()) / float64(events)
}

// finishUsage is finish that also reads cdcd's CPU time, from cpuFrom (its CPU time when the
// measured span began: 0 for a span from its start) to now.
func (r *cdcdRun) finishUsage(ctx context.Context, phase string, cpuFrom time.Duration) (usage, error) {
	if n := r.cons.extra(ctx, extraQuiet); n > 0 {
		return usage{}, fmt.Errorf("%s: %d records more than written arrived on %s (duplicates?)", phase, n, r.cfg.dataTopic())
	}
	if err := r.proc.exitError(); err != nil {
		return usage{}, fmt.Errorf("%s: %w", phase, err)
	}
	peakRSS, err := r.proc.peakRSS()
	if err != nil {
		return usage{}, fmt.Errorf("%s: %w", phase, err)
	}
	cpu, err := r.proc.cpuTime()
	if err != nil {
		return usage{}, fmt.Errorf("%s: %w", phase, err)
	}
	if err := r.proc.stop(); err != nil {
		return usage{}, fmt.Errorf("%s: stopping: %w", phase, err)
	}
	return usage{peakRSS: peakRSS, cpu: cpu - cpuFrom}, nil
}

// fixed returns a want function for a count known in advance.
func fixed(n int) func() int { return func() int { return n } }

// throughputResult is what the throughput phase measured.
type throughputResult struct {
	records int
	// rate is records over the time from the first to the last record seen.
	rate float64
	// wall runs from cdcd's start to the last record seen.
	wall time.Duration
	// usage's CPU time runs over wall, as of the last record's arrival.
	usage
}

// startFrozen starts the throughput's cdcd on t, waits until it streams, then freezes it: the
// changes written meanwhile wait for it in the server and the socket's buffers. The server drops
// a replica it cannot write to for net_write_timeout (60 s by default), which the workload and
// the raw read must not reach.
func (b *bench) startFrozen(ctx context.Context, t target, phase string) (*cdcdRun, error) {
	run, err := b.startRun(ctx, t, phase, true)
	if err != nil {
		return nil, err
	}
	if err := run.proc.freeze(); err != nil {
		return nil, err
	}
	b.progress("cdcd %s streaming, frozen until the workload is written", run.cfg.name)
	return run, nil
}

// measureThroughput counts the records of the workload as a read_committed consumer sees them,
// from cdcd started on the workload's target, whose stream already holds every change, or, when
// frozen is not nil, from that cdcd thawed.
func (b *bench) measureThroughput(ctx context.Context, d database, w *workload, frozen *cdcdRun) (throughputResult, error) {
	r, _, err := b.measureThroughputScrapes(ctx, d, w, frozen)
	return r, err
}

// measureThroughputScrapes is measureThroughput, which also scrapes /metrics every
// scrapeInterval when the run has a health listener, and returns how many scrapes succeeded.
func (b *bench) measureThroughputScrapes(ctx context.Context, d database, w *workload, frozen *cdcdRun) (throughputResult, int, error) {
	run := frozen
	var start time.Time
	var cpuFrom time.Duration
	if run != nil {
		var err error
		if cpuFrom, err = run.proc.cpuTime(); err != nil {
			return throughputResult{}, 0, fmt.Errorf("throughput: %w", err)
		}
		start = time.Now()
		if err := run.proc.thaw(); err != nil {
			return throughputResult{}, 0, fmt.Errorf("throughput: %w", err)
		}
	} else {
		var err error
		if run, err = b.startRun(ctx, w.target, d.phasePrefix+"tput", false); err != nil {
			return throughputResult{}, 0, fmt.Errorf("throughput: %w", err)
		}
		start = time.Now()
	}
	var sc *scraper
	if run.cfg.healthListen != "" {
		sc = startScraper("http://"+run.cfg.healthListen+"/metrics", scrapeInterval)
		defer sc.halt()
	}
	got, err := run.cons.consume(ctx, fixed(b.s.rows), run.proc.exitError, nil)
	if err != nil {
		return throughputResult{}, 0, fmt.Errorf("throughput: %w", err)
	}
	res := throughputResult{records: got.records, wall: got.last.Sub(start)}
	scrapes := 0
	if sc != nil {
		if scrapes, err = sc.finish(); err != nil {
			return throughputResult{}, 0, fmt.Errorf("throughput: after %d scrapes: %w", scrapes, err)
		}
	}
	if span := got.last.Sub(got.first); span > 0 {
		res.rate = float64(got.records) / span.Seconds()
	}
	b.progress("throughput: %d records in %s after cdcd started", got.records, res.wall.Round(time.Millisecond))
	if res.usage, err = run.finishUsage(ctx, "throughput", cpuFrom); err != nil {
		return throughputResult{}, 0, err
	}
	return res, scrapes, nil
}

// latencyResult is the commit-to-visible latency, in milliseconds.
type latencyResult struct {
	records       int
	p50, p99, max float64
	// tsP50 and tsP99 are from source.ts_ms, when the latency itself is from the row's time.
	tsP50, tsP99 float64
	// writeRate is the rate the writer achieved, rows per second.
	writeRate float64
	// ackP50, ackP99 and ackMax are the latency from the writer's receiving its commit's
	// acknowledgement instead, and statementP50, statementP99 and statementMax the INSERTs'
	// own durations (none for a tool measured without them).
	ackP50, ackP99, ackMax                   float64
	statementP50, statementP99, statementMax float64
	// warmup is how long the workload ran unmeasured before this measurement.
	warmup time.Duration
	// steps are cdcd's latency steps over the run, read from its /metrics (none for a tool
	// that has none).
	steps []stepFigure
}

// measureLatency writes at a steady rate through a running cdcd and measures, for each record,
// the time from its transaction's commit (source.ts_ms) to its being visible to a
// read_committed consumer. The first one of a bench runs the same workload for latencyWarmup
// before, unmeasured: a broker just started serves its request paths interpreted until the
// JVM has compiled them, after thousands of calls, and on this machine the first minute of the
// workload measured a p99 two to five times that of the minutes after (docs/benchmarks.md).
// A broker in production has long been warm.
func (b *bench) measureLatency(ctx context.Context, d database) (latencyResult, error) {
	var warmup time.Duration
	if !b.warmedUp && b.s.latencyWarmup > 0 {
		b.progress("latency: warming up, %d rows/s for %s, not measured", b.s.latencyRate, b.s.latencyWarmup)
		if _, err := b.measureLatencyFor(ctx, d, "latw", b.s.latencyWarmup); err != nil {
			return latencyResult{}, fmt.Errorf("latency warm-up: %w", err)
		}
		b.warmedUp, warmup = true, b.s.latencyWarmup
	}
	r, err := b.measureLatencyFor(ctx, d, "lat", b.s.latencyDuration)
	r.warmup = warmup
	return r, err
}

// measureLatencyFor is one latency run of the given length, its names made with phase.
func (b *bench) measureLatencyFor(ctx context.Context, d database, phase string, duration time.Duration) (latencyResult, error) {
	b.progress("latency: %d rows/s in statements of %d rows for %s", b.s.latencyRate, b.s.latencyBatch, duration)
	t, err := d.newTarget(ctx, d.phasePrefix+phase)
	if err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}
	b.health = true // the steps are read from /metrics
	run, err := b.startRun(ctx, t, d.phasePrefix+phase, true)
	b.health = false
	if err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}
	metricsURL := "http://" + run.cfg.healthListen + "/metrics"
	stepsBefore, err := readSteps(ctx, metricsURL, run.cfg.name)
	if err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}

	// The consumer runs beside the writer; the number of records to wait for is known only
	// when the writer stops.
	var want atomic.Int64
	want.Store(-1)
	times := newCommitTimes(run.cfg.registryURL(), d.rowTime)
	expected := int(duration.Seconds()) * b.s.latencyRate
	latencies := make([]float64, 0, expected)
	var fromTs []float64
	if d.rowTime {
		fromTs = make([]float64, 0, expected)
	}
	// ids and seens are each record's row id and arrival (Unix milliseconds), matched with
	// the writer's acknowledgements once it is done.
	ids := make([]int64, 0, expected)
	seens := make([]float64, 0, expected)
	type consumed struct {
		err error
	}
	done := make(chan consumed, 1)
	consumeCtx, cancelConsume := context.WithCancel(ctx)
	defer cancelConsume()
	go func() {
		_, err := run.cons.consume(consumeCtx, func() int { return int(want.Load()) }, run.proc.exitError,
			func(records []*kgo.Record, seen time.Time) error {
				seenMs := float64(seen.UnixMicro()) / 1000
				for _, r := range records {
					ts, rowUs, err := times.times(consumeCtx, r.Value)
					if err != nil {
						return fmt.Errorf("record %d of %s: %w", r.Offset, r.Topic, err)
					}
					id, err := keyID(r.Key)
					if err != nil {
						return fmt.Errorf("record %d of %s: %w", r.Offset, r.Topic, err)
					}
					ids = append(ids, id)
					seens = append(seens, seenMs)
					if d.rowTime {
						latencies = append(latencies, seenMs-float64(rowUs)/1000)
						fromTs = append(fromTs, seenMs-float64(ts))
					} else {
						latencies = append(latencies, seenMs-float64(ts))
					}
				}
				return nil
			})
		done <- consumed{err: err}
	}()

	w, err := b.writeSteadily(ctx, t, duration)
	if err != nil {
		cancelConsume()
		<-done
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}
	want.Store(w.rows)
	if c := <-done; c.err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", c.err)
	}
	stepsAfter, err := readSteps(ctx, metricsURL, run.cfg.name)
	if err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}
	if _, err := run.finish(ctx, "latency"); err != nil {
		return latencyResult{}, err
	}
	fromAck, err := sinceAcked(ids, seens, w.acked, b.s.latencyBatch)
	if err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}
	p := percentiles(latencies, 0.50, 0.99, 1)
	ts := percentiles(fromTs, 0.50, 0.99)
	ack := percentiles(fromAck, 0.50, 0.99, 1)
	st := percentiles(w.statements, 0.50, 0.99, 1)
	return latencyResult{
		records: len(latencies), p50: p[0], p99: p[1], max: p[2], tsP50: ts[0], tsP99: ts[1],
		writeRate: float64(w.rows) / w.elapsed.Seconds(),
		ackP50:    ack[0], ackP99: ack[1], ackMax: ack[2],
		statementP50: st[0], statementP99: st[1], statementMax: st[2],
		steps: stepsAfter.since(stepsBefore),
	}, nil
}

// sinceAcked returns, for each record seen (its row id and arrival in Unix milliseconds), the
// time since the writer received the acknowledgement of the commit that wrote the row; acked
// holds one time per statement of batch rows (Unix microseconds), ids start at 1. A record can
// arrive before its writer heard of the commit: its figure is then negative.
func sinceAcked(ids []int64, seens []float64, acked []int64, batch int) ([]float64, error) {
	out := make([]float64, len(ids))
	for i, id := range ids {
		k := (id - 1) / int64(batch)
		if id < 1 || k >= int64(len(acked)) {
			return nil, fmt.Errorf("row id %d was not written by the %d statements of %d rows", id, len(acked), batch)
		}
		out[i] = seens[i] - float64(acked[k])/1000
	}
	return out, nil
}

// steadyWrite is what writeSteadily did.
type steadyWrite struct {
	rows    int64
	elapsed time.Duration
	// statements are the durations of the INSERTs in milliseconds, each an autocommitted
	// transaction: its round trip includes the commit's WAL flush.
	statements []float64
	// acked[k] is when the k-th INSERT's commit was acknowledged to the writer (Unix
	// microseconds); it wrote rows k*latencyBatch+1 to (k+1)*latencyBatch.
	acked []int64
}

// writeSteadily inserts latencyBatch rows per statement, one statement per tick, so that
// latencyRate rows per second are written for duration. A tick missed because a statement was
// slow is dropped, not made up: the achieved rate is returned with the rows.
func (b *bench) writeSteadily(ctx context.Context, t target, duration time.Duration) (steadyWrite, error) {
	interval := time.Duration(float64(time.Second) * float64(b.s.latencyBatch) / float64(b.s.latencyRate))
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	start := time.Now()
	end := start.Add(duration)
	n := int(duration / interval)
	w := steadyWrite{statements: make([]float64, 0, n), acked: make([]int64, 0, n)}
	next := int64(1)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return steadyWrite{}, ctx.Err()
		case <-ticker.C:
		}
		last := next + int64(b.s.latencyBatch) - 1
		began := time.Now()
		if err := t.insert(ctx, next, last); err != nil {
			return steadyWrite{}, err
		}
		acked := time.Now()
		w.statements = append(w.statements, float64(acked.Sub(began).Microseconds())/1000)
		w.acked = append(w.acked, acked.UnixMicro())
		next = last + 1
	}
	w.rows, w.elapsed = next-1, time.Since(start)
	return w, nil
}

// bigTxResult is what the single big transaction measured.
type bigTxResult struct {
	records int
	// insert is the INSERT's own duration; total runs from its start to the last record seen.
	insert, total time.Duration
	usage
}

// measureBigTx commits one transaction of bigTxRows rows through a running cdcd and waits for
// every record.
func (b *bench) measureBigTx(ctx context.Context, d database) (bigTxResult, error) {
	b.progress("big transaction: one INSERT of %d rows", b.s.bigTxRows)
	t, err := d.newTarget(ctx, d.phasePrefix+"big")
	if err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	run, err := b.startRun(ctx, t, d.phasePrefix+"big", true)
	if err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	start := time.Now()
	if err := t.insert(ctx, 1, int64(b.s.bigTxRows)); err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	res := bigTxResult{insert: time.Since(start)}
	b.progress("big transaction committed in %s", res.insert.Round(time.Millisecond))
	got, err := run.cons.consume(ctx, fixed(b.s.bigTxRows), run.proc.exitError, nil)
	if err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	res.records, res.total = got.records, got.last.Sub(start)
	if res.usage, err = run.finishUsage(ctx, "big transaction", 0); err != nil {
		return bigTxResult{}, err
	}
	return res, nil
}
