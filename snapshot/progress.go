package snapshot

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Progress is how far the reading of one table got: rows read, the source's estimate of its
// size, the rate. It logs itself at info level every so often and when the table is done, so
// that a long snapshot shows where it is; Stats gives the same figures to status and metrics.
// It is not safe for concurrent use.
type Progress struct {
	log   zerolog.Logger
	every time.Duration
	now   func() time.Time
	what  string

	table    string
	estimate float64
	rows     int64
	started  time.Time
	next     time.Time
	board    *Board
	// incremental marks an incremental snapshot's table on the board.
	incremental bool
	done        bool
}

// NewProgress starts the progress of table, whose size the source estimates at estimate rows
// (negative: unknown). what names the reading in the log lines ("snapshot", "incremental
// snapshot"); every is the interval between two progress lines; now is the clock.
func NewProgress(log zerolog.Logger, every time.Duration, now func() time.Time, what, table string, estimate float64) *Progress {
	start := now()
	return &Progress{log: log, every: every, now: now, what: what, table: table, estimate: estimate,
		started: start, next: start.Add(every)}
}

// Table names the table whose progress p is.
func (p *Progress) Table() string { return p.table }

// ReportTo has the progress kept up to date on b (nil: nowhere); incremental marks the table
// as read by an incremental snapshot.
func (p *Progress) ReportTo(b *Board, incremental bool) {
	p.board, p.incremental = b, incremental
	p.board.Set(p.Stats())
}

// Add counts n more rows read, and logs the progress when it is due.
func (p *Progress) Add(n int) {
	p.rows += int64(n)
	if p.board != nil {
		p.board.Set(p.stats(p.now()))
	}
	if now := p.now(); !now.Before(p.next) {
		p.next = now.Add(p.every)
		p.emit(now, p.what+" progress")
	}
}

// Done logs that the table's reading ended.
func (p *Progress) Done() {
	p.done = true
	now := p.now()
	p.board.Set(p.stats(now))
	p.emit(now, p.what+" of table done")
}

// Stats are a table's figures at one moment.
type Stats struct {
	Table string
	// Rows are the rows read so far; EstimatedTotal the source's estimate of the table's rows
	// (negative: unknown).
	Rows           int64
	EstimatedTotal float64
	// RowsPerSecond is the mean rate since the reading began.
	RowsPerSecond float64
	// Incremental tells an incremental snapshot's table; Done that its reading ended.
	Incremental bool
	Done        bool
}

// Stats returns the figures now.
func (p *Progress) Stats() Stats {
	return p.stats(p.now())
}

func (p *Progress) stats(now time.Time) Stats {
	s := Stats{Table: p.table, Rows: p.rows, EstimatedTotal: p.estimate, Incremental: p.incremental, Done: p.done}
	if d := now.Sub(p.started).Seconds(); d > 0 {
		s.RowsPerSecond = float64(p.rows) / d
	}
	return s
}

func (p *Progress) emit(now time.Time, msg string) {
	s := p.stats(now)
	p.log.Info().Str("table", s.Table).Int64("rows", s.Rows).Float64("estimated_total", s.EstimatedTotal).
		Float64("rows_per_second", s.RowsPerSecond).Msg(msg)
}

// Board holds the latest figures of every table a source's snapshots read, for the status
// endpoint and metrics: the Progress of each table reports to it. The zero Board is ready; a
// nil *Board ignores reports. It is safe for concurrent use.
type Board struct {
	mu     sync.Mutex
	tables map[boardKey]Stats
}

type boardKey struct {
	table       string
	incremental bool
}

// Set records s, replacing the table's previous figures.
func (b *Board) Set(s Stats) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tables == nil {
		b.tables = map[boardKey]Stats{}
	}
	b.tables[boardKey{s.Table, s.Incremental}] = s
}

// All returns every table's figures, by table.
func (b *Board) All() []Stats {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Stats, 0, len(b.tables))
	for _, s := range b.tables {
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y Stats) int {
		if c := strings.Compare(x.Table, y.Table); c != 0 {
			return c
		}
		return boolOrder(x.Incremental) - boolOrder(y.Incremental)
	})
	return out
}

func boolOrder(b bool) int {
	if b {
		return 1
	}
	return 0
}
