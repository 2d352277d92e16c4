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
