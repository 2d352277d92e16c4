package main

import (
	"testing"
	"time"
)

func TestCeilingsRowsAndBest(t *testing.T) {
	d := database{rawLabel: "raw read rate (pg_recvlogical)", rawNote: "note"}
	c := ceilings{
		raw: []ceilingRead{
			{when: "before cdcd", rate: 100, rawRead: rawRead{cpu: 2 * time.Second}},
			{when: "after cdcd", rate: 150, rawRead: rawRead{cpu: 4 * time.Second}},
		},
		minimal: []ceilingRead{{rate: 300, spanRate: 400, rawRead: rawRead{cpu: time.Second}}},
	}
	if got := c.best(c.raw); got != 150 {
		t.Errorf("best raw = %v, want the faster read, 150", got)
	}
	if got := c.best(c.minimal); got != 400 {
		t.Errorf("best minimal = %v, want its rate over the span, 400", got)
	}
	if got := c.best(nil); got != 0 {
		t.Errorf("best of no read = %v, want 0", got)
	}
	var tb table
	c.add(tb.add, d, 1_000_000)
	want := []struct {
		name  string
		value float64
	}{
		{"raw read rate (pg_recvlogical), before cdcd", 100},
		{"raw read rate (pg_recvlogical), after cdcd", 150},
		// (2 s + 4 s) over two reads of a million events.
		{"raw read rate (pg_recvlogical) CPU per event", 3},
		// Over the span from the first to the last event, the one cdcd's throughput uses.
		{"minimal reader (pglogrepl)", 400},
		{"minimal reader (pglogrepl) CPU per event", 1},
	}
	if len(tb.rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(tb.rows), len(want), tb.rows)
	}
	for i, w := range want {
		if tb.rows[i].measurement != w.name || tb.rows[i].value != w.value {
			t.Errorf("row %d = %q %v, want %q %v", i, tb.rows[i].measurement, tb.rows[i].value, w.name, w.value)
		}
	}
}

func TestUsagePerEvent(t *testing.T) {
	u := usage{cpu: 1500 * time.Millisecond}
	if got := u.perEvent(300_000); got != 5 {
		t.Errorf("perEvent = %v µs, want 5", got)
	}
	if got := u.perEvent(0); got != 0 {
		t.Errorf("perEvent of no event = %v, want 0", got)
	}
}
