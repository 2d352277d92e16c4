package mysql

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
)

// wideSnapshotter snapshots d.w, 40 rows (id, a value of 1000 bytes), with chunks of at most
// limit rows and budget bytes; its row size sample says sample.
func wideSnapshotter(t *testing.T, sample float64, limit int, budget int64) *snapshotter {
	t.Helper()
	m := newSchemaModel()
	m.Tables["d.w"] = &tableDef{Database: "d", Name: "w", Version: 1, Columns: []columnDef{
		{Name: "id", Type: "int(11)", Key: true}, {Name: "v", Type: "longblob"}}}
	rd := &fakeReader{rows: map[string][]snapRow{}, sample: map[string]float64{"d.w": sample}}
	for i := 1; i <= 40; i++ {
		rd.rows["d.w"] = append(rd.rows["d.w"], snapRow{[]byte(strconv.Itoa(i)), make([]byte, 1000)})
	}
	tables, err := newSchemaTracker(Config{}, m).capturedTables()
	if err != nil {
		t.Fatal(err)
	}
	set, _ := ParseGTIDSet(FlavorMariaDB, "0-1-9")
	return &snapshotter{rd: rd, model: m, tables: tables, limit: limit, budget: budget,
		at: Position{GTIDs: set, File: "b.000001", Pos: 4}, now: func() time.Time { return time.Unix(1, 0) }}
}

// wideRow is the size of a row of wideSnapshotter's table.
var wideRow = snapRowSize(snapRow{[]byte("10"), make([]byte, 1000)})

// runWide runs s from start; stopAfter > 0 stops after that many transactions. It returns the
// ids, the rows of each transaction and the last commit's progress.
func runWide(t *testing.T, s *snapshotter, start *SnapshotProgress, stopAfter int) (ids []int64, chunks []int, last *SnapshotProgress) {
	t.Helper()
	n := 0
	errStop := fmt.Errorf("stop")
	err := s.run(context.Background(), start, start.After == nil, func(e connectors.Event) error {
		switch e.Kind {
		case connectors.EventBegin:
			n = 0
		case connectors.EventChange:
			n++
			ids = append(ids, e.Change.After[0].Int)
		case connectors.EventCommit:
			chunks = append(chunks, n)
			p, err := ParsePosition(string(e.Position.Source))
			if err != nil {
				t.Fatal(err)
			}
			last = p.Snapshot
			if len(chunks) == stopAfter {
				return errStop
			}
		}
		return nil
	})
	if err != nil && err != errStop {
		t.Fatal(err)
	}
	return ids, chunks, last
}

func wantIDs(t *testing.T, ids []int64) {
	t.Helper()
	var want []int64
	for i := int64(1); i <= 40; i++ {
		want = append(want, i)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ids %v, want 1 to 40 once each, in order", ids)
	}
}

func TestSnapshotterChunkBytes(t *testing.T) {
	budget := int64(4 * wideRow)
	tests := []struct {
		name   string
		sample float64
		limit  int
		budget int64
		want   []int
	}{
		{"sampled", float64(wideRow), 10, budget, []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4}},
		{"row limit below the budget", float64(wideRow), 3, budget, []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1}},
		// The sample says small rows: the first chunk has the row limit, the next ones what
		// the rows read call for.
		{"sample too low", 100, 10, budget, []int{10, 4, 4, 4, 4, 4, 4, 4, 2}},
		{"no sample", 0, 10, budget, []int{10, 4, 4, 4, 4, 4, 4, 4, 2}},
		// The sample says rows twice as wide: chunks of 2, never grown.
		{"sample too high", float64(2 * wideRow), 10, budget, slices.Repeat([]int{2}, 20)},
		{"no budget", float64(wideRow), 25, 0, []int{25, 15}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, chunks, _ := runWide(t, wideSnapshotter(t, tt.sample, tt.limit, tt.budget), &SnapshotProgress{Table: "d.w"}, 0)
			wantIDs(t, ids)
			if !slices.Equal(chunks, tt.want) {
				t.Errorf("chunks %v, want %v", chunks, tt.want)
			}
		})
	}
}

// TestSnapshotterChunkBytesResume stops a budgeted snapshot after each transaction and resumes
// it: every row comes once whatever limit each run had.
func TestSnapshotterChunkBytesResume(t *testing.T) {
	budget := int64(4 * wideRow)
	for stop := 1; stop <= 8; stop++ {
		t.Run(strconv.Itoa(stop), func(t *testing.T) {
			ids, _, last := runWide(t, wideSnapshotter(t, 100, 10, budget), &SnapshotProgress{Table: "d.w"}, stop)
			rest, _, _ := runWide(t, wideSnapshotter(t, 100, 10, budget), last, 0)
			wantIDs(t, append(ids, rest...))
		})
	}
}

func TestIncrementalChunkLimit(t *testing.T) {
	c := newChunkReader(Config{IncrementalChunkRows: 1024, SnapshotChunkBytes: 1 << 20})
	c.sizes["d.t"] = 10 << 10
	rd := &fakeReader{sample: map[string]float64{"d.s": 2 << 10}}
	for name, want := range map[string]int{"d.t": 102, "d.s": 512, "d.none": 1024} {
		db, tn, _ := splitTable(name)
		got, err := c.chunkLimit(context.Background(), rd, &tableDef{Database: db, Name: tn})
		if err != nil || got != want {
			t.Errorf("chunkLimit(%s) = %d, %v; want %d", name, got, err, want)
		}
	}
}

func TestSnapRowSize(t *testing.T) {
	row := snapRow{[]byte("12"), nil, int64(3), make([]byte, 100)}
	// The slice, four interfaces, two []byte headers and their 102 bytes.
	if got, want := snapRowSize(row), 24+4*16+2*24+102; got != want {
		t.Errorf("snapRowSize = %d, want %d", got, want)
	}
}
