package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
)

var _ connectors.Source = (*Source)(nil)

// syncerEventBuffer bounds go-mysql's own event buffer (see its use).
const syncerEventBuffer = 256

// Stream reads the binlog from position from and sends whole transactions with captured rows,
// in commit order, to out; see connectors.Source and the package documentation for positions and
// the snapshot. It opens its own connections and closes them when it returns. When reading
// fails it returns a wrapped error, and Acks fail with ErrStreamFailed until the next Stream
// starts. A stored position whose binary logs the server purged fails with ErrPositionPurged
// unless the snapshot mode snapshots again; under SnapshotInitialOnly Stream returns only when
// ctx ends.
func (s *Source) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) (err error) {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyStreaming
	}
	defer s.running.Store(false)
	s.failed.Store(false)
	defer func() {
		if err != nil && ctx.Err() == nil {
			s.failed.Store(true)
			// The boundary where the pipeline learns whether a restart can help.
			err = connectors.PrefixOnce("mysql source: ", markPermanent(err))
		}
	}()

	start, skip, err := decodePosition(from)
	if err != nil {
		return err
	}
	// The binlog bytes behind are measured while the Stream runs, on a connection of their
	// own; the measures stop before Stream returns.
	measureCtx, stopMeasures := context.WithCancel(ctx)
	measured := make(chan struct{})
	go func() {
		defer close(measured)
		s.measureBacklog(measureCtx)
	}()
	defer func() {
		stopMeasures()
		<-measured
	}()
	fromZero := start.IsZero()
	if !fromZero && start.GTIDs.Flavor() != s.flavor {
		return badPosition("%s is a %s position, the server is %s", from, start.GTIDs.Flavor(), s.flavor)
	}
	act, err := s.chooseStart(ctx, start, fromZero)
	if err != nil {
		return err
	}
	if act == startStream && s.cfg.SnapshotMode == SnapshotInitialOnly {
		// initial_only after its snapshot: nothing to stream. Stream waits, as a source
		// without changes would, so that the pipeline keeps what it committed.
		<-ctx.Done()
		return ctx.Err()
	}
	emit := func(e connectors.Event) error { return out.Send(ctx, e) }
	var model *schemaModel
	var snapshot *historyRecord
	var snap *snapshotter
	var snapFrom *SnapshotProgress
	// ss is the snapshot's transaction, closed as soon as the snapshot is read: an open
	// transaction would hold InnoDB's purge back for as long as Stream runs.
	var ss *snapSession
	defer func() {
		if ss != nil {
			ss.close()
		}
	}()
	switch {
	case act == startSnapshot || act == startResnapshot:
		// A new snapshot: its point, and the schemas there. It replaces a stored position
		// (startResnapshot), so the history's snapshot record at the new point is what a later
		// resume rebuilds the schemas from.
		if ss, err = s.openSnapshot(ctx, true); err != nil {
			return err
		}
		start, skip = ss.pos, 0
		if model, err = s.readSchemaNow(ctx); err != nil {
			return err
		}
		if snap, err = s.newSnapshotter(ss, model, start); err != nil {
			return err
		}
		if snapFrom, err = snap.firstProgress(ctx); err != nil {
			return err
		}
		snapshot = snapshotRecord(model, start, time.Now())
		if s.cfg.SnapshotMode == SnapshotAlways {
			// From now on a stored plain position at or past start tells that this start's
			// snapshot is committed (see decideStart).
			s.snappedAt = start
		}
	case fromZero:
		// The first start without a snapshot: the schemas now, recorded as the history's
		// snapshot at the start.
		if start, model, err = s.currentSchema(ctx); err != nil {
			return err
		}
		snapshot = snapshotRecord(model, start, time.Now())
	case act == startResumeSnapshot && s.cfg.SnapshotMode == SnapshotAlways:
		s.snappedAt = start.streaming()
	}
	if model == nil {
		// Stream runs after the pipeline fenced the previous owner of the connector, so the
		// history holds exactly the committed records: those before the resume point.
		recs, err := readHistory(ctx, s.cfg.History, s.cfg.HistoryTopic, s.cfg.Name)
		if err != nil {
			return err
		}
		if model, err = rebuildSchema(recs, start); err != nil {
			return fmt.Errorf("%w (history topic %s; a position stored without schema history needs a new start: reset the connector's offset)",
				err, s.cfg.HistoryTopic)
		}
	}
	if start.Snapshot != nil {
		// A snapshot that stopped part way: the rest, in a new consistent snapshot.
		if ss, err = s.openSnapshot(ctx, false); err != nil {
			return err
		}
		if snap, err = s.newSnapshotter(ss, model, start.streaming()); err != nil {
			return err
		}
		snapFrom = start.Snapshot
	}
	asm, err := newAssembler(s.scope, newSchemaTracker(s.cfg, model), start.streaming(), skip)
	if err != nil {
		return err
	}
	asm.inc = newIncremental(s.flavor, s.scope, s.cfg.Logger, start.Incremental)
	asm.inc.board = s.cfg.Progress
	asm.hb = newHeartbeats(s.cfg, time.Now())
	if snapshot != nil {
		// The schema record's transaction carries the snapshot's first progress, so that a
		// restart after it still reads the rows.
		at := start
		at.Snapshot = snapFrom
		if err := asm.schema.emitSnapshot(snapshot, at, emit); err != nil {
			return err
		}
	}
	if snapFrom != nil {
		if err := snap.run(ctx, snapFrom, snapshot != nil, emit); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	if ss != nil {
		ss.close()
		ss = nil
	}
	if s.cfg.SnapshotMode == SnapshotInitialOnly {
		// The snapshot is all there is: wait, as above.
		<-ctx.Done()
		return ctx.Err()
	}
	start = start.streaming()

	syncer := replication.NewBinlogSyncer(s.syncerConfig())
	defer syncer.Close()
	var streamer *replication.BinlogStreamer
	if !start.GTIDs.IsEmpty() {
		streamer, err = syncer.StartSyncGTID(start.GTIDs.set.Clone())
	} else {
		streamer, err = syncer.StartSync(gomysql.Position{Name: start.File, Pos: uint32(start.Pos)})
	}
	if err != nil {
		return s.readError("starting the binlog dump at "+start.String(), err)
	}

	// The server sends a heartbeat at least every HeartbeatPeriod on an idle binlog, so three
	// periods without any event mean the connection is dead. The wait only runs while no event is
	// being handed on: time spent blocked on out (backpressure) does not count.
	silence := 3 * s.cfg.HeartbeatPeriod
	chunks := newChunkReader(s.cfg)
	defer chunks.close()
	for {
		if err := stepIncremental(ctx, asm, chunks, emit); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		evCtx, cancel := context.WithTimeout(ctx, silence)
		ev, err := streamer.GetEvent(evCtx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("%w: no binlog event or heartbeat from %s:%d for %s", ErrUnreachable, s.cfg.Host, s.cfg.Port, silence)
			}
			return s.readError("reading the binlog", err)
		}
		if err := asm.handle(ev, emit); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("mysql source: %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
		}
		asm.inc.waitEvent = false
		// Every event, the server's heartbeats included, is a chance for ours.
		if asm.hb != nil {
			if err := asm.beat(time.Now(), emit); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
		}
	}
}

