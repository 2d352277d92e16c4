package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cdcd-dev/cdcd/decoder"
)

// The parallel snapshot reader (Config.SnapshotMaxThreads > 1) reads the chunks the snapshotter
// asks for ahead of it, on several connections that all import one snapshot, and hands them
// back in order: the snapshotter sees the chunks a serial reader would return (same boundaries
// for keyed tables), so its positions and resume rules do not change.
//
// Per table, a producer cuts the rest of the table into ranges: for a keyed table, a key
// scanner on its own connection streams the keys (COPY of the key columns, in key order) and
// takes every limit-th key as a boundary, so each range (lo, hi] holds exactly one chunk and the
// last one, (lo, +inf), the rest; for a keyless table, page ranges of the span a serial chunk
// would read. Workers, one connection each, read the ranges; a range is handed out only when
// one of threads slots is free, and a slot is freed when its chunk is handed to the snapshotter,
// so at most threads chunks are read ahead of the one the snapshotter holds.

// snapConn is one connection of the parallel reader, inside the shared snapshot. Each method
// blocks until its statement ends; an error leaves the connection unusable.
type snapConn interface {
	// scanKeys streams the keys of t after the key values after (nil: all), in key order,
	// and calls boundary with every every-th key, as text; boundary may block. tail is the
	// number of keys after the last boundary.
	scanKeys(ctx context.Context, t *snapTable, after []string, every int, boundary func(key []string) error) (tail int, err error)
	// readKeys reads, in key order, the rows of t whose key is in (lo, hi], decoded as tbl
	// (lo nil: from the start; hi nil: to the end), at most limit of them. lastKey is the key
	// of the last row, nil when there is none.
	readKeys(ctx context.Context, t *snapTable, tbl *decoder.Table, lo, hi []string, limit int) (rows [][]decoder.Value, lastKey []string, err error)
	// readPages reads the rows of t on pages [from, to), decoded as tbl.
	readPages(ctx context.Context, t *snapTable, tbl *decoder.Table, from, to uint32) ([][]decoder.Value, error)
	// close closes the connection; its transaction ends with it.
	close(ctx context.Context)
}

// pageProber answers the questions a ctid reading asks besides reading pages, on the
// snapshotter's own connection.
type pageProber interface {
	// blocks counts t's pages now.
	blocks(ctx context.Context, t *snapTable) (int64, error)
	// rowsFrom tells whether t holds a row at or past page.
	rowsFrom(ctx context.Context, t *snapTable, page uint32) (bool, error)
}

// parallelReader is a snapReader that reads ahead on worker connections. describe and hasRows
// go to primary; a chunk bounded by upTo (incremental snapshots) too.
type parallelReader struct {
	primary snapReader
	probe   pageProber
	// open opens a connection inside the shared snapshot: the workers' and each key scanner's.
	open    func(ctx context.Context) (snapConn, error)
	threads int
	tables  map[string]*decoder.Table

	// tasks feeds the workers; each task names the channel its result goes to.
	tasks  chan snapTask
	conns  []snapConn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// cur is the table reading in progress, nil between tables.
	cur *snapPipeline
}

var _ snapReader = (*parallelReader)(nil)

// snapTask is one range to read.
type snapTask struct {
	seq   int
	t     *snapTable
	tbl   *decoder.Table
	limit int
	// lo and hi bound a keyset range (lo, hi]; from and to a page range [from, to).
	lo, hi   []string
	from, to uint32
	// last marks the table's last range: nothing follows it.
	last bool
	out  chan<- snapResult
}

// snapResult is what a worker read of one task.
type snapResult struct {
	task    snapTask
	rows    [][]decoder.Value
	lastKey []string
	err     error
}

// snapPipeline is the reading ahead of one table from one cursor.
type snapPipeline struct {
	table string
	limit int
	// cur is the cursor the next chunk starts at.
	cur     snapCursor
	results chan snapResult
	// slots holds a token per range handed out and not yet returned to the snapshotter.
	slots chan struct{}
	// buf holds the results that came before their turn, by seq; want is the next seq due.
	buf  map[int]snapResult
	want int
	// received counts the results taken from results.
	received int
	cancel   context.CancelFunc
	// done is closed when the producer returns; then err and sent (the tasks it handed out)
	// may be read.
	done     chan struct{}
	doneSeen bool
	err      error
	sent     int
}

// newParallelReader opens threads worker connections with open and starts the workers; they
// run until close, which the caller must call (also on error paths after this returns).
func newParallelReader(ctx context.Context, primary snapReader, probe pageProber, threads int,
	open func(ctx context.Context) (snapConn, error)) (*parallelReader, error) {
	r := &parallelReader{primary: primary, probe: probe, open: open, threads: threads,
		tables: map[string]*decoder.Table{}, tasks: make(chan snapTask)}
	for range threads {
		c, err := open(ctx)
		if err != nil {
			for _, c := range r.conns {
				c.close(context.WithoutCancel(ctx))
			}
			return nil, fmt.Errorf("opening a snapshot worker connection: %w", err)
		}
		r.conns = append(r.conns, c)
	}
	wctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	for _, c := range r.conns {
		r.wg.Add(1)
		go r.work(wctx, c)
	}
	return r, nil
}

