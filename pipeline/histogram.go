package pipeline

import (
	"slices"
	"sync/atomic"
	"time"
)

// Histogram counts observations in fixed buckets, with atomics only: an observation costs a
// bucket search and two atomic adds, cheap enough for once per Kafka or source transaction.
// It knows nothing of a metrics library; an exporter reads its [HistogramSnapshot]. The zero
// value is not usable: see [newHistogram].
type Histogram struct {
	// bounds are the buckets' upper bounds, inclusive, ascending, in the observed unit
	// (nanoseconds, records, bytes); scale turns them and the sum into the exported unit.
	bounds []int64
	scale  float64
	// counts has one more bucket than bounds: the observations above the last bound.
	counts []atomic.Uint64
	sum    atomic.Int64
}

// HistogramSnapshot is a copy of a Histogram at one moment, in the exported unit (seconds for
// durations), in Prometheus's shape: Buckets maps each upper bound to the observations at or
// below it (cumulative); Count and Sum are over all observations.
type HistogramSnapshot struct {
	Buckets map[float64]uint64
	Count   uint64
	Sum     float64
}

// newHistogram returns a histogram with the given upper bounds, in the observed unit, whose
// exported unit is the observed one times scale.
func newHistogram(scale float64, bounds ...int64) *Histogram {
	return &Histogram{bounds: bounds, scale: scale, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// newDurationHistogram returns a histogram of durations exported in seconds.
func newDurationHistogram(bounds ...time.Duration) *Histogram {
	b := make([]int64, len(bounds))
	for i, d := range bounds {
		b[i] = int64(d)
	}
	return newHistogram(1/float64(time.Second), b...)
}

// observe counts one observation of v, in the observed unit.
func (h *Histogram) observe(v int64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i].Add(1)
	h.sum.Add(v)
}

// maxLocalBuckets bounds the buckets observeSince counts on the stack before adding them.
const maxLocalBuckets = 32

// observeSince counts one observation of now minus each of starts (a Kafka transaction that
// holds the ends of many small source transactions: their latencies). It counts them on the
// stack first and then adds each bucket used once, so that a commit costs a few atomic adds,
// not two per source transaction.
func (h *Histogram) observeSince(now int64, starts []int64) {
	if len(starts) == 1 || len(h.bounds) >= maxLocalBuckets {
		for _, s := range starts {
			h.observe(now - s)
		}
		return
	}
	var counts [maxLocalBuckets]uint64
	var sum int64
	for _, s := range starts {
		v := now - s
		i, _ := slices.BinarySearch(h.bounds, v)
		counts[i]++
		sum += v
	}
	for i, n := range counts[:len(h.counts)] {
		if n != 0 {
			h.counts[i].Add(n)
		}
	}
	h.sum.Add(sum)
}

// Snapshot returns the histogram's counts now. Each bucket is read atomically; an observation
// made meanwhile may be in some and not others, which a scrape a moment later corrects.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{Buckets: make(map[float64]uint64, len(h.bounds))}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		s.Buckets[float64(b)*h.scale] = cum
	}
	s.Count = cum + h.counts[len(h.bounds)].Load()
	s.Sum = float64(h.sum.Load()) * h.scale
	return s
}

// Add adds o's observations to s, for a connector whose counts go on across pipelines; a
// bucket o lacks is left as it is.
func (s *HistogramSnapshot) Add(o HistogramSnapshot) {
	if s.Buckets == nil {
		s.Buckets = make(map[float64]uint64, len(o.Buckets))
	}
	for b, n := range o.Buckets {
		s.Buckets[b] += n
	}
	s.Count += o.Count
	s.Sum += o.Sum
}

// The buckets of the pipeline's histograms. Latencies go from a few milliseconds (a Kafka
// commit on a quiet machine) to minutes (a connector behind); transaction sizes from one record
// to the largest batch.
var (
	latencyBuckets = []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
		50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
		time.Minute, 5 * time.Minute}
	recordBuckets = []int64{1, 10, 100, 1000, 10_000, 100_000, 1_000_000}
	byteBuckets   = []int64{1 << 10, 16 << 10, 128 << 10, 1 << 20, 8 << 20, 64 << 20, 512 << 20}
)
