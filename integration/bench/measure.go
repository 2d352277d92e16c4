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

// cdcdRun is cdcd started on one slot with its topics ready and a consumer of its data topic.
type cdcdRun struct {
	cfg  cdcdConfig
	proc *cdcdProcess
	cons *consumer
}

// startRun prepares the topics, opens the consumer, starts cdcd on slot and, when waitReady,
// waits until cdcd streams from the slot.
func (b *bench) startRun(ctx context.Context, db *pgDatabase, phase, slot string, waitReady bool) (*cdcdRun, error) {
	cfg, err := b.newCDCDConfig(db, phase, slot)
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
	b.progress("starting cdcd %s on slot %s", cfg.name, slot)
	proc, err := b.startCDCD(cfg)
	if err != nil {
		return nil, err
	}
	if waitReady {
		if err := b.waitStreaming(ctx, proc, db, slot); err != nil {
			return nil, err
		}
	}
	return &cdcdRun{cfg: cfg, proc: proc, cons: cons}, nil
}

// finish checks that no record beyond the expected ones arrived, reads the peak memory and
// stops cdcd.
func (r *cdcdRun) finish(ctx context.Context, phase string) (peakRSS int64, err error) {
	if n := r.cons.extra(ctx, extraQuiet); n > 0 {
		return 0, fmt.Errorf("%s: %d records more than written arrived on %s (duplicates?)", phase, n, r.cfg.dataTopic())
	}
	if err := r.proc.exitError(); err != nil {
		return 0, fmt.Errorf("%s: %w", phase, err)
	}
	peakRSS, err = r.proc.peakRSS()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", phase, err)
	}
	if err := r.proc.stop(); err != nil {
		return 0, fmt.Errorf("%s: stopping: %w", phase, err)
	}
	return peakRSS, nil
}

// fixed returns a want function for a count known in advance.
func fixed(n int) func() int { return func() int { return n } }

// throughputResult is what the throughput phase measured.
type throughputResult struct {
	records int
	// rate is records over the time from the first to the last record seen.
	rate float64
	// wall runs from cdcd's start to the last record seen.
	wall    time.Duration
	peakRSS int64
}

// measureThroughput starts cdcd on the workload's slot, already holding every change, and
// counts the records as a read_committed consumer sees them.
func (b *bench) measureThroughput(ctx context.Context, w *workload) (throughputResult, error) {
	run, err := b.startRun(ctx, w.db, "tput", w.cdcdSlot, false)
	if err != nil {
		return throughputResult{}, fmt.Errorf("throughput: %w", err)
	}
	start := time.Now()
	got, err := run.cons.consume(ctx, fixed(b.s.rows), run.proc.exitError, nil)
	if err != nil {
		return throughputResult{}, fmt.Errorf("throughput: %w", err)
	}
	res := throughputResult{records: got.records, wall: got.last.Sub(start)}
	if span := got.last.Sub(got.first); span > 0 {
		res.rate = float64(got.records) / span.Seconds()
	}
	b.progress("throughput: %d records in %s after cdcd started", got.records, res.wall.Round(time.Millisecond))
	if res.peakRSS, err = run.finish(ctx, "throughput"); err != nil {
		return throughputResult{}, err
	}
	return res, nil
}

// latencyResult is the commit-to-visible latency, in milliseconds.
type latencyResult struct {
	records       int
	p50, p99, max float64
	// writeRate is the rate the writer achieved, rows per second.
	writeRate float64
}

// measureLatency writes at a steady rate through a running cdcd and measures, for each record,
// the time from its transaction's commit (source.ts_ms) to its being visible to a
// read_committed consumer.
func (b *bench) measureLatency(ctx context.Context) (latencyResult, error) {
	b.progress("latency: %d rows/s in statements of %d rows for %s", b.s.latencyRate, b.s.latencyBatch, b.s.latencyDuration)
	db, err := b.newDatabase(ctx, "lat")
	if err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}
	slot := db.name + "_cdcd"
	if err := b.createSlot(ctx, db, slot); err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}
	run, err := b.startRun(ctx, db, "lat", slot, true)
	if err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}

	// The consumer runs beside the writer; the number of records to wait for is known only
	// when the writer stops.
	var want atomic.Int64
	want.Store(-1)
	times := newCommitTimes(run.cfg.registryURL())
	expected := int(b.s.latencyDuration.Seconds()) * b.s.latencyRate
	latencies := make([]float64, 0, expected)
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
					ts, err := times.tsMs(consumeCtx, r.Value)
					if err != nil {
						return fmt.Errorf("record %d of %s: %w", r.Offset, r.Topic, err)
					}
					latencies = append(latencies, seenMs-float64(ts))
				}
				return nil
			})
		done <- consumed{err: err}
	}()

	written, elapsed, err := b.writeSteadily(ctx, db)
	if err != nil {
		cancelConsume()
		<-done
		return latencyResult{}, fmt.Errorf("latency: %w", err)
	}
	want.Store(written)
	if c := <-done; c.err != nil {
		return latencyResult{}, fmt.Errorf("latency: %w", c.err)
	}
	if _, err := run.finish(ctx, "latency"); err != nil {
		return latencyResult{}, err
	}
	p := percentiles(latencies, 0.50, 0.99, 1)
	return latencyResult{
		records: len(latencies), p50: p[0], p99: p[1], max: p[2],
		writeRate: float64(written) / elapsed.Seconds(),
	}, nil
}

// writeSteadily inserts latencyBatch rows per statement, one statement per tick, so that
// latencyRate rows per second are written for latencyDuration. A tick missed because a
// statement was slow is dropped, not made up: the achieved rate is returned with the rows.
func (b *bench) writeSteadily(ctx context.Context, db *pgDatabase) (rows int64, elapsed time.Duration, err error) {
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	interval := time.Duration(float64(time.Second) * float64(b.s.latencyBatch) / float64(b.s.latencyRate))
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	start := time.Now()
	end := start.Add(b.s.latencyDuration)
	next := int64(1)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-ticker.C:
		}
		last := next + int64(b.s.latencyBatch) - 1
		if err := insertRange(ctx, conn, next, last); err != nil {
			return 0, 0, err
		}
		next = last + 1
	}
	return next - 1, time.Since(start), nil
}

// bigTxResult is what the single big transaction measured.
type bigTxResult struct {
	records int
	// insert is the INSERT's own duration; total runs from its start to the last record seen.
	insert, total time.Duration
	peakRSS       int64
}

// measureBigTx commits one transaction of bigTxRows rows through a running cdcd and waits for
// every record.
func (b *bench) measureBigTx(ctx context.Context) (bigTxResult, error) {
	b.progress("big transaction: one INSERT of %d rows", b.s.bigTxRows)
	db, err := b.newDatabase(ctx, "big")
	if err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	slot := db.name + "_cdcd"
	if err := b.createSlot(ctx, db, slot); err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	run, err := b.startRun(ctx, db, "big", slot, true)
	if err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	start := time.Now()
	if err := insertRange(ctx, conn, 1, int64(b.s.bigTxRows)); err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	res := bigTxResult{insert: time.Since(start)}
	b.progress("big transaction committed in %s", res.insert.Round(time.Millisecond))
	got, err := run.cons.consume(ctx, fixed(b.s.bigTxRows), run.proc.exitError, nil)
	if err != nil {
		return bigTxResult{}, fmt.Errorf("big transaction: %w", err)
	}
	res.records, res.total = got.records, got.last.Sub(start)
	if res.peakRSS, err = run.finish(ctx, "big transaction"); err != nil {
		return bigTxResult{}, err
	}
	return res, nil
}