// work reads the tasks it receives on c until ctx ends.
func (r *parallelReader) work(ctx context.Context, c snapConn) {
	defer r.wg.Done()
	for {
		var task snapTask
		select {
		case <-ctx.Done():
			return
		case task = <-r.tasks:
		}
		res := snapResult{task: task}
		if len(task.t.key) > 0 {
			res.rows, res.lastKey, res.err = c.readKeys(ctx, task.t, task.tbl, task.lo, task.hi, task.limit)
		} else {
			res.rows, res.err = c.readPages(ctx, task.t, task.tbl, task.from, task.to)
		}
		// The slots keep the results outstanding below the channel's capacity, so this does
		// not block; ctx is a safety net.
		select {
		case task.out <- res:
		case <-ctx.Done():
			return
		}
	}
}

// close stops the reading in progress and the workers, waits for every goroutine of the
// reader to return and closes the connections.
func (r *parallelReader) close(ctx context.Context) {
	if p := r.cur; p != nil {
		p.cancel()
		<-p.done
		r.cur = nil
	}
	r.cancel()
	r.wg.Wait()
	for _, c := range r.conns {
		c.close(ctx)
	}
	r.conns = nil
}

func (r *parallelReader) describe(ctx context.Context, name string) (*snapTable, *decoder.Table, error) {
	t, tbl, err := r.primary.describe(ctx, name)
	if err == nil {
		r.tables[name] = tbl
	}
	return t, tbl, err
}

func (r *parallelReader) hasRows(ctx context.Context, name string) (bool, error) {
	return r.primary.hasRows(ctx, name)
}

func (r *parallelReader) rowBytes(ctx context.Context, t *snapTable) (float64, error) {
	return r.primary.rowBytes(ctx, t)
}

func (r *parallelReader) chunk(ctx context.Context, t *snapTable, cur snapCursor, limit int) ([][]decoder.Value, snapCursor, bool, error) {
	if cur.upTo != nil {
		return r.primary.chunk(ctx, t, cur, limit)
	}
	if p := r.cur; p != nil && (p.table != t.name || p.limit != limit || !sameCursor(p.cur, cur)) {
		// Not the chunk read ahead (the snapshotter never asks so today): start again from cur.
		if err := r.abandon(ctx, p); err != nil {
			return nil, cur, false, err
		}
	}
	if r.cur == nil {
		if err := r.start(ctx, t, cur, limit); err != nil {
			return nil, cur, false, err
		}
	}
	if len(t.key) > 0 {
		return r.keysetChunk(ctx, t)
	}
	return r.ctidChunk(ctx, t)
}

func sameCursor(a, b snapCursor) bool {
	return a.page == b.page && (a.after == nil) == (b.after == nil) && slices.Equal(a.after, b.after)
}

