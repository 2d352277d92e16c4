package connectors

import (
	"sync/atomic"
	"time"
)

// Backlog is what a source's server keeps for a connector and the connector has not
// acknowledged yet, as the source last measured it: PostgreSQL's WAL retained by the
// replication slot (pg_current_wal_lsn() - confirmed_flush_lsn), MySQL's binlog bytes past the
// acknowledged position.
type Backlog struct {
	// Bytes is the backlog's size.
	Bytes int64
	// At is when it was measured.
	At time.Time
}

// BacklogReporter is implemented by a source that measures its backlog on its server, on its
// own schedule (a query now and then, never on the stream's path); the engine reads the last
// measure for its metrics. Backlog returns false before the first measure. It is safe for
// concurrent use and does not block.
type BacklogReporter interface {
	Backlog() (Backlog, bool)
}

// BacklogGauge keeps a source's last backlog measure: its measuring goroutine sets it, the
// engine's metrics read it through Backlog. A source embeds one to be a BacklogReporter. The
// zero value has no measure.
type BacklogGauge struct {
	last atomic.Pointer[Backlog]
}

// Set records a measure of bytes taken now.
func (g *BacklogGauge) Set(bytes int64) {
	g.last.Store(&Backlog{Bytes: bytes, At: time.Now()})
}

// Backlog returns the last measure; false before the first.
func (g *BacklogGauge) Backlog() (Backlog, bool) {
	b := g.last.Load()
	if b == nil {
		return Backlog{}, false
	}
	return *b, true
}
