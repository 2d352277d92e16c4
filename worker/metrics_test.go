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
}