// start starts reading t ahead from cur.
func (r *parallelReader) start(ctx context.Context, t *snapTable, cur snapCursor, limit int) error {
	tbl := r.tables[t.name]
	if tbl == nil {
		return fmt.Errorf("snapshot of %s: chunk before describe", t.name)
	}
	var blocks int64
	if len(t.key) == 0 {
		var err error
		if blocks, err = r.probe.blocks(ctx, t); err != nil {
			return err
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &snapPipeline{table: t.name, limit: limit, cur: cur, results: make(chan snapResult, r.threads),
		slots: make(chan struct{}, r.threads), buf: map[int]snapResult{}, cancel: cancel, done: make(chan struct{})}
	r.cur = p
	base := snapTask{t: t, tbl: tbl, limit: limit, out: p.results}
	go func() {
		defer close(p.done)
		if len(t.key) > 0 {
			p.err = r.produceKeys(pctx, p, base, cur.after)
		} else {
			p.err = r.producePages(pctx, p, base, cur.page, blocks)
		}
	}()
	return nil
}

// send hands task out once a slot is free. Only the producer calls it.
func (r *parallelReader) send(ctx context.Context, p *snapPipeline, task snapTask) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	task.seq = p.sent
	select {
	case r.tasks <- task:
		p.sent++
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// produceKeys cuts the keys of base.t after after into ranges of base.limit keys, scanned on a
// connection of its own. A range is handed out once the next boundary (or the scan's end) is
// known, so that whether rows follow it is known too.
func (r *parallelReader) produceKeys(ctx context.Context, p *snapPipeline, base snapTask, after []string) error {
	c, err := r.open(ctx)
	if err != nil {
		return fmt.Errorf("opening the key scanner connection: %w", err)
	}
	defer c.close(context.WithoutCancel(ctx))
	lo := after
	var pending *snapTask
	tail, err := c.scanKeys(ctx, base.t, after, base.limit, func(key []string) error {
		if pending != nil {
			if err := r.send(ctx, p, *pending); err != nil {
				return err
			}
		}
		task := base
		task.lo, task.hi = lo, key
		pending, lo = &task, key
		return nil
	})
	if err != nil {
		return fmt.Errorf("scanning the keys of %s: %w", base.t.name, err)
	}
	switch {
	case tail > 0:
		if pending != nil {
			if err := r.send(ctx, p, *pending); err != nil {
				return err
			}
		}
		last := base
		last.lo, last.last = lo, true
		return r.send(ctx, p, last)
	case pending != nil:
		pending.last = true
		return r.send(ctx, p, *pending)
	default:
		// No key after after: one empty range tells so.
		last := base
		last.lo, last.last = after, true
		return r.send(ctx, p, last)
	}
}

// producePages cuts pages [from, blocks) into ranges that should each hold about base.limit
// rows.
func (r *parallelReader) producePages(ctx context.Context, p *snapPipeline, base snapTask, from uint32, blocks int64) error {
	span := pageSpan(base.t, base.limit)
	page := int64(from)
	for {
		to := max(page, min(page+span, blocks, 1<<32-1))
		task := base
		task.from, task.to, task.last = uint32(page), uint32(to), to >= blocks || to == 1<<32-1
		if err := r.send(ctx, p, task); err != nil {
			return err
		}
		if task.last {
			return nil
		}
		page = to
	}
}

// next returns the result of the next range, in range order, and frees its slot.
func (r *parallelReader) next(ctx context.Context, p *snapPipeline) (snapResult, error) {
	for {
		if res, ok := p.buf[p.want]; ok {
			delete(p.buf, p.want)
			p.want++
			<-p.slots
			return res, nil
		}
		done := p.done
		if p.doneSeen {
			done = nil
		}
		select {
		case res := <-p.results:
			p.received++
			if res.err != nil {
				return snapResult{}, res.err
			}
			p.buf[res.task.seq] = res
		case <-done:
			p.doneSeen = true
			if p.err != nil {
				return snapResult{}, p.err
			}
			if p.want >= p.sent {
				return snapResult{}, errors.New("snapshot reader: no range left to read")
			}
		case <-ctx.Done():
			return snapResult{}, ctx.Err()
		}
	}
}

// finish ends the reading of a table whose last range was returned.
func (r *parallelReader) finish(p *snapPipeline) {
	p.cancel()
	<-p.done
	r.cur = nil
}

// abandon stops reading ahead p: the producer stops, and the ranges already handed out are read
// to their end (their connections stay usable) and dropped.
func (r *parallelReader) abandon(ctx context.Context, p *snapPipeline) error {
	r.cur = nil
	p.cancel()
	<-p.done
	for p.received < p.sent {
		select {
		case <-p.results:
			p.received++
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *parallelReader) keysetChunk(ctx context.Context, t *snapTable) ([][]decoder.Value, snapCursor, bool, error) {
	p := r.cur
	res, err := r.next(ctx, p)
	if err != nil {
		return nil, p.cur, false, fmt.Errorf("reading after %v: %w", p.cur.after, err)
	}
	next := p.cur
	switch {
	case len(res.rows) > 0:
		next.after = res.lastKey
	case res.task.hi != nil:
		next.after = res.task.hi
	}
	if res.task.last {
		r.finish(p)
		return res.rows, next, false, nil
	}
	p.cur = next
	return res.rows, next, true, nil
}

// ctidChunk returns the next page range that holds rows. Whether rows follow it is asked of the
// snapshot connection unless the next range is read already and has rows.
func (r *parallelReader) ctidChunk(ctx context.Context, t *snapTable) ([][]decoder.Value, snapCursor, bool, error) {
	p := r.cur
	for {
		res, err := r.next(ctx, p)
		if err != nil {
			return nil, p.cur, false, fmt.Errorf("reading pages from %d: %w", p.cur.page, err)
		}
		next := snapCursor{page: res.task.to}
		if res.task.last {
			r.finish(p)
			return res.rows, next, false, nil
		}
		p.cur = next
		if len(res.rows) == 0 {
			continue
		}
		more := true
		if ahead, ok := p.buf[p.want]; !ok || len(ahead.rows) == 0 {
			if more, err = r.probe.rowsFrom(ctx, t, next.page); err != nil {
				return nil, next, false, err
			}
		}
		if !more {
			if err := r.abandon(ctx, p); err != nil {
				return nil, next, false, err
			}
		}
		return res.rows, next, more, nil
	}
}
