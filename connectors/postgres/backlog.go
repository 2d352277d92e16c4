package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/jackc/pgx/v5"
)

// backlogInterval is how often a Stream measures its slot's retained WAL: often enough for a
// scrape every few seconds to see it move, rarely enough that a connection opened for each
// measure (see lazyConn) costs the server nothing worth counting.
const backlogInterval = 5 * time.Second

var _ connectors.BacklogReporter = (*Source)(nil)

// measureBacklog measures the slot's retained WAL every backlogInterval until ctx ends. A
// failed measure is logged at debug level and the last one kept: a server that is gone fails
// the stream itself.
func (s *Source) measureBacklog(ctx context.Context) {
	tick := time.NewTicker(backlogInterval)
	defer tick.Stop()
	conn := newLazyConn(s.cfg, 0) // opened for each measure and closed after it: see lazyConn
	defer conn.close()
	for {
		err := onSideConn(ctx, s.cfg, conn, backlogInterval, s.readBacklog)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Debug().Err(err).Str("slot", s.cfg.Slot).Msg("slot's retained WAL not measured; trying again at the next interval")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// readBacklog reads the slot's retained WAL on c. A slot not there yet (the snapshot creates
// it) or without a confirmed position yet leaves the last measure as it is.
func (s *Source) readBacklog(ctx context.Context, c *pgx.Conn) error {
	var bytes *int64
	// A standby has no current WAL position of its own: what it replayed stands for it.
	err := c.QueryRow(ctx, `SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
		- confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = $1`,
		s.cfg.Slot).Scan(&bytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres source: reading the retained WAL of slot %s: %w", s.cfg.Slot, err)
	}
	if bytes != nil {
		s.Set(max(*bytes, 0))
	}
	return nil
}
