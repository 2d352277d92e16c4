package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseStepsAndQuantiles(t *testing.T) {
	const exposition = `# HELP cdcd_connector_step_seconds x
# TYPE cdcd_connector_step_seconds histogram
cdcd_connector_step_seconds_bucket{connector="c",step="end_txn",le="0.01"} 0
cdcd_connector_step_seconds_bucket{connector="c",step="end_txn",le="+Inf"} 4
cdcd_connector_step_seconds_bucket{connector="other",step="linger",le="0.01"} 1000
cdcd_connector_step_seconds_bucket{connector="c",step="linger",le="0.01"} 50
cdcd_connector_step_seconds_bucket{connector="c",step="linger",le="0.02"} 100
cdcd_connector_step_seconds_bucket{connector="c",step="linger",le="+Inf"} 100
cdcd_connector_step_seconds_sum{connector="c",step="linger"} 1.2
cdcd_connector_step_seconds_count{connector="c",step="linger"} 100
`
	after, err := parseSteps(strings.NewReader(exposition), "c")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(after.order, ",") != "end_txn,linger" { // as exposed
		t.Fatalf("steps %v, want end_txn,linger", after.order)
	}
	before := stepsScrape{hists: map[string]*stepHist{"linger": {bounds: []float64{0.01, 0.02, math.Inf(1)}, cum: []uint64{40, 40, 40}}}}
	figs := after.since(before) // in the pipeline's order, not the exposition's
	// 60 linger observations since: 10 at or below 10 ms, 50 in (10, 20] ms.
	if f := figs[0]; f.step != "linger" || f.count != 60 || math.Abs(f.p50-14) > 1e-9 || math.Abs(f.p99-19.88) > 1e-9 {
		t.Errorf("linger %+v, want 60 observations, p50 14 ms, p99 19.88 ms", f)
	}
	// Everything above the last finite bound: the quantile is that bound.
	if f := figs[1]; f.count != 4 || f.p50 != 10 {
		t.Errorf("end_txn %+v, want 4 observations, p50 10 ms", f)
	}
	if _, err := parseSteps(strings.NewReader(exposition), "absent"); err == nil {
		t.Error("no steps of the connector: want an error")
	}
	if q := bucketQuantile(0.5, []float64{1}, []uint64{0}); !math.IsNaN(q) {
		t.Errorf("quantile of nothing %v, want NaN", q)
	}
}

// A step without observations (receive and committed of a source without commit times) prints
// no row, nor does the visible step derived from committed.
func TestAddStepsLeavesEmptyStepsOut(t *testing.T) {
	var got []string
	add := func(m string, _ float64, _, _ string) { got = append(got, m) }
	addSteps(add, latencyResult{p50: 10, p99: 20, steps: []stepFigure{
		{step: "receive"}, {step: "linger", count: 3, p50: 1, p99: 2}, {step: "committed"}}})
	if want := "latency step linger p50,latency step linger p99"; strings.Join(got, ",") != want {
		t.Errorf("rows %q, want %q", got, want)
	}
	got = nil
	addSteps(add, latencyResult{p50: 10, p99: 20, steps: []stepFigure{{step: "committed", count: 2, p50: 8, p99: 15}}})
	if len(got) != 4 || got[2] != "latency step visible p50" {
		t.Errorf("rows %q, want committed's two and visible's two", got)
	}
}
