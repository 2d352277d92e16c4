package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// snapshotParams are the snapshot connection's settings: the output formats the decoder reads
// (as on the replication connection), and standard_conforming_strings for the key literals.
var snapshotParams = map[string]string{
	"DateStyle":                   "ISO",
	"IntervalStyle":               "iso_8601",
	"TimeZone":                    "UTC",
	"extra_float_digits":          "3",
	"bytea_output":                "hex",
	"standard_conforming_strings": "on",
	"application_name":            "cdcd-snapshot",
}

// connectSnapshot opens the normal connection the snapshot reads on.
func connectSnapshot(ctx context.Context, cfg Config) (*pgx.Conn, error) {
	return connectWith(ctx, cfg, snapshotParams)
}

// runSnapshot reads the captured tables and emits their rows, as act (decided by decideStart
// from resume and slot) says, then returns the position the stream goes on from, {"lsn":
// consistent point}, and the replication connection the slot was created on (nil when it
// existed already), which the stream goes on with.
func (s *Source) runSnapshot(ctx context.Context, catConn *pgx.Conn, act startAction, resume position, slot slotState,
	out *connectors.Queue) (_ position, repl *pgconn.PgConn, err error) {
	defer func() {
		if err != nil && repl != nil {
			_ = repl.Close(context.WithoutCancel(ctx))
			repl = nil
		}
	}()
	var cp pglogrepl.LSN
	var exported string
	switch {
	case act == startResumeSnapshot:
		// The exported snapshot died with its connection: the rest is read in a fresh one.
		// Streaming still starts at the consistent point (decideStart checked that the slot
		// has not moved past it), so nothing is lost.
		cp = resume.lsn
	default:
		// No slot, or one to replace: it is created with an exported snapshot, so the rows
		// read are exactly those before its consistent point and the stream goes on from
		// there, each change once. A slot that exists when a snapshot starts (startSnapshot)
		// has had nothing committed from it: left by an attempt that failed before its first
		// commit (the offsets topic not ready yet, Kafka restarting), or made by hand. Reading
		// a fresh snapshot and streaming from its confirmed_flush_lsn would send the changes
		// committed in between twice, the second time out of order; so it is made anew too.
		if repl, err = connectReplication(ctx, s.cfg); err != nil {
			return position{}, nil, err
		}
		if slot.exists {
			if act == startSnapshot {
				s.cfg.Logger.Info().Str("slot", s.cfg.Slot).Msg("postgres source: the replication slot exists but no position was committed from it: creating it anew, exporting the snapshot the tables are read in")
			}
			// Not WAIT: a slot still held by a walsender fails with 55006, which the
			// pipeline retries, rather than blocking on another process that holds it.
			if err := pglogrepl.DropReplicationSlot(ctx, repl, s.cfg.Slot, pglogrepl.DropReplicationSlotOptions{}); err != nil {
				return position{}, repl, fmt.Errorf("postgres source: dropping replication slot %s to create it anew: %w", s.cfg.Slot, err)
			}
		}
		// On a standby too (PostgreSQL 16+, where an exported snapshot reads the standby's
		// tables as of the consistent point); its creation waits for the primary's
		// running-xacts records, which nudgePrimary asks for.
		res, err := nudgePrimary(ctx, s.cfg, inHotStandby(repl), func() (pglogrepl.CreateReplicationSlotResult, error) {
			return createExportingSlot(ctx, repl, s.cfg.Slot, s.cfg.SnapshotMode == SnapshotInitialOnly)
		})
		if err != nil {
			return position{}, repl, slotCreateError(s.cfg.Slot, err)
		}
		var ok bool
		if cp, ok = parseLSN(res.ConsistentPoint); !ok {
			return position{}, repl, fmt.Errorf("%w: slot %s created at consistent point %q", ErrProtocol, s.cfg.Slot, res.ConsistentPoint)
		}
		exported = res.SnapshotName
	}
	if s.cfg.SnapshotMode == SnapshotAlways {
		// From now on a stored plain position at or past cp tells that this start's snapshot
		// is committed (see decideStart).
		s.snappedAt = cp
	}
	var start *snapshotProgress
	if act == startResumeSnapshot {
		start = resume.snap
	}

	conn, err := connectSnapshot(ctx, s.cfg)
	if err != nil {
		return position{}, repl, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return position{}, repl, fmt.Errorf("postgres source: starting the snapshot transaction: %w", err)
	}
	if exported != "" {
		if _, err := conn.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(exported)); err != nil {
			return position{}, repl, fmt.Errorf("postgres source: importing snapshot %s: %w", exported, err)
		}
	}
	tables, err := snapshotTables(ctx, conn, s.cfg)
	if err != nil {
		return position{}, repl, err
	}
	dec := decoder.NewPGDecoder(NewCatalog(catConn), s.cfg.decoderOptions()...)
	primary := &pgSnapReader{conn: conn, dec: dec, tables: map[string]*decoder.Table{}, publication: s.cfg.Publication}
	var rd snapReader = primary
	if threads := s.cfg.SnapshotMaxThreads; threads > 1 {
		// Every worker reads the snapshot this connection reads: the slot's exported one, or
		// (resuming, or an existing slot) this transaction's, exported for them. Either stays
		// importable while its exporter idles: the replication connection, or this one.
		id := exported
		if id == "" {
			if err := conn.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&id); err != nil {
				return position{}, repl, fmt.Errorf("postgres source: exporting the snapshot for the worker connections: %w", err)
			}
		}
		pr, err := newParallelReader(ctx, primary, primary, threads, func(ctx context.Context) (snapConn, error) {
			return openSnapConn(ctx, s.cfg, id, dec)
		})
		if err != nil {
			return position{}, repl, err // it names its source already
		}
		// Deferred after conn's close, so it runs first: no worker goroutine outlives this.
		defer pr.close(context.WithoutCancel(ctx))
		rd = pr
	}
	sn := &snapshotter{
		rd:     rd,
		tables: tables, limit: s.cfg.SnapshotChunkRows, budget: s.cfg.SnapshotChunkBytes, cp: cp, now: time.Now,
		log: s.cfg.Logger, every: s.cfg.SnapshotProgressEvery, board: s.cfg.Progress,
	}
	s.cfg.Logger.Info().Str("slot", s.cfg.Slot).Stringer("consistent_point", cp).Bool("exported", exported != "").
		Bool("resumed", start != nil).Int("tables", len(tables)).Int("threads", s.cfg.SnapshotMaxThreads).Msg("snapshot starting")
	err = sn.run(ctx, start, func(ev connectors.Event) error { return out.Send(ctx, ev) })
	if err != nil {
		return position{}, repl, err
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return position{}, repl, fmt.Errorf("postgres source: ending the snapshot transaction: %w", err)
	}
	s.cfg.Logger.Info().Str("slot", s.cfg.Slot).Stringer("consistent_point", cp).Msg("snapshot done")
	return position{lsn: cp}, repl, nil
}
