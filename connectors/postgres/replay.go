package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// ErrNotResumable wraps the reason a position cannot be resumed from (CheckResume).
var ErrNotResumable = errors.New("postgres source: position cannot be resumed")

// ackWindow holds acknowledgements back from the server for a time span, so that the WAL of
// that span stays in the slot and a stored offset can be moved back within it. Acks a second
// apart or less share one entry, so it holds at most about span/1s entries.
type ackWindow struct {
	span time.Duration

	mu       sync.Mutex
	entries  []ackEntry
	released pglogrepl.LSN
}

type ackEntry struct {
	lsn pglogrepl.LSN
	at  time.Time
}

func (w *ackWindow) add(lsn pglogrepl.LSN, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.entries); n > 0 && now.Sub(w.entries[n-1].at) < time.Second {
		w.entries[n-1].lsn = max(w.entries[n-1].lsn, lsn)
		return
	}
	w.entries = append(w.entries, ackEntry{lsn: lsn, at: now})
}

// releasable returns the highest LSN acknowledged at least span before now.
func (w *ackWindow) releasable(now time.Time) pglogrepl.LSN {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := 0
	for ; i < len(w.entries) && now.Sub(w.entries[i].at) >= w.span; i++ {
		w.released = max(w.released, w.entries[i].lsn)
	}
	w.entries = w.entries[i:]
	return w.released
}

// flushLSN is the LSN the standby status confirms: the acknowledged one, or with a replay
// window the one acknowledged a window ago.
func (s *Source) flushLSN(now time.Time) pglogrepl.LSN {
	if s.window == nil {
		return pglogrepl.LSN(s.acked.Load())
	}
	return s.window.releasable(now)
}

// CheckResume tells whether a source configured as cfg can resume from pos (nil), or why not
// (an error wrapping ErrNotResumable, or ErrBadPosition for a position this package does not
// read). It reads the slot: a position before its confirmed flush LSN needs WAL the server has
// released ([Config.ReplayWindow] keeps a window of it).
func CheckResume(ctx context.Context, cfg Config, pos offsets.Position) (err error) {
	defer func() { err = connectors.PrefixOnce("postgres source: ", err) }()
	p, err := parsePosition(pos)
	if err != nil {
		return err
	}
	if pos.IsZero() {
		return nil
	}
	cfg = cfg.withDefaults()
	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	slot, err := readSlot(ctx, conn, cfg.Slot)
	if err != nil {
		return err
	}
	if !slot.exists {
		return fmt.Errorf("%w: replication slot %s does not exist, so no position of it can be resumed", ErrNotResumable, cfg.Slot)
	}
	if slot.invalidated != "" {
		return fmt.Errorf("%w: PostgreSQL invalidated replication slot %s (wal_status lost: %s), so no position of it can be resumed",
			ErrNotResumable, cfg.Slot, slot.invalidated)
	}
	slotLSN := slot.confirmed
	if p.lsn < slotLSN {
		return fmt.Errorf("%w: LSN %s is before slot %s's confirmed flush LSN %s: the server no longer keeps the WAL before it "+
			"(the earliest position to resume from is {\"lsn\":%q}; postgres.replay_window keeps a window to replay)",
			ErrNotResumable, p.lsn, cfg.Slot, slotLSN, slotLSN.String())
	}
	return nil
}

// Signal starts an incremental snapshot of tables by inserting an execute-snapshot row into
// the signal table of a source configured as cfg, as a user would; id names the signal.
func Signal(ctx context.Context, cfg Config, id string, tables []string) (err error) {
	defer func() { err = connectors.PrefixOnce("postgres source: ", err) }()
	if cfg.SignalTable == "" {
		return &ConfigError{Source: "postgres", Field: "signal table", Problem: "is not set: incremental snapshots need one",
			Fix: "set postgres.signal_table (a table with columns id, type, data)"}
	}
	schema, name, ok := splitTable(cfg.SignalTable)
	if !ok {
		return &ConfigError{Source: "postgres", Field: "signal table", Problem: fmt.Sprintf("%q is not schema.table", cfg.SignalTable)}
	}
	data, _ := json.Marshal(snapshot.SignalData{DataCollections: tables, Type: "incremental"})
	cfg = cfg.withDefaults()
	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, name}.Sanitize()+" (id, type, data) VALUES ($1, $2, $3)",
		id, snapshot.SignalExecute, string(data))
	if err != nil {
		return fmt.Errorf("postgres source: writing the signal into %s: %w", cfg.SignalTable, err)
	}
	return nil
}