// readError wraps an error of the binlog connection, marking network failures unreachable.
func (s *Source) readError(what string, err error) error {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, replication.ErrSyncClosed) || errors.Is(err, replication.ErrNeedSyncAgain) {
		return fmt.Errorf("%w: %s on %s:%d: %w", ErrUnreachable, what, s.cfg.Host, s.cfg.Port, err)
	}
	return fmt.Errorf("mysql source: %s on %s:%d: %w", what, s.cfg.Host, s.cfg.Port, err)
}

// syncerConfig is the binlog client's configuration. go-mysql's own reconnection is off: it
// would resume from its own idea of the position, in the middle of a transaction this source
// has half delivered; the pipeline reopens the stream from the last committed offset instead.
func (s *Source) syncerConfig() replication.BinlogSyncerConfig {
	dialer := &net.Dialer{Timeout: s.cfg.ConnectTimeout}
	cfg := replication.BinlogSyncerConfig{
		ServerID:        s.cfg.ServerID,
		Flavor:          s.flavor.String(),
		Host:            s.cfg.Host,
		Port:            s.cfg.Port,
		User:            s.cfg.User,
		Password:        s.cfg.Password,
		HeartbeatPeriod: serverHeartbeatPeriod(s.cfg),
		// go-mysql buffers this many decoded events between its reader and GetEvent, whatever
		// our own bounded channel says: its default of 10 240 row events (each up to 8 KB of
		// rows, decoded into Go values) held hundreds of MB while Kafka was slower than the
		// binlog. 256 keeps the reader ahead without that.
		EventCacheCount:  syncerEventBuffer,
		DisableRetrySync: true,
		// Positions come from this package's own GTID bookkeeping.
		DiscardGTIDSet: true,
		Dialer:         dialer.DialContext,
		// Failures come back through GetEvent; go-mysql's informational logs are not ours.
		Logger: slog.New(slog.DiscardHandler),
	}
	if !s.plainText {
		// Validated at Open, which built the same configuration.
		cfg.TLSConfig, _ = s.cfg.tlsConfig()
	}
	decoder.ConfigureMySQLSyncer(&cfg)
	return cfg
}

