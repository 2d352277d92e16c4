package worker

import (
	"maps"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// states are the states the state gauge reports, one series each.
var states = []api.State{
	api.StateRunning, api.StatePaused, api.StateStopped, api.StateFailed, api.StateUnassigned,
	api.StateRestarting, api.StateDegraded,
}

// collector exports the connectors' metrics, read from the manager at each scrape: the
// pipelines count with atomics on their own paths (per batch or transaction), and nothing is
// computed for Prometheus until it asks.
type collector struct {
	m *Manager

	records, transactions, bytes, aborts *prometheus.Desc
	hangingAborted                       *prometheus.Desc
	state, snapshotRows, snapshotTotal   *prometheus.Desc

	deadLettered, skipped, restarts    *prometheus.Desc
	sourceEvents, sourceBytes          *prometheus.Desc
	lag, uncommittedLag, sourceBacklog *prometheus.Desc
	queueEvents, queueBytes            *prometheus.Desc
	latency, txnDuration               *prometheus.Desc
	txnRecords, txnBytes               *prometheus.Desc
}

// Collector returns the Prometheus collector of the connectors' metrics, labelled by
// connector (and table for a snapshot's, stage for the queues'). Counters and histograms are
// summed over the connector's runs in this process; gauges are the running pipeline's. See
// docs/deployment.md, "Metrics", for each one's meaning.
func (m *Manager) Collector() prometheus.Collector {
	conn := []string{"connector"}
	table := []string{"connector", "table"}
	stage := []string{"connector", "stage"}
	return &collector{
		m: m,
		records: prometheus.NewDesc("cdcd_connector_records_total",
			"Data records committed to Kafka.", conn, nil),
		transactions: prometheus.NewDesc("cdcd_connector_transactions_total",
			"Kafka transactions committed.", conn, nil),
		bytes: prometheus.NewDesc("cdcd_connector_bytes_total",
			"Bytes of the committed data records' keys and values.", conn, nil),
		aborts: prometheus.NewDesc("cdcd_connector_aborts_total",
			"Runs that ended with an open Kafka transaction, aborted.", conn, nil),
		hangingAborted: prometheus.NewDesc("cdcd_connector_hanging_transactions_aborted_total",
			"Hanging Kafka transactions (left open on the connector's partitions, holding read_committed consumers back) the connector aborted.", conn, nil),
		state: prometheus.NewDesc("cdcd_connector_state",
			"1 for the connector's current state, 0 for the others.", []string{"connector", "state"}, nil),
		snapshotRows: prometheus.NewDesc("cdcd_connector_snapshot_rows",
			"Rows read by the snapshot of a table.", table, nil),
		snapshotTotal: prometheus.NewDesc("cdcd_connector_snapshot_rows_estimated",
			"Estimated rows of a table being snapshotted.", table, nil),
		deadLettered: prometheus.NewDesc("cdcd_connector_dead_lettered_total",
			"Poison changes committed to the dead-letter topic (error_policy dlq).", conn, nil),
		skipped: prometheus.NewDesc("cdcd_connector_skipped_total",
			"Poison changes passed over (error_policy skip).", conn, nil),
		restarts: prometheus.NewDesc("cdcd_connector_restarts_total",
			"Runs of the connector's pipeline that failed with a retryable error and were run again.", conn, nil),
		sourceEvents: prometheus.NewDesc("cdcd_connector_source_events_total",
			"Events read from the source: changes, and the begin and commit of each source transaction.", conn, nil),
		sourceBytes: prometheus.NewDesc("cdcd_connector_source_bytes_total",
			"Memory the events read from the source took in the source queue, in bytes.", conn, nil),
		lag: prometheus.NewDesc("cdcd_connector_lag_seconds",
			"Now minus the source commit time of the last source transaction committed to Kafka (absent before the first).", conn, nil),
		uncommittedLag: prometheus.NewDesc("cdcd_connector_uncommitted_lag_seconds",
			"Now minus the source commit time of the oldest source transaction read and not yet committed to Kafka; 0 when everything read is committed.", conn, nil),
		sourceBacklog: prometheus.NewDesc("cdcd_connector_source_backlog_bytes",
			"What the source's server holds past the connector's acknowledged position: PostgreSQL's WAL retained by the slot (pg_current_wal_lsn() - confirmed_flush_lsn), MySQL's binlog bytes behind; measured every 5 s.", conn, nil),
		queueEvents: prometheus.NewDesc("cdcd_connector_queue_events",
			"Events waiting in a queue of the pipeline: stage source (read, not yet encoded) or encode (encoded, not yet in a Kafka transaction).", stage, nil),
		queueBytes: prometheus.NewDesc("cdcd_connector_queue_bytes",
			"Bytes waiting in a queue of the pipeline (stage source: the events' memory; encode: the encoded records).", stage, nil),
		latency: prometheus.NewDesc("cdcd_connector_commit_latency_seconds",
			"Time from a source transaction's commit in the source to the commit of the Kafka transaction holding it.", conn, nil),
		txnDuration: prometheus.NewDesc("cdcd_connector_kafka_transaction_duration_seconds",
			"Time a committed Kafka transaction was open, from its begin to its commit.", conn, nil),
		txnRecords: prometheus.NewDesc("cdcd_connector_kafka_transaction_records",
			"Data records of a committed Kafka transaction.", conn, nil),
		txnBytes: prometheus.NewDesc("cdcd_connector_kafka_transaction_bytes",
			"Bytes of the data records' keys and values of a committed Kafka transaction.", conn, nil),
	}
}

// Describe sends the metrics' descriptions.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.records, c.transactions, c.bytes, c.aborts, c.hangingAborted, c.state,
		c.snapshotRows, c.snapshotTotal, c.deadLettered, c.skipped, c.restarts, c.sourceEvents, c.sourceBytes,
		c.lag, c.uncommittedLag, c.sourceBacklog, c.queueEvents, c.queueBytes, c.latency, c.txnDuration,
		c.txnRecords, c.txnBytes, stepsDesc} {
		ch <- d
	}
}

