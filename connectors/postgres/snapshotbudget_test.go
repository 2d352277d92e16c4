package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
)

// budgetRun is what a snapshot with a byte budget emitted: the rows' keys, the rows of each
// transaction, and the last commit's progress.
type budgetRun struct {
	keys   []int64
	chunks []int
	last   *snapshotProgress
}

// runBudget snapshots tables of rd with chunks of at most limit rows and budget bytes, from
// start; stopAfter > 0 stops after that many transactions.
func runBudget(t *testing.T, rd snapReader, tables []string, limit int, budget int64, start *snapshotProgress, stopAfter int) budgetRun {
	t.Helper()
	var r budgetRun
	sn := &snapshotter{rd: rd, tables: tables, limit: limit, budget: budget, cp: 0x100, now: time.Now, every: time.Hour}
	n := 0
	errStop := fmt.Errorf("stop")
	err := sn.run(t.Context(), start, func(ev connectors.Event) error {
		switch ev.Kind {
		case connectors.EventBegin:
			n = 0
		case connectors.EventChange:
			n++
			r.keys = append(r.keys, ev.Change.After[0].Int)
		case connectors.EventCommit:
			r.chunks = append(r.chunks, n)
			p, err := parsePosition(ev.Position)
			if err != nil {
				t.Fatalf("commit %s: %v", ev.Position.Source, err)
			}
			r.last = p.snap
			if len(r.chunks) == stopAfter {
				return errStop
			}
		}
		return nil
	})
	if err != nil && err != errStop {
		t.Fatal(err)
	}
	return r
}

// wideFake has one keyed table of 40 rows of 1000 bytes each, and a keyless one of 12 such
// rows, two a page; sample is what their row size sample says.
func wideFake(sample float64) *fakeReader {
	pages := [][]int{}
	for p := range 6 {
		pages = append(pages, []int{100 + 2*p, 101 + 2*p})
	}
	f := &fakeReader{
		keyed:  map[string][]int{"s.w": nil},
		pages:  map[string][][]int{"s.kw": pages},
		width:  map[string]int{"s.w": 1000, "s.kw": 1000},
		sample: map[string]float64{"s.w": sample, "s.kw": sample},
	}
	for k := 1; k <= 40; k++ {
		f.keyed["s.w"] = append(f.keyed["s.w"], k)
	}
	return f
}

// wideRow is the size of a row of wideFake.
var wideRow = decoder.RowMemSize([]decoder.Value{{}, {Bytes: make([]byte, 1000)}})

func wantKeys(t *testing.T, keys []int64) {
	t.Helper()
	var want []int64
	for k := 1; k <= 40; k++ {
		want = append(want, int64(k))
	}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want 1 to 40 once each, in order", keys)
	}
}

func TestSnapshotterChunkBytes(t *testing.T) {
	budget := int64(4 * wideRow)
	tests := []struct {
		name   string
		sample float64
		limit  int
		want   []int
	}{
		// The sample is right: every chunk holds the 4 rows the budget allows.
		{"sampled", float64(wideRow), 10, []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4}},
		// No budget problem: the row limit.
		{"row limit below the budget", float64(wideRow), 3, []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1}},
		// The sample says small rows: the first chunk has the row limit, the next ones what the
		// rows read call for.
		{"sample too low", 100, 10, []int{10, 4, 4, 4, 4, 4, 4, 4, 2}},
		// No sample (the table looked empty): likewise.
		{"no sample", 0, 10, []int{10, 4, 4, 4, 4, 4, 4, 4, 2}},
		// The sample says rows twice as wide: chunks of 2, never grown.
		{"sample too high", float64(2 * wideRow), 10, []int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBudget(t, wideFake(tt.sample), []string{"s.w"}, tt.limit, budget, nil, 0)
			wantKeys(t, r.keys)
			if !slices.Equal(r.chunks, tt.want) {
				t.Errorf("chunks %v, want %v", r.chunks, tt.want)
			}
		})
		t.Run(tt.name+"/parallel", func(t *testing.T) {
			conns := &fakeConns{}
			pr := newFakeParallel(t, wideFake(tt.sample), 3, conns)
			r := runBudget(t, pr, []string{"s.w"}, tt.limit, budget, nil, 0)
			closeAndCheck(t, pr, conns)
			wantKeys(t, r.keys)
			if !slices.Equal(r.chunks, tt.want) {
				t.Errorf("chunks %v, want %v", r.chunks, tt.want)
			}
		})
	}
	t.Run("no budget", func(t *testing.T) {
		r := runBudget(t, wideFake(float64(wideRow)), []string{"s.w"}, 25, 0, nil, 0)
		if !slices.Equal(r.chunks, []int{25, 15}) {
			t.Errorf("chunks %v, want the row limit's", r.chunks)
		}
	})
}

// TestSnapshotterChunkBytesResume stops a budgeted snapshot after each transaction and resumes
// it: the keys stay keys, so every row comes once whatever limit each run had.
func TestSnapshotterChunkBytesResume(t *testing.T) {
	budget := int64(4 * wideRow)
	for stop := 1; stop <= 8; stop++ {
		t.Run(fmt.Sprint(stop), func(t *testing.T) {
			first := runBudget(t, wideFake(100), []string{"s.w"}, 10, budget, nil, stop)
			rest := runBudget(t, wideFake(100), []string{"s.w"}, 10, budget, first.last, 0)
			wantKeys(t, append(first.keys, rest.keys...))
		})
	}
}

// TestSnapshotterChunkBytesKeyless reads a keyless table with a byte budget through the
// parallel reader, whose page ranges follow the limit (one page holds two rows, by the
// statistics statsReader gives): 4 rows, 2 pages a chunk.
func TestSnapshotterChunkBytesKeyless(t *testing.T) {
	f := wideFake(float64(wideRow))
	conns := &fakeConns{data: f}
	pr, err := newParallelReader(t.Context(), &statsReader{fakeReader: f}, f, 3, conns.opener)
	if err != nil {
		t.Fatal(err)
	}
	r := runBudget(t, pr, []string{"s.kw"}, 100, int64(4*wideRow), nil, 0)
	closeAndCheck(t, pr, conns)
	if want := []int64{100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111}; !slices.Equal(r.keys, want) {
		t.Errorf("rows %v, want %v", r.keys, want)
	}
	if !slices.Equal(r.chunks, []int{4, 4, 4}) {
		t.Errorf("chunks %v, want 3 of 4 rows", r.chunks)
	}
}

// statsReader is a fakeReader whose tables have statistics of two rows a page, so that
// pageSpan turns a limit into pages.
type statsReader struct{ *fakeReader }

func (s *statsReader) describe(ctx context.Context, name string) (*snapTable, *decoder.Table, error) {
	t, tbl, err := s.fakeReader.describe(ctx, name)
	if t != nil {
		t.pages, t.estimate = 6, 12
	}
	return t, tbl, err
}

func TestIncrementalChunkLimit(t *testing.T) {
	c := newChunkReader(Config{IncrementalChunkRows: 1024, SnapshotChunkBytes: 1 << 20})
	c.sizes["s.t"] = 10 << 10
	c.sizes["s.small"] = 10
	for name, want := range map[string]int{"s.t": 102, "s.small": 1024} {
		got, err := c.chunkLimit(t.Context(), &snapTable{name: name})
		if err != nil || got != want {
			t.Errorf("chunkLimit(%s) = %d, %v; want %d", name, got, err, want)
		}
	}
}
