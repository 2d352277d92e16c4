package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
)

func (f *fakeReader) blocks(_ context.Context, t *snapTable) (int64, error) {
	return int64(len(f.pages[t.name])), nil
}

func (f *fakeReader) rowsFrom(_ context.Context, t *snapTable, page uint32) (bool, error) {
	for _, p := range f.pages[t.name][min(int(page), len(f.pages[t.name])):] {
		if len(p) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// fakeConns are the parallel reader's connections over a fakeReader's tables. hook, when set,
// runs at the start of every range read (lo is the keyset range's lower bound, "" for the
// table's start; from the page range's first page) and may block or fail it.
type fakeConns struct {
	data *fakeReader
	hook func(ctx context.Context, table, lo string, from uint32) error
	// scanErr fails every key scan.
	scanErr error
	// openErrAfter fails the opening of a connection once that many are open.
	openErrAfter int

	mu     sync.Mutex
	open   int
	closed int
	// started counts range reads begun, active those not yet returned, done the keyset
	// ranges finished in completion order (their lower bounds).
	started atomic.Int64
	active  atomic.Int64
	done    []string
	// returned counts the chunks the test received; limit, when set, is the most reads that
	// may have started for that many chunks received, checked at each read.
	returned  atomic.Int64
	limit     func(returned int64) int64
	overreads atomic.Int64
}

var errFake = errors.New("fake read failed")

func (f *fakeConns) opener(ctx context.Context) (snapConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.openErrAfter > 0 && f.open >= f.openErrAfter {
		return nil, errFake
	}
	f.open++
	return &fakeConn{f: f}, nil
}

func (f *fakeConns) counts() (open, closed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open, f.closed
}

type fakeConn struct {
	f      *fakeConns
	closed bool
}

func (c *fakeConn) scanKeys(ctx context.Context, t *snapTable, after []string, every int, boundary func(key []string) error) (int, error) {
	if c.f.scanErr != nil {
		return 0, c.f.scanErr
	}
	count := 0
	for _, k := range c.f.data.keyed[t.name] {
		if after != nil {
			if a, _ := strconv.Atoi(after[0]); k <= a {
				continue
			}
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if count++; count == every {
			count = 0
			if err := boundary([]string{strconv.Itoa(k)}); err != nil {
				return 0, err
			}
		}
	}
	return count, nil
}

func (c *fakeConn) begin(ctx context.Context, table, lo string, from uint32) error {
	f := c.f
	n := f.started.Add(1)
	f.active.Add(1)
	if f.limit != nil && n > f.limit(f.returned.Load()) {
		f.overreads.Add(1)
	}
	if f.hook != nil {
		return f.hook(ctx, table, lo, from)
	}
	return nil
}

func (c *fakeConn) readKeys(ctx context.Context, t *snapTable, tbl *decoder.Table, lo, hi []string, limit int) ([][]decoder.Value, []string, error) {
	defer c.f.active.Add(-1)
	lower := ""
	if lo != nil {
		lower = lo[0]
	}
	if err := c.begin(ctx, t.name, lower, 0); err != nil {
		return nil, nil, err
	}
	var rows [][]decoder.Value
	var last []string
	for _, k := range c.f.data.keyed[t.name] {
		if lo != nil {
			if a, _ := strconv.Atoi(lo[0]); k <= a {
				continue
			}
		}
		if hi != nil {
			if b, _ := strconv.Atoi(hi[0]); k > b {
				break
			}
		}
		if len(rows) == limit {
			break
		}
		rows = append(rows, c.f.data.row(t.name, k))
		last = []string{strconv.Itoa(k)}
	}
	c.f.mu.Lock()
	c.f.done = append(c.f.done, t.name+">"+lower)
	c.f.mu.Unlock()
	return rows, last, nil
}

func (c *fakeConn) readPages(ctx context.Context, t *snapTable, tbl *decoder.Table, from, to uint32) ([][]decoder.Value, error) {
	defer c.f.active.Add(-1)
	if err := c.begin(ctx, t.name, "", from); err != nil {
		return nil, err
	}
	var rows [][]decoder.Value
	pages := c.f.data.pages[t.name]
	for p := int(from); p < int(to) && p < len(pages); p++ {
		for _, v := range pages[p] {
			rows = append(rows, c.f.data.row(t.name, v))
		}
	}
	return rows, nil
}

func (c *fakeConn) close(context.Context) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.f.closed++
	}
}

func newFakeParallel(t *testing.T, data *fakeReader, threads int, conns *fakeConns) *parallelReader {
	t.Helper()
	conns.data = data
	pr, err := newParallelReader(t.Context(), data, data, threads, conns.opener)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// closeAndCheck closes pr and checks that nothing it started is left: every connection closed,
// no read running.
func closeAndCheck(t *testing.T, pr *parallelReader, conns *fakeConns) {
	t.Helper()
	pr.close(context.Background())
	if open, closed := conns.counts(); open != closed {
		t.Errorf("%d connections opened, %d closed", open, closed)
	}
	if n := conns.active.Load(); n != 0 {
		t.Errorf("%d reads still running after close", n)
	}
}

// bigFake has a keyed table of 40 rows, a keyless one with empty stretches, and the usual small
// tables.
func bigFake() *fakeReader {
	f := newFake()
	for i := 1; i <= 40; i++ {
		f.keyed["s.big"] = append(f.keyed["s.big"], i*3)
	}
	f.pages["s.loose"] = [][]int{{1}, {}, {2, 3}, {}, {}, {}, {4}, {5}, {}, {}}
	return f
}

var bigTables = []string{"s.big", "s.a", "s.empty", "s.k", "s.loose", "s.c", "s.tail"}

func commitsOf(c collected) []string {
	out := make([]string, len(c.commits))
	for i, p := range c.commits {
		out[i] = string(p.Source)
	}
	return out
}

// TestParallelReaderMatchesSerial checks that the snapshotter emits the same rows, markers and
// positions with the parallel reader as with the serial one.
func TestParallelReaderMatchesSerial(t *testing.T) {
	for _, threads := range []int{2, 3, 5} {
		for _, limit := range []int{1, 2, 3, 7, 100} {
			t.Run(fmt.Sprintf("threads=%d/limit=%d", threads, limit), func(t *testing.T) {
				want, err := runFake(t, bigFake(), bigTables, limit, nil, 0)
				if err != nil {
					t.Fatal(err)
				}
				conns := &fakeConns{}
				pr := newFakeParallel(t, bigFake(), threads, conns)
				got, err := runFake(t, pr, bigTables, limit, nil, 0)
				closeAndCheck(t, pr, conns)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got.rows) != fmt.Sprint(want.rows) {
					t.Errorf("rows\n got %v\nwant %v", got.rows, want.rows)
				}
				if fmt.Sprint(commitsOf(got)) != fmt.Sprint(commitsOf(want)) {
					t.Errorf("commits\n got %v\nwant %v", commitsOf(got), commitsOf(want))
				}
			})
		}
	}
}

// TestParallelReaderResumes resumes from each chunk's position with the parallel reader and
// checks the rows put together against a whole serial run.
func TestParallelReaderResumes(t *testing.T) {
	full, err := runFake(t, bigFake(), bigTables, 4, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for stop := 1; stop < len(full.commits); stop++ {
		p, err := parsePosition(full.commits[stop-1])
		if err != nil || p.snap == nil {
			t.Fatalf("position %s: %v", full.commits[stop-1].Source, err)
		}
		conns := &fakeConns{}
		pr := newFakeParallel(t, bigFake(), 3, conns)
		rest, err := runFake(t, pr, bigTables, 4, p.snap, 0)
		closeAndCheck(t, pr, conns)
		if err != nil {
			t.Fatal(err)
		}
		if want := commitsOf(full)[stop:]; fmt.Sprint(commitsOf(rest)) != fmt.Sprint(want) {
			t.Errorf("resumed after commit %d: commits\n got %v\nwant %v", stop, commitsOf(rest), want)
		}
	}
}

// TestParallelReaderOrdersOutOfOrderResults holds the first range of each keyed table until
// the ranges after it are read, so results come back out of order, and checks the order of the
// rows emitted.
func TestParallelReaderOrdersOutOfOrderResults(t *testing.T) {
	const threads = 4
	conns := &fakeConns{}
	conns.hook = func(ctx context.Context, table, lo string, _ uint32) error {
		if table != "s.big" || lo != "" {
			return nil
		}
		// The first range waits for the others of its window to be done.
		deadline := time.Now().Add(10 * time.Second)
		for {
			conns.mu.Lock()
			n := len(conns.done)
			conns.mu.Unlock()
			if n >= threads-1 {
				return nil
			}
			if time.Now().After(deadline) {
				return errors.New("the other ranges were not read in parallel")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
	}
	want, err := runFake(t, bigFake(), bigTables, 5, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	pr := newFakeParallel(t, bigFake(), threads, conns)
	got, err := runFake(t, pr, bigTables, 5, nil, 0)
	closeAndCheck(t, pr, conns)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.rows) != fmt.Sprint(want.rows) || fmt.Sprint(commitsOf(got)) != fmt.Sprint(commitsOf(want)) {
		t.Errorf("rows\n got %v\nwant %v\ncommits\n got %v\nwant %v", got.rows, want.rows, commitsOf(got), commitsOf(want))
	}
	if conns.done[0] == "s.big>" {
		t.Errorf("the first range finished first: %v", conns.done)
	}
}

// TestParallelReaderBoundsReadAhead reads chunk by chunk and checks that the reader reads up to
// threads ranges ahead of the chunks received, and never more.
func TestParallelReaderBoundsReadAhead(t *testing.T) {
	const threads, limit = 3, 2
	data := bigFake()
	conns := &fakeConns{}
	// A read starts once its slot is free: at most threads ranges past those received, plus
	// the one being handed over.
	conns.limit = func(returned int64) int64 { return returned + threads + 1 }
	pr := newFakeParallel(t, data, threads, conns)
	defer closeAndCheck(t, pr, conns)
	ctx := t.Context()
	st, _, err := pr.describe(ctx, "s.big")
	if err != nil {
		t.Fatal(err)
	}
	ranges := int64((len(data.keyed["s.big"]) + limit - 1) / limit)
	var cur snapCursor
	var keys []int64
	for i := int64(1); ; i++ {
		rows, next, more, err := pr.chunk(ctx, st, cur, limit)
		if err != nil {
			t.Fatal(err)
		}
		conns.returned.Add(1)
		for _, r := range rows {
			keys = append(keys, r[0].Int)
		}
		if !more {
			break
		}
		// The reader fills its window while this chunk is held.
		want := min(i+threads, ranges)
		waitUntil(t, fmt.Sprintf("%d reads started", want), func() bool { return conns.started.Load() >= want })
		cur = next
	}
	if n := conns.overreads.Load(); n != 0 {
		t.Errorf("%d reads started beyond the read-ahead bound", n)
	}
	if len(keys) != len(data.keyed["s.big"]) || !slices.IsSorted(keys) {
		t.Errorf("keys %v", keys)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestParallelReaderErrors checks that a failed read, a failed key scan, an ended context and a
// failed connection end the snapshot with that error, and that close leaves nothing running.
func TestParallelReaderErrors(t *testing.T) {
	t.Run("read", func(t *testing.T) {
		conns := &fakeConns{hook: func(_ context.Context, table, lo string, from uint32) error {
			if table == "s.big" && lo == "30" || table == "s.loose" && from == 6 {
				return errFake
			}
			return nil
		}}
		pr := newFakeParallel(t, bigFake(), 3, conns)
		_, err := runFake(t, pr, bigTables, 10, nil, 0)
		closeAndCheck(t, pr, conns)
		if !errors.Is(err, errFake) {
			t.Errorf("err = %v, want the read's", err)
		}
	})
	t.Run("scan", func(t *testing.T) {
		conns := &fakeConns{scanErr: errFake}
		pr := newFakeParallel(t, bigFake(), 2, conns)
		_, err := runFake(t, pr, bigTables, 10, nil, 0)
		closeAndCheck(t, pr, conns)
		if !errors.Is(err, errFake) {
			t.Errorf("err = %v, want the scan's", err)
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		conns := &fakeConns{hook: func(ctx context.Context, table, lo string, _ uint32) error {
			if lo == "" {
				return nil
			}
			// Every range after the first blocks until the context ends.
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}}
		conns.data = bigFake()
		pr, err := newParallelReader(ctx, conns.data, conns.data, 3, conns.opener)
		if err != nil {
			t.Fatal(err)
		}
		sn := &snapshotter{rd: pr, tables: bigTables, limit: 4, cp: 0x100, now: time.Now, every: time.Hour}
		err = sn.run(ctx, nil, func(connectors.Event) error { return nil })
		closeAndCheck(t, pr, conns)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("open", func(t *testing.T) {
		conns := &fakeConns{openErrAfter: 2, data: bigFake()}
		if _, err := newParallelReader(t.Context(), conns.data, conns.data, 3, conns.opener); !errors.Is(err, errFake) {
			t.Errorf("err = %v, want the connection's", err)
		}
		if open, closed := conns.counts(); open != 2 || closed != 2 {
			t.Errorf("%d connections opened, %d closed", open, closed)
		}
	})
}

// TestParallelReaderRestartsOnAnotherCursor asks for a chunk other than the one read ahead: the
// reader drops what it read ahead and reads from the cursor asked.
func TestParallelReaderRestartsOnAnotherCursor(t *testing.T) {
	conns := &fakeConns{}
	pr := newFakeParallel(t, bigFake(), 3, conns)
	defer closeAndCheck(t, pr, conns)
	ctx := t.Context()
	for _, name := range []string{"s.big", "s.loose"} {
		st, _, err := pr.describe(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _, err := pr.chunk(ctx, st, snapCursor{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		again, _, _, err := pr.chunk(ctx, st, snapCursor{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(first) != fmt.Sprint(again) || len(first) == 0 {
			t.Errorf("%s: first chunk %v, asked again %v", name, first, again)
		}
	}
}

func TestCopyLinesSplitsAcrossWrites(t *testing.T) {
	var lines []string
	w := &copyLines{fn: func(line []byte) error {
		lines = append(lines, string(line))
		return nil
	}}
	for _, part := range []string{"1\ta\n2\t", "b\n", "3", "\tc\n4\td\n5"} {
		if n, err := w.Write([]byte(part)); err != nil || n != len(part) {
			t.Fatalf("Write(%q) = %d, %v", part, n, err)
		}
	}
	if want := []string{"1\ta\n", "2\tb\n", "3\tc\n", "4\td\n"}; fmt.Sprint(lines) != fmt.Sprint(want) || string(w.partial) != "5" {
		t.Errorf("lines %q, partial %q", lines, w.partial)
	}
	w.fn = func([]byte) error { return errFake }
	if _, err := w.Write([]byte("\n")); !errors.Is(err, errFake) {
		t.Errorf("Write with a failing fn = %v", err)
	}
}

func TestKeyScanCopy(t *testing.T) {
	tab := &snapTable{name: "s.T", schema: "s", table: "T", columns: []string{"a", "B", "c"}, key: []string{"B", "a"}}
	got, err := keyScanCopy(tab, nil)
	if want := `COPY (SELECT "B", "a" FROM "s"."T" ORDER BY "B", "a") TO STDOUT`; err != nil || got != want {
		t.Errorf("all keys: %s, %v\nwant %s", got, err, want)
	}
	got, err = keyScanCopy(tab, []string{"x'y", "2"})
	if want := `COPY (SELECT "B", "a" FROM "s"."T" WHERE ("B", "a") > ('x''y', '2') ORDER BY "B", "a") TO STDOUT`; err != nil || got != want {
		t.Errorf("keys after: %s, %v\nwant %s", got, err, want)
	}
	if _, err := keyScanCopy(tab, []string{"1"}); !errors.Is(err, ErrBadPosition) {
		t.Errorf("one value for a two-column key: %v", err)
	}
	if _, err := keyScanCopy(&snapTable{name: "s.k"}, nil); err == nil {
		t.Error("a keyless table has keys to scan")
	}
}