// Collect sends the metrics of every connector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	if c.m.closed {
		c.m.mu.Unlock()
		return
	}
	conns := maps.Clone(c.m.conns)
	c.m.mu.Unlock()
	now := time.Now()
	for _, name := range slices.Sorted(maps.Keys(conns)) {
		e := conns[name]
		e.mu.Lock()
		exists, state, stats, conn := e.exists, e.state, e.base, e.conn
		// The base's histograms are shared with the entry: add to a copy.
		stats.Latency, stats.TransactionDuration = pipeline.HistogramSnapshot{}, pipeline.HistogramSnapshot{}
		stats.TransactionRecords, stats.TransactionBytes = pipeline.HistogramSnapshot{}, pipeline.HistogramSnapshot{}
		stats.Latency.Add(e.base.Latency)
		stats.TransactionDuration.Add(e.base.TransactionDuration)
		stats.TransactionRecords.Add(e.base.TransactionRecords)
		stats.TransactionBytes.Add(e.base.TransactionBytes)
		var live pipeline.Stats
		if conn != nil {
			live = conn.Stats()
			stats.Add(live)
		}
		e.mu.Unlock()
		if !exists {
			continue
		}
		counter := func(d *prometheus.Desc, v int64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{name}, labels...)...)
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name}, labels...)...)
		}
		histogram := func(d *prometheus.Desc, h pipeline.HistogramSnapshot) {
			ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, h.Buckets, name)
		}
		counter(c.records, stats.Records)
		counter(c.transactions, stats.Transactions)
		counter(c.bytes, stats.Bytes)
		counter(c.aborts, stats.Aborts)
		counter(c.hangingAborted, stats.HangingAborted)
		counter(c.deadLettered, stats.DeadLettered)
		counter(c.skipped, stats.Skipped)
		counter(c.restarts, stats.Restarts)
		counter(c.sourceEvents, stats.SourceEvents)
		counter(c.sourceBytes, stats.SourceBytes)
		histogram(c.latency, stats.Latency)
		histogram(c.txnDuration, stats.TransactionDuration)
		histogram(c.txnRecords, stats.TransactionRecords)
		histogram(c.txnBytes, stats.TransactionBytes)
		for _, s := range states {
			v := 0.0
			if s == state {
				v = 1
			}
			gauge(c.state, v, string(s))
		}
		if conn == nil {
			continue
		}
		if !live.LastSourceCommit.IsZero() {
			gauge(c.lag, max(now.Sub(live.LastSourceCommit).Seconds(), 0))
		}
		uncommitted := 0.0
		if !live.OldestUncommitted.IsZero() {
			uncommitted = max(now.Sub(live.OldestUncommitted).Seconds(), 0)
		}
		gauge(c.uncommittedLag, uncommitted)
		if live.HasBacklog {
			gauge(c.sourceBacklog, float64(live.Backlog.Bytes))
		}
		gauge(c.queueEvents, float64(live.QueueEvents), "source")
		gauge(c.queueBytes, float64(live.QueueBytes), "source")
		gauge(c.queueEvents, float64(live.EncodeQueueEvents), "encode")
		gauge(c.queueBytes, float64(live.EncodeQueueBytes), "encode")
		collectSteps(ch, name, conn)
		seen := make(map[string]bool)
		for _, p := range conn.Progress() {
			if seen[p.Table] {
				continue // a series twice would fail the whole scrape
			}
			seen[p.Table] = true
			gauge(c.snapshotRows, float64(p.Rows), p.Table)
			gauge(c.snapshotTotal, p.EstimatedTotal, p.Table)
		}
	}
}
