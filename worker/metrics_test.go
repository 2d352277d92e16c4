package worker

import (
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gather returns the value of each series, named "metric{label values}".
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := make(map[string]float64)
	for _, fam := range families {
		for _, metric := range fam.GetMetric() {
			name := fam.GetName() + "{"
			for i, l := range metric.GetLabel() {
				if i > 0 {
					name += ","
				}
				name += l.GetName() + "=" + l.GetValue()
			}
			name += "}"
			out[name] = value(metric)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	if h := m.GetHistogram(); h != nil {
		return float64(h.GetSampleCount())
	}
	return m.GetGauge().GetValue()
}

func TestCollector(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	reg := prometheus.NewRegistry()
	if err := reg.Register(m.Collector()); err != nil {
		t.Fatal(err)
	}
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	waitState(ctx, t, m, "a", api.StateRunning)

	got := gather(t, reg)
	for series, want := range map[string]float64{
		"cdcd_connector_records_total{connector=a}":                          3,
		"cdcd_connector_transactions_total{connector=a}":                     2,
		"cdcd_connector_bytes_total{connector=a}":                            100,
		"cdcd_connector_aborts_total{connector=a}":                           1,
		"cdcd_connector_hanging_transactions_aborted_total{connector=a}":     1,
		"cdcd_connector_state{connector=a,state=RUNNING}":                    1,
		"cdcd_connector_state{connector=a,state=PAUSED}":                     0,
		"cdcd_connector_snapshot_rows{connector=a,table=public.t}":           7,
		"cdcd_connector_snapshot_rows_estimated{connector=a,table=public.t}": 10,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}

	// Counters only grow across runs: a restart adds the new run's to the old one's.
	if err := m.Restart(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m, "a", api.StateRunning)
	if err := m.Pause(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	got = gather(t, reg)
	if v := got["cdcd_connector_records_total{connector=a}"]; v != 6 {
		t.Errorf("records after two runs = %v, want 6", v)
	}
	if v := got["cdcd_connector_state{connector=a,state=PAUSED}"]; v != 1 {
		t.Errorf("state PAUSED = %v, want 1", v)
	}
	if _, ok := got["cdcd_connector_snapshot_rows{connector=a,table=public.t}"]; ok {
		t.Error("snapshot progress of a paused connector")
	}
	for _, series := range []string{"cdcd_connector_lag_seconds{connector=a}", "cdcd_connector_source_backlog_bytes{connector=a}",
		"cdcd_connector_queue_events{connector=a,stage=source}"} {
		if _, ok := got[series]; ok {
			t.Errorf("%s of a paused connector: the gauges are the running pipeline's", series)
		}
	}
	for series, want := range map[string]float64{
		"cdcd_connector_restarts_total{connector=a}":         12,
		"cdcd_connector_commit_latency_seconds{connector=a}": 6, // the count, summed over both runs
	} {
		if v := got[series]; v != want {
			t.Errorf("%s after two runs = %v, want %v", series, v, want)
		}
	}
}

// TestCollectorLagAndQueues checks the metrics of lag, backlog, queues and latency of a running
// connector: the lags are now minus the pipeline's source commit times.
func TestCollectorLagAndQueues(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	reg := prometheus.NewRegistry()
	if err := reg.Register(m.Collector()); err != nil {
		t.Fatal(err)
	}
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	waitState(ctx, t, m, "a", api.StateRunning)
	got := gather(t, reg)
	for series, want := range map[string]float64{
		"cdcd_connector_dead_lettered_total{connector=a}":                4,
		"cdcd_connector_skipped_total{connector=a}":                      5,
		"cdcd_connector_restarts_total{connector=a}":                     6,
		"cdcd_connector_source_events_total{connector=a}":                7,
		"cdcd_connector_source_bytes_total{connector=a}":                 800,
		"cdcd_connector_source_backlog_bytes{connector=a}":               4096,
		"cdcd_connector_queue_events{connector=a,stage=source}":          11,
		"cdcd_connector_queue_bytes{connector=a,stage=source}":           1100,
		"cdcd_connector_queue_events{connector=a,stage=encode}":          12,
		"cdcd_connector_queue_bytes{connector=a,stage=encode}":           1200,
		"cdcd_connector_commit_latency_seconds{connector=a}":             3,
		"cdcd_connector_kafka_transaction_duration_seconds{connector=a}": 0,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	for series, want := range map[string]float64{
		"cdcd_connector_lag_seconds{connector=a}":             90,
		"cdcd_connector_uncommitted_lag_seconds{connector=a}": 30,
	} {
		// The fake's times are taken at each scrape: a slow machine adds its delay.
		if v := got[series]; v < want-1 || v > want+30 {
			t.Errorf("%s = %v, want %v (plus the scrape's delay)", series, v, want)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != "cdcd_connector_commit_latency_seconds" {
			continue
		}
		h := fam.GetMetric()[0].GetHistogram()
		if h.GetSampleSum() != 2.5 || len(h.GetBucket()) != 2 || h.GetBucket()[1].GetCumulativeCount() != 2 {
			t.Errorf("latency histogram %v", h)
		}
	}
}
