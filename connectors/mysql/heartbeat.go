package mysql

import (
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
)

// heartbeats is the stream's heartbeat clock and record maker (Config.HeartbeatInterval).
type heartbeats struct {
	every time.Duration
	rec   *connectors.Heartbeat
	// last is when the last heartbeat went out, or when the stream started: the first one
	// comes an interval after the start, as Debezium's does.
	last time.Time
}

// newHeartbeats returns the heartbeats of cfg, started at now; nil when they are off.
func newHeartbeats(cfg Config, now time.Time) *heartbeats {
	if cfg.HeartbeatInterval <= 0 {
		return nil
	}
	return &heartbeats{every: cfg.HeartbeatInterval, rec: connectors.NewHeartbeat(cfg.TopicPrefix, cfg.HeartbeatTopic), last: now}
}

// serverHeartbeatPeriod is how often the server is asked to send a heartbeat event on an idle
// binlog: the configured period, or, with heartbeats, half their interval if that is shorter,
// so that an idle stream wakes in time for each of them (a wake-up a moment short of the
// interval would otherwise put the heartbeat off by a whole period).
func serverHeartbeatPeriod(cfg Config) time.Duration {
	if cfg.HeartbeatInterval > 0 {
		return min(cfg.HeartbeatPeriod, cfg.HeartbeatInterval/2)
	}
	return cfg.HeartbeatPeriod
}

// beat emits a heartbeat transaction when one is due at now: Begin, the heartbeat record,
// Commit, both positions the stream's position (every transaction read so far, captured or
// not; the incremental snapshot's progress), so that the pipeline commits it. None is due
// inside a transaction, nor before the transaction a resume is to start inside is seen (the
// position would say that transaction is not begun, and its delivered rows would come again).
// The record's ts_ms is now, as Debezium's.
func (a *assembler) beat(now time.Time, emit func(connectors.Event) error) error {
	h := a.hb
	if h == nil || a.inTx || a.resumeTx != "" || now.Sub(h.last) < h.every {
		return nil
	}
	h.last = now
	at := a.done
	at.Incremental = a.progress()
	pos := at.encode(0)
	if err := emit(connectors.Event{Kind: connectors.EventBegin, Position: pos}); err != nil {
		return err
	}
	if err := emit(connectors.Event{Kind: connectors.EventRecord, Record: h.rec.Record(now)}); err != nil {
		return err
	}
	return emit(connectors.Event{Kind: connectors.EventCommit, Position: pos})
}
