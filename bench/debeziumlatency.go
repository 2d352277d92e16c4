package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// latencyComparison is one server's steady-rate latency for both tools.
type latencyComparison struct {
	workload       string
	cdcd, debezium latencyResult
}

// compareLatency runs the latency workload of make bench with cdcd (measureLatency), then the
// same with Debezium on a fresh target: the worker streaming before the first write, then
// latencyRate rows per second for latencyDuration, each record timed from its commit
// (PostgreSQL, source.ts_ms) or its row's updated_at (MariaDB) to its arrival.
func (b *bench) compareLatency(ctx context.Context, home debeziumHome, d database) (latencyComparison, error) {
	c := latencyComparison{workload: fmt.Sprintf("%s, %d rows/s for %s", d.latencyClock, b.s.latencyRate, b.s.latencyDuration)}
	if d.rowPrefix == "" {
		c.workload = "PostgreSQL, " + c.workload
	} else {
		c.workload = "MariaDB, " + c.workload
	}
	var err error
	if c.cdcd, err = b.measureLatency(ctx, d); err != nil {
		return latencyComparison{}, err
	}
	phase := d.phasePrefix + "dbz_lat"
	tg, err := d.newTarget(ctx, phase)
	if err != nil {
		return latencyComparison{}, fmt.Errorf("debezium latency: %w", err)
	}
	var conn connector
	switch t := tg.(type) {
	case *pgTarget:
		conn = b.pgConnector(phase, t, t.slot, "no_data")
	case *mysqlTarget:
		conn = b.mysqlConnector(phase, t)
	}
	run, err := b.startConnectStreaming(ctx, home, conn)
	if err != nil {
		return latencyComparison{}, err
	}
	b.progress("latency: Debezium %s streaming; %d rows/s for %s", conn.name, b.s.latencyRate, b.s.latencyDuration)
	var want atomic.Int64
	want.Store(-1)
	var latencies []float64
	done := make(chan error, 1)
	consumeCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, err := run.cons.consume(consumeCtx, func() int { return int(want.Load()) }, run.proc.exitError,
			func(records []*kgo.Record, seen time.Time) error {
				seenMs := float64(seen.UnixMicro()) / 1000
				for _, r := range records {
					ms, err := jsonCommitMs(r.Value, d.rowTime)
					if err != nil {
						return fmt.Errorf("record %d of %s: %w", r.Offset, r.Topic, err)
					}
					latencies = append(latencies, seenMs-ms)
				}
				return nil
			})
		done <- err
	}()
	w, err := b.writeSteadily(ctx, tg, b.s.latencyDuration)
	if err != nil {
		cancel()
		<-done
		return latencyComparison{}, fmt.Errorf("debezium latency: %w", err)
	}
	want.Store(w.rows)
	if err := <-done; err != nil {
		return latencyComparison{}, fmt.Errorf("debezium latency: %w", err)
	}
	if err := run.proc.stop(); err != nil {
		return latencyComparison{}, fmt.Errorf("debezium latency: stopping: %w", err)
	}
	p := percentiles(latencies, 0.50, 0.99, 1)
	c.debezium = latencyResult{records: len(latencies), p50: p[0], p99: p[1], max: p[2],
		writeRate: float64(w.rows) / w.elapsed.Seconds()}
	return c, nil
}

// jsonEnvelope is what the latency needs of Debezium's JSON value (JsonConverter without
// schemas): source.ts_ms, the commit time in milliseconds, and the row, whose updated_at is
// decoded only for MariaDB: there a DATETIME(6) as epoch microseconds
// (io.debezium.time.MicroTimestamp), for PostgreSQL's timestamptz a string.
type jsonEnvelope struct {
	Source struct {
		TsMs int64 `json:"ts_ms"`
	} `json:"source"`
	After json.RawMessage `json:"after"`
}

// jsonCommitMs is the time a record's latency starts from, in epoch milliseconds: its row's
// updated_at with rowTime, else its source.ts_ms.
func jsonCommitMs(value []byte, rowTime bool) (float64, error) {
	var e jsonEnvelope
	if err := json.Unmarshal(value, &e); err != nil {
		return 0, fmt.Errorf("decoding Debezium's JSON: %w", err)
	}
	if !rowTime {
		if e.Source.TsMs == 0 {
			return 0, fmt.Errorf("no source.ts_ms in %.200s", value)
		}
		return float64(e.Source.TsMs), nil
	}
	var after struct {
		UpdatedAt *int64 `json:"updated_at"`
	}
	if len(e.After) > 0 {
		if err := json.Unmarshal(e.After, &after); err != nil {
			return 0, fmt.Errorf("decoding Debezium's JSON after: %w", err)
		}
	}
	if after.UpdatedAt == nil {
		return 0, fmt.Errorf("no after.updated_at in %.200s", value)
	}
	return float64(*after.UpdatedAt) / 1000, nil
}

// writeLatencyComparison prints the latencies of both tools, one row each, and the ratios.
func writeLatencyComparison(out io.Writer, results []latencyComparison) error {
	if len(results) == 0 {
		return nil
	}
	// A blank line apart from the throughput table, when there is one.
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "latency workload\ttool\trecords\tp50 ms\tp99 ms\tmax ms\twrite rows/s")
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return formatValue(a / b)
	}
	for _, c := range results {
		for _, r := range []struct {
			tool string
			l    latencyResult
		}{{"cdcd", c.cdcd}, {"Debezium (JsonConverter)", c.debezium}} {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", c.workload, r.tool, r.l.records, formatValue(r.l.p50),
				formatValue(r.l.p99), formatValue(r.l.max), formatValue(r.l.writeRate))
		}
		fmt.Fprintf(tw, "%s\tcdcd / Debezium\t\t%s\t%s\t%s\t\n", c.workload,
			ratio(c.cdcd.p50, c.debezium.p50), ratio(c.cdcd.p99, c.debezium.p99), ratio(c.cdcd.max, c.debezium.max))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the latencies: %w", err)
	}
	return nil
}
