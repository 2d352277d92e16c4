package snapshot

import (
	"errors"
	"testing"
)

func TestChunkLimit(t *testing.T) {
	tests := []struct {
		name   string
		rows   int
		budget int64
		avg    float64
		want   int
	}{
		{"no budget", 10000, 0, 100, 10000},
		{"unknown average", 10000, 16 << 20, 0, 10000},
		{"negative average", 10000, 16 << 20, -1, 10000},
		{"small rows: the row limit", 10000, 16 << 20, 100, 10000},
		{"wide rows: the budget", 10000, 16 << 20, 100 << 10, 163},
		{"256 KiB rows in 2 MiB", 10000, 2 << 20, 256 << 10, 8},
		{"a row above the budget: one", 10000, 1 << 20, 5 << 20, 1},
		{"exactly the budget", 4, 4 << 10, 1 << 10, 4},
		{"huge budget", 7, 1 << 40, 1, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ChunkLimit(tt.rows, tt.budget, tt.avg); got != tt.want {
				t.Errorf("ChunkLimit(%d, %d, %v) = %d, want %d", tt.rows, tt.budget, tt.avg, got, tt.want)
			}
		})
	}
}

func TestChunkSizerShrinksOnly(t *testing.T) {
	type step struct {
		n         int
		size      int64
		changed   bool
		wantLimit int
	}
	tests := []struct {
		name  string
		rows  int
		bdg   int64
		avg   float64
		first int
		steps []step
	}{
		{"estimate right: no change", 10000, 2 << 20, 256 << 10, 8, []step{
			{8, 8 * 256 << 10, false, 8},
			{3, 3 * 256 << 10, false, 8},
		}},
		{"estimate too low: shrinks to what the rows need", 10000, 2 << 20, 1 << 10, 2048, []step{
			{2048, 2048 * 256 << 10, true, 8},
			{8, 8 * 256 << 10, false, 8},
		}},
		{"unknown estimate: the row limit, then the rows'", 10000, 2 << 20, 0, 10000, []step{
			{300, 300 * 256 << 10, true, 8},
		}},
		{"smaller rows never grow the limit", 10000, 2 << 20, 256 << 10, 8, []step{
			{8, 8 * 10, false, 8},
		}},
		{"a drift within a quarter is ignored", 10000, 1 << 20, 1 << 10, 1024, []step{
			// 1.3 KiB rows call for 787 rows: above 3/4 of 1024 (768).
			{1024, 1024 * 1331, false, 1024},
			// 1.4 KiB rows call for 731: below.
			{1024, 1024 * 1434, true, 731},
		}},
		{"no budget: never changes", 10, 0, 1 << 30, 10, []step{
			{10, 10 << 30, false, 10},
		}},
		{"an empty chunk tells nothing", 10000, 2 << 20, 0, 10000, []step{
			{0, 0, false, 10000},
		}},
		{"a row above the budget: one row per chunk", 10000, 1 << 20, 512 << 10, 2, []step{
			{2, 2 * 3 << 20, true, 1},
			{1, 100, false, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewChunkSizer(tt.rows, tt.bdg, tt.avg)
			if got := s.Limit(); got != tt.first {
				t.Fatalf("first limit = %d, want %d", got, tt.first)
			}
			for i, st := range tt.steps {
				if changed := s.Observe(st.n, st.size); changed != st.changed {
					t.Errorf("step %d: Observe(%d, %d) = %v, want %v", i, st.n, st.size, changed, st.changed)
				}
				if got := s.Limit(); got != st.wantLimit {
					t.Errorf("step %d: limit = %d, want %d", i, got, st.wantLimit)
				}
			}
		})
	}
}

func TestRowSizes(t *testing.T) {
	sizes := RowSizes{}
	samples := 0
	sample := func() (float64, error) { samples++; return 1 << 20, nil }
	if got, err := sizes.Limit("s.t", 1000, 16<<20, sample); err != nil || got != 16 {
		t.Fatalf("first chunk = %d, %v: want 16 rows of the sampled 1 MiB", got, err)
	}
	sizes.Observe("s.t", 4, 4<<10) // the rows were 1 KiB
	if got, _ := sizes.Limit("s.t", 1000, 16<<20, sample); got != 1000 || samples != 1 {
		t.Fatalf("next chunk = %d after %d samples: want 1000 rows, grown back, and no second sample", got, samples)
	}
	sizes.Observe("s.t", 0, 0) // an empty chunk tells nothing
	if got, _ := sizes.Limit("s.t", 1000, 16<<20, sample); got != 1000 {
		t.Fatalf("after an empty chunk = %d, want 1000", got)
	}
	if got, _ := sizes.Limit("s.u", 1000, 0, sample); got != 1000 || samples != 1 {
		t.Fatalf("no budget = %d after %d samples: want 1000 rows and no sample", got, samples)
	}
	boom := errors.New("sample failed")
	if _, err := sizes.Limit("s.v", 1000, 16<<20, func() (float64, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed sample gave %v", err)
	}
}
