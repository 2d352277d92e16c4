package worker

import (
	"maps"
	"slices"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/prometheus/client_golang/prometheus"
)

// states are the states the state gauge reports, one series each.
var states = []api.State{
	api.StateRunning, api.StatePaused, api.StateStopped, api.StateFailed, api.StateUnassigned,
	api.StateRestarting, api.StateDegraded,
}

// collector exports the connectors' metrics, read from the manager at each scrape.
type collector struct {
	m *Manager

	records, transactions, bytes, aborts *prometheus.Desc
	hangingAborted                       *prometheus.Desc
	state, snapshotRows, snapshotTotal   *prometheus.Desc
}

// Collector returns the Prometheus collector of the connectors' metrics, labelled by connector:
// cdcd_connector_records_total, _transactions_total, _bytes_total, _aborts_total and
// _hanging_transactions_aborted_total (summed over the connector's runs in this process), cdcd_connector_state (1 for the current state,
// 0 for the others, label state), and for the tables being snapshotted
// cdcd_connector_snapshot_rows and cdcd_connector_snapshot_rows_estimated (label table).
func (m *Manager) Collector() prometheus.Collector {
	conn := []string{"connector"}
	table := []string{"connector", "table"}
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
	}
}

// Describe sends the metrics' descriptions.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.records, c.transactions, c.bytes, c.aborts, c.hangingAborted, c.state, c.snapshotRows, c.snapshotTotal} {
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
	for _, name := range slices.Sorted(maps.Keys(conns)) {
		e := conns[name]
		e.mu.Lock()
		exists, state, stats, conn := e.exists, e.state, e.base, e.conn
		if conn != nil {
			s := conn.Stats()
			stats.Records += s.Records
			stats.Transactions += s.Transactions
			stats.Bytes += s.Bytes
			stats.Aborts += s.Aborts
			stats.HangingAborted += s.HangingAborted
		}
		e.mu.Unlock()
		if !exists {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(stats.Records), name)
		ch <- prometheus.MustNewConstMetric(c.transactions, prometheus.CounterValue, float64(stats.Transactions), name)
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(stats.Bytes), name)
		ch <- prometheus.MustNewConstMetric(c.aborts, prometheus.CounterValue, float64(stats.Aborts), name)
		ch <- prometheus.MustNewConstMetric(c.hangingAborted, prometheus.CounterValue, float64(stats.HangingAborted), name)
		for _, s := range states {
			v := 0.0
			if s == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, name, string(s))
		}
		if conn == nil {
			continue
		}
		seen := make(map[string]bool)
		for _, p := range conn.Progress() {
			if seen[p.Table] {
				continue // a series twice would fail the whole scrape
			}
			seen[p.Table] = true
			ch <- prometheus.MustNewConstMetric(c.snapshotRows, prometheus.GaugeValue, float64(p.Rows), name, p.Table)
			ch <- prometheus.MustNewConstMetric(c.snapshotTotal, prometheus.GaugeValue, p.EstimatedTotal, name, p.Table)
		}
	}
}
