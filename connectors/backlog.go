package connectors

import "time"

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
