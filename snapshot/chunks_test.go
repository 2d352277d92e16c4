package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeChunks serves tables of integer keys from memory; a position is rendered as text.
type fakeChunks struct {
	tables map[string][]int
	// start is the key the table named resume goes on after.
	resume string
	start  int
	// rowBytes is every row's size; sample what RowBytes answers.
	rowBytes int64
	sample   float64
	limits   []int
	events   []string
	fail     error
}

func (f *fakeChunks) Table(_ context.Context, name string) (string, int, float64, error) {
	if name == f.resume {
		return name, f.start, float64(len(f.tables[name])), nil
	}
	return name, 0, -1, nil
}

func (f *fakeChunks) RowBytes(context.Context, string) (float64, bool, error) {
	return f.sample, true, nil
}

func (f *fakeChunks) Chunk(_ context.Context, t string, after, limit int) ([]int, int, bool, error) {
	if f.fail != nil {
		return nil, 0, false, f.fail
	}
	f.limits = append(f.limits, limit)
	keys := f.tables[t]
	i, _ := slices.BinarySearch(keys, after+1)
	end := min(i+limit, len(keys))
	next := after
	if end > i {
		next = keys[end-1]
	}
	return keys[i:end], next, end < len(keys), nil
}

func (f *fakeChunks) Size(rows []int) int64 { return int64(len(rows)) * f.rowBytes }

func (f *fakeChunks) HasRows(_ context.Context, name string) (bool, error) {
	return len(f.tables[name]) > 0, nil
}

func (f *fakeChunks) Within(t string, next int, done []string) string {
	return fmt.Sprintf("%s after %d done %v", t, next, done)
}

func (f *fakeChunks) Before(name string, done []string) string {
	return fmt.Sprintf("%s done %v", name, done)
}

func (f *fakeChunks) End() string { return "end" }

func (f *fakeChunks) Emit(t string, rows []int, begin, commit string, marks Marks) error {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s:", begin, t)
	for i, r := range rows {
		fmt.Fprintf(&b, " %d/%s", r, marks.Of(i))
	}
	fmt.Fprintf(&b, " [%s]", commit)
	f.events = append(f.events, b.String())
	return nil
}

func runLoop(f *fakeChunks, order, done []string, first bool, limit int, budget int64) error {
	l := ChunkLoop[string, int, int, string]{Source: f, Order: order, Done: done, Begin: "begin", First: first,
		Limit: limit, Budget: budget, Prefix: "fake: ", Log: zerolog.Nop(), Every: time.Hour, Now: time.Now}
	return l.Run(context.Background())
}

func TestChunkLoop(t *testing.T) {
	f := &fakeChunks{tables: map[string][]int{"a": {1, 2, 3}, "b": nil, "c": {7}, "d": nil}}
	if err := runLoop(f, []string{"a", "b", "c", "d"}, nil, true, 2, 0); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"[begin] a: 1/first 2/true [a after 2 done []]",
		"[a after 2 done []] a: 3/true [b done [a]]",
		// b is empty: no transaction; c's chunk ends the snapshot, d being empty.
		"[b done [a]] c: 7/last [end]",
	}
	if !slices.Equal(f.events, want) {
		t.Errorf("events\n got %q\nwant %q", f.events, want)
	}

	// Resumed inside a, after b was done; the last table emptied: an empty last chunk.
	f = &fakeChunks{tables: map[string][]int{"a": {1, 2, 3}, "b": {5}}, resume: "a", start: 2}
	f.tables["z"] = nil
	if err := runLoop(f, []string{"a", "z"}, []string{"b"}, false, 5, 0); err != nil {
		t.Fatal(err)
	}
	want = []string{"[begin] a: 3/last [end]"}
	if !slices.Equal(f.events, want) {
		t.Errorf("resumed events\n got %q\nwant %q", f.events, want)
	}
	f = &fakeChunks{tables: map[string][]int{"a": nil}}
	if err := runLoop(f, nil, nil, true, 5, 0); err != nil || !slices.Equal(f.events, []string{"[begin] : [end]"}) {
		t.Errorf("no tables: %q, %v", f.events, err)
	}
	boom := errors.New("boom")
	f = &fakeChunks{tables: map[string][]int{"a": {1}}, fail: boom}
	if err := runLoop(f, []string{"a"}, nil, true, 5, 0); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "fake: snapshot of a: ") {
		t.Errorf("a failed chunk: %v", err)
	}
}

func TestChunkLoopBudget(t *testing.T) {
	keys := make([]int, 200)
	for i := range keys {
		keys[i] = i + 1
	}
	// Sampled at 1 KiB, rows are 16 KiB: the limit shrinks from 16 to the 4 a 64 KiB budget holds.
	f := &fakeChunks{tables: map[string][]int{"a": keys}, sample: 1 << 10, rowBytes: 16 << 10}
	if err := runLoop(f, []string{"a"}, nil, true, 100, 64<<10); err != nil {
		t.Fatal(err)
	}
	if want := []int{64, 4, 4, 4}; !slices.Equal(f.limits[:4], want) {
		t.Errorf("limits %v, want %v first", f.limits, want)
	}
}
