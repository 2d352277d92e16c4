package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcd-dev/cdcd/connectors"
)

// heartbeatPrefix is the prefix of the logical decoding messages the heartbeat writes; their
// content is the name of the slot whose Stream wrote them.
const heartbeatPrefix = "cdcd-heartbeat"

// DefaultHeartbeatTopic returns the heartbeat topic of a connector whose topic prefix is
// prefix: Debezium's name, "__debezium-heartbeat.<prefix>".
func DefaultHeartbeatTopic(prefix string) string { return connectors.HeartbeatTopic(prefix) }

// heartbeats is what the assembler needs to turn this source's heartbeat messages into
// records (connectors.Heartbeat makes them).
type heartbeats struct {
	// slot tells this source's heartbeats from other slots' of the same database.
	slot string
	rec  *connectors.Heartbeat
}

func newHeartbeats(cfg Config) *heartbeats {
	return &heartbeats{slot: cfg.Slot, rec: connectors.NewHeartbeat(cfg.TopicPrefix, cfg.HeartbeatTopic)}
}

// mine tells whether content, a heartbeat message's, was written by this source's Stream.
func (h *heartbeats) mine(content []byte) bool { return string(content) == h.slot }

// record returns the heartbeat record of a heartbeat transaction committed at commitTime. The
// value holds the commit time rather than the time of emission (Debezium's), so that a
// heartbeat delivered again after a restart is the same record.
func (h *heartbeats) record(commitTime time.Time) *connectors.Record { return h.rec.Record(commitTime) }

// beat writes a heartbeat message every HeartbeatInterval on a normal connection of its own,
// until ctx ends. Each is a transactional message in a transaction of its own, so it comes
// back through the slot as Begin, Message, Commit, whose commit position is past every WAL
// record written before it. A failed write is logged and tried again at the next tick on a
// new connection: a server that is gone fails the stream itself.
func (s *Source) beat(ctx context.Context) {
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	// Opened for each heartbeat and closed after it: see lazyConn.
	// On the primary when HeartbeatHost names it: a standby writes no WAL, and a message
	// written on its primary reaches the standby's slots through replication.
	conn := newLazyConn(s.cfg.primaryConfig(), 0)
	defer conn.close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := s.writeHeartbeat(ctx, conn)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn().Err(err).Str("slot", s.cfg.Slot).Msg("heartbeat not written; trying again at the next interval")
		}
	}
}

// writeHeartbeat writes one heartbeat message on conn.
func (s *Source) writeHeartbeat(ctx context.Context, conn *lazyConn) error {
	return onSideConn(ctx, s.cfg, conn, s.cfg.HeartbeatInterval, func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, "SELECT pg_logical_emit_message(true, $1::text, $2::text)", heartbeatPrefix, s.cfg.Slot); err != nil {
			return fmt.Errorf("postgres source: writing a heartbeat message: %w", err)
		}
		return nil
	})
}

var _ connectors.TopicDeclarer = (*Source)(nil)

// Topics declares the heartbeat topic when heartbeats are on: the engine creates the topics of
// changes only, and a source's own records go to topics it declares.
func (s *Source) Topics() []connectors.TopicSpec {
	if s.cfg.HeartbeatInterval <= 0 {
		return nil
	}
	return []connectors.TopicSpec{connectors.HeartbeatTopicSpec(s.cfg.HeartbeatTopic)}
}