// currentSchema is the end of the binlog now, where the zero Position starts, and the
// captured tables' schemas read just after it. A DDL between the two reads is a known gap:
// the stream would read it again and fail to apply it to the newer schema.
func (s *Source) currentSchema(ctx context.Context) (Position, *schemaModel, error) {
	db, err := connect(ctx, s.cfg)
	if err != nil {
		return Position{}, nil, err
	}
	defer func() { _ = db.Close() }()
	pos, err := currentPosition(ctx, db, s.flavor)
	if err != nil {
		return Position{}, nil, err
	}
	m, err := readSchema(ctx, db, s.cfg)
	if err != nil {
		return Position{}, nil, err
	}
	return pos, m, nil
}

// currentPosition is the end of the binlog now.
func currentPosition(ctx context.Context, db queryer, flavor Flavor) (Position, error) {
	file, pos, executed, err := masterStatus(ctx, db)
	if err != nil {
		return Position{}, err
	}
	if flavor == FlavorMariaDB {
		// The GTID position of exactly these coordinates, not @@gtid_binlog_pos read a
		// moment later.
		var gp sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, pos).Scan(&gp); err != nil {
			return Position{}, fmt.Errorf("mysql source: BINLOG_GTID_POS(%s, %d): %w", file, pos, err)
		}
		executed = gp.String
	}
	set, err := ParseGTIDSet(flavor, executed)
	if err != nil {
		return Position{}, fmt.Errorf("mysql source: the server's GTIDs: %w", err)
	}
	return Position{GTIDs: set, File: file, Pos: pos}, nil
}

// masterStatus reads the binlog's current file and position, and MySQL's executed GTID set.
func masterStatus(ctx context.Context, db queryer) (string, uint64, string, error) {
	rows, err := db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		// MySQL 8.4 removed SHOW MASTER STATUS.
		rows, err = db.QueryContext(ctx, "SHOW BINARY LOG STATUS")
	}
	if err != nil {
		return "", 0, "", fmt.Errorf("mysql source: reading the binlog status (needs REPLICATION CLIENT): %w", err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return "", 0, "", fmt.Errorf("mysql source: reading the binlog status: %w", err)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", 0, "", fmt.Errorf("mysql source: reading the binlog status: %w", err)
		}
		return "", 0, "", &ConfigError{Source: "mysql", Field: "log_bin", Problem: "the server reports no binary log", Fix: "enable log_bin"}
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", 0, "", fmt.Errorf("mysql source: reading the binlog status: %w", err)
	}
	var file, executed string
	var pos uint64
	for i, c := range cols {
		switch c {
		case "File":
			file = vals[i].String
		case "Position":
			if pos, err = strconv.ParseUint(vals[i].String, 10, 64); err != nil {
				return "", 0, "", fmt.Errorf("mysql source: binlog position %q: %w", vals[i].String, err)
			}
		case "Executed_Gtid_Set":
			executed = vals[i].String
		}
	}
	return file, pos, executed, nil
}

// Ack records that everything up to pos is committed in Kafka. MySQL keeps no replica state to
// release, so nothing is sent; the position is kept for status. It fails with
// ErrPositionBackwards when pos is behind the last acknowledged position, and with
// ErrStreamFailed after a failed stream.
func (s *Source) Ack(pos offsets.Position) (err error) {
	defer func() { err = connectors.PrefixOnce("mysql source: ", err) }()
	if s.failed.Load() {
		return ErrStreamFailed
	}
	p, skip, err := decodePosition(pos)
	if err != nil {
		return fmt.Errorf("mysql source: acknowledging: %w", err)
	}
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	if err := s.acked.advance(p, skip); err != nil {
		return fmt.Errorf("mysql source: acknowledging: %w", err)
	}
	return nil
}

// Acked returns the last acknowledged position and its skip; the zero Position before any.
func (s *Source) Acked() (Position, int64) {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	return s.acked.pos, s.acked.skip
}
