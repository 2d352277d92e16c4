package main

import (
	"context"
	"fmt"
	"time"
)

// minimalLabel names the second ceiling in the table.
const minimalLabel = "minimal reader (pglogrepl)"

// ceilings are the raw reads of one workload, each reader's in the order they ran.
type ceilings struct {
	raw, minimal []ceilingRead
}

// ceilingRead is one read of the workload by a raw reader.
type ceilingRead struct {
	// when says where the read stood: before or after cdcd, empty when it ran alone.
	when string
	// rate is events over the whole read; spanRate, 0 when the reader cannot tell, events
	// over the span from the first to the last, as cdcd's throughput is measured.
	rate, spanRate float64
	rawRead
}

// comparable is the rate to hold cdcd's throughput against: over the same span when known.
func (r ceilingRead) comparable() float64 {
	if r.spanRate > 0 {
		return r.spanRate
	}
	return r.rate
}

// readCeilings reads the workload with the server's own client and, where there is one, the
// minimal reader: the raw one first before cdcd (after false), last after it, so that the two
// readers' order alternates too.
func (b *bench) readCeilings(ctx context.Context, d database, w *workload, c *ceilings, after bool) error {
	when := ""
	switch {
	case after:
		when = "after cdcd"
	case b.s.selected(d.throughput):
		when = "before cdcd"
	}
	readRaw := func() error {
		rate, r, err := b.measureRaw(ctx, d.rawLabel, w.readRaw)
		c.raw = append(c.raw, ceilingRead{when: when, rate: rate, rawRead: r})
		return err
	}
	readMinimal := func() error {
		if w.readMinimal == nil {
			return nil
		}
		rate, r, err := b.measureRaw(ctx, minimalLabel, w.readMinimal)
		cr := ceilingRead{when: when, rate: rate, rawRead: r}
		if r.span > 0 {
			cr.spanRate = float64(b.s.rows) / r.span.Seconds()
		}
		c.minimal = append(c.minimal, cr)
		return err
	}
	first, second := readRaw, readMinimal
	if after {
		first, second = readMinimal, readRaw
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

// best is the fastest of reads (over the span when known), 0 when there is none.
func (c ceilings) best(reads []ceilingRead) float64 {
	var best float64
	for _, r := range reads {
		best = max(best, r.comparable())
	}
	return best
}

// add adds a row per read and the readers' mean CPU time per event.
func (c ceilings) add(add func(measurement string, value float64, unit, note string), d database, events int) {
	rows := func(label, note string, reads []ceilingRead) {
		if len(reads) == 0 {
			return
		}
		var cpu time.Duration
		for _, r := range reads {
			name := label
			if r.when != "" {
				name += ", " + r.when
			}
			if r.spanRate > 0 {
				add(name, r.spanRate, "events/s", fmt.Sprintf("%s; first to last event, as cdcd throughput (whole read: %s events/s)",
					note, formatValue(r.rate)))
			} else {
				add(name, r.rate, "events/s", note)
			}
			cpu += r.cpu
		}
		add(label+" CPU per event", float64(cpu.Microseconds())/float64(len(reads)*events), "µs/event",
			fmt.Sprintf("the reader's CPU time (user+system) / events, mean of %d reads", len(reads)))
	}
	rows(d.rawLabel, d.rawNote, c.raw)
	rows(minimalLabel, "the same slot protocol as cdcd (pgoutput v2), every message discarded undecoded; CPU is the bench process's", c.minimal)
}
