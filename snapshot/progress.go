package snapshot

import (
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
}

// NewProgress starts the progress of table, whose size the source estimates at estimate rows
// (negative: unknown). what names the reading in the log lines ("snapshot", "incremental
// snapshot"); every is the interval between two progress lines; now is the clock.
func NewProgress(log zerolog.Logger, every time.Duration, now func() time.Time, what, table string, estimate float64) *Progress {
	start := now()
	return &Progress{log: log, every: every, now: now, what: what, table: table, estimate: estimate,
		started: start, next: start.Add(every)}
}

// Add counts n more rows read, and logs the progress when it is due.
func (p *Progress) Add(n int) {
	p.rows += int64(n)
	if now := p.now(); !now.Before(p.next) {
		p.next = now.Add(p.every)
		p.emit(now, p.what+" progress")
	}
}

// Done logs that the table's reading ended.
func (p *Progress) Done() { p.emit(p.now(), p.what+" of table done") }

// Stats are a table's figures at one moment.
type Stats struct {
	Table string
	// Rows are the rows read so far; EstimatedTotal the source's estimate of the table's rows
	// (negative: unknown).
	Rows           int64
	EstimatedTotal float64
	// RowsPerSecond is the mean rate since the reading began.
	RowsPerSecond float64
}

// Stats returns the figures now.
func (p *Progress) Stats() Stats {
	return p.stats(p.now())
}

func (p *Progress) stats(now time.Time) Stats {
	s := Stats{Table: p.table, Rows: p.rows, EstimatedTotal: p.estimate}
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
