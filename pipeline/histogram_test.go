package pipeline

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	h := newDurationHistogram(10*time.Millisecond, time.Second)
	for _, d := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second} {
		h.observe(int64(d))
	}
	s := h.Snapshot()
	if s.Count != 4 || s.Buckets[0.01] != 2 || s.Buckets[1] != 3 {
		t.Fatalf("snapshot %+v: want 4 observations, 2 at or below 10 ms (inclusive), 3 at or below 1 s", s)
	}
	if want := 2.511; s.Sum < want-1e-9 || s.Sum > want+1e-9 {
		t.Fatalf("sum %v s, want %v", s.Sum, want)
	}
	r := newHistogram(1, 1, 10)
	r.observe(10)
	r.observe(11)
	if s := r.Snapshot(); s.Buckets[10] != 1 || s.Count != 2 || s.Sum != 21 {
		t.Fatalf("records snapshot %+v", s)
	}
}

// TestHistogramObserveSince: the latencies of many source transactions counted at once are
// the same as counted one by one.
func TestHistogramObserveSince(t *testing.T) {
	now := int64(time.Hour)
	var starts []int64
	for _, d := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 7 * time.Millisecond, time.Second, 10 * time.Minute, 0} {
		starts = append(starts, now-int64(d))
	}
	batched, single := newDurationHistogram(latencyBuckets...), newDurationHistogram(latencyBuckets...)
	batched.observeSince(now, starts)
	for _, s := range starts {
		single.observe(now - s)
	}
	b, s := batched.Snapshot(), single.Snapshot()
	if b.Count != s.Count || b.Sum != s.Sum || len(b.Buckets) != len(s.Buckets) {
		t.Fatalf("batched %+v, one by one %+v", b, s)
	}
	for le, n := range s.Buckets {
		if b.Buckets[le] != n {
			t.Fatalf("bucket le=%v: batched %d, one by one %d", le, b.Buckets[le], n)
		}
	}
	if b.Count != uint64(len(starts)) || b.Buckets[0.005] != 3 {
		t.Fatalf("batched %+v: want %d observations, 3 at or below 5 ms", b, len(starts))
	}
}
