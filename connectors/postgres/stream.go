package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

var _ connectors.Source = (*Source)(nil)

// messageDecoder is what the router needs of decoder.PGDecoder.
type messageDecoder interface {
	Decode(ctx context.Context, data []byte) (decoder.PGMessage, error)
}

// Stream reads the slot from position from and sends whole transactions, in commit order, to
// out; see connectors.Source and the package documentation for positions. It opens its own
// connections and closes them when it returns. When reading fails it returns a wrapped error,
// and Acks fail with ErrStreamFailed until the next Stream starts.
func (s *Source) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) (err error) {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyStreaming
	}
	defer s.running.Store(false)
	s.failed.Store(false)
	defer func() {
		if err != nil && ctx.Err() == nil {
			s.failed.Store(true)
			err = connectors.PrefixOnce("postgres source: ", markPermanent(privilegeError(err, s.cfg)))
		}
	}()

	resume, err := parsePosition(from)
	if err != nil {
		return err
	}
	catConn, err := connect(ctx, s.cfg)
	if err != nil {
		return err
	}
	// Open until the stream starts, then closed: a session held while only streaming would
	// keep a smart shutdown waiting forever (see lazyConn).
	defer func() {
		if catConn != nil {
			_ = catConn.Close(context.WithoutCancel(ctx))
		}
	}()

	// repl is the replication connection: the one the snapshot created the slot on, kept so
	// that the slot's exported snapshot lived while it was read, or a new one.
	var repl *pgconn.PgConn
	defer func() {
		if repl != nil {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = repl.Close(closeCtx)
		}
	}()
	slot, err := readSlot(ctx, catConn, s.cfg.Slot)
	if err != nil {
		return err
	}
	if !slot.exists && !from.IsZero() {
		// A stored position without its slot: after a promotion, say so (promoted.go).
		// Unknown when it cannot be read: the generic message then stands.
		p, ok, err := readPromotion(ctx, s.cfg)
		switch {
		case err != nil:
			s.cfg.Logger.Debug().Err(err).Msg("cannot read the server's timeline")
		case ok:
			slot.promoted = &p
		}
	}
	// The slot's retained WAL is measured while the Stream runs, snapshot included, on a
	// connection of its own; the measures stop before Stream returns.
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
	dec, err := decideStart(s.cfg.SnapshotMode, s.cfg.Slot, resume, from.IsZero(), slot, s.snappedAt)
	if err != nil {
		return err
	}
	if dec.why != "" {
		ev := s.cfg.Logger.Info()
		if dec.lost {
			ev = s.cfg.Logger.Warn()
		}
		ev = ev.Str("slot", s.cfg.Slot).Stringer("stored_lsn", resume.lsn).Str("snapshot_mode", s.cfg.SnapshotMode.String())
		if slot.exists {
			ev = ev.Stringer("slot_confirmed_flush_lsn", slot.confirmed)
		}
		ev.Msg(dec.why)
	}
	if dec.action != startStream {
		if resume, repl, err = s.runSnapshot(ctx, catConn, dec.action, resume, slot, out); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("postgres source: snapshot: %w", err)
		}
	}
	if s.cfg.SnapshotMode == SnapshotInitialOnly {
		// Nothing to stream: the temporary slot goes with its connection, and Stream waits,
		// as a source with no changes would, so that the pipeline keeps what it committed.
		if repl != nil {
			_ = repl.Close(context.WithoutCancel(ctx))
			repl = nil
		}
		<-ctx.Done()
		return ctx.Err()
	}
	if resume, err = s.startPoint(ctx, catConn, resume); err != nil {
		return err
	}

	if repl == nil {
		if repl, err = connectReplication(ctx, s.cfg); err != nil {
			return err
		}
	}
	err = pglogrepl.StartReplication(ctx, repl, s.cfg.Slot, resume.lsn, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: pluginArgs(s.cfg, repl.ParameterStatus("server_version")),
	})
	if err != nil {
		return s.startReplicationFailed(ctx, catConn, resume, err)
	}

	_ = catConn.Close(context.WithoutCancel(ctx))
	catConn = nil
	catalog := newLazyCatalog(s.cfg)
	defer catalog.close()
	rt := &router{dec: decoder.NewPGDecoder(catalog, s.cfg.decoderOptions()...), asm: newAssembler(resume)}
	rt.asm.inc = newIncremental(s.cfg, resume.incr)
	rt.asm.msgs = newMessages(s.cfg.MessagePrefixes)
	if s.cfg.HeartbeatInterval > 0 {
		rt.asm.hb = newHeartbeats(s.cfg)
	}
	if s.cfg.Streaming == StreamingOn {
		// The slot is ours now: spill files left by an earlier Stream or process are stale,
		// and the server sends their transactions again from the start.
		if rt.spool, err = newSpool(s.cfg.SpillDir, spillBufferSize); err != nil {
			return err
		}
		defer rt.spool.close()
	}
	st := newStreamer(s, repl, repl.Frontend(), rt, out)
	st.chunks = newChunkReader(s.cfg)
	defer st.chunks.close(ctx)
	if s.cfg.HeartbeatInterval > 0 {
		// The heartbeats belong to this Stream: they stop, and their connection closes,
		// before it returns.
		beatCtx, stopBeats := context.WithCancel(ctx)
		beaten := make(chan struct{})
		go func() {
			defer close(beaten)
			s.beat(beatCtx)
		}()
		defer func() {
			stopBeats()
			<-beaten
		}()
	}
	// The publication's check ends the loop, through runCtx, when it finds a gap under
	// PublicationGapFail.
	runCtx, endRun := context.WithCancelCause(ctx)
	defer endRun(nil)
	st.pub = s.watchPublication(runCtx, endRun)
	defer st.pub.close()
	err = st.run(runCtx)
	if gapErr := st.pub.err(); gapErr != nil && ctx.Err() == nil {
		return gapErr
	}
	if ctx.Err() != nil {
		// Leaving cleanly: tell the server what was acknowledged last, best effort.
		_ = st.sendStatus(st.now())
		return ctx.Err()
	}
	return fmt.Errorf("postgres source: streaming slot %s: %w", s.cfg.Slot, err)
}

// pluginArgs are pgoutput's options for a server of the given server_version. From
// PostgreSQL 14 on they ask for the binary format: a bytea then travels as its bytes, not as
// hex text twice its size, so that a large value costs twice its size in memory while it is
// decoded (the message and the row's copy), not three times; fixed-width values (integers,
// timestamps) are also cheaper to read. The decoder gives both formats the same values.
func pluginArgs(cfg Config, serverVersion string) []string {
	args := []string{
		"proto_version '2'",
		fmt.Sprintf(`publication_names '"%s"'`, cfg.Publication),
		"messages 'true'",
		"streaming '" + cfg.Streaming.String() + "'",
	}
	if serverMajor(serverVersion) >= 14 {
		args = append(args, "binary 'true'")
	}
	return args
}

// serverMajor returns the major version of a server_version ("15.18 (Debian ...)", "17beta1"),
// 0 when it does not start with one.
func serverMajor(v string) int {
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' || n > 1000 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// startReplicationFailed returns the error of a START_REPLICATION that failed with err,
// with the server's DETAIL, which the error's text leaves out. A slot invalidated since the
// Stream read it (PostgreSQL: "cannot read from logical replication slot") is permanent in the
// modes that do not snapshot again; in the others the next Stream finds it invalidated and
// snapshots again.
func (s *Source) startReplicationFailed(ctx context.Context, catConn *pgx.Conn, resume position, err error) error {
	var detail string
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		detail = pgErr.Detail
	}
	renew := s.cfg.SnapshotMode == SnapshotWhenNeeded || s.cfg.SnapshotMode == SnapshotAlways
	if slot, rerr := readSlot(ctx, catConn, s.cfg.Slot); rerr == nil && slot.invalidated != "" && !renew {
		return slotInvalidated(s.cfg.Slot, slot.invalidated, resume, detail)
	}
	if detail != "" {
		return fmt.Errorf("postgres source: START_REPLICATION on slot %s at %s: %w (%s)", s.cfg.Slot, resume.lsn, err, detail)
	}
	return fmt.Errorf("postgres source: START_REPLICATION on slot %s at %s: %w", s.cfg.Slot, resume.lsn, err)
}

// startPoint checks the slot and fills in the LSN to start from: the position's, or the
// slot's confirmed flush LSN for the zero position.
func (s *Source) startPoint(ctx context.Context, conn *pgx.Conn, resume position) (position, error) {
	var confirmed string
	err := conn.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn::text, '')
		FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		if resume.lsn != 0 || resume.tx != 0 {
			return position{}, fmt.Errorf("%w: replication slot %s does not exist (dropped?), resuming from %s",
				ErrPositionReleased, s.cfg.Slot, resume.lsn)
		}
		return position{}, &ConfigError{Source: "postgres", Field: "slot", Problem: fmt.Sprintf("replication slot %s does not exist", s.cfg.Slot),
			Fix: "it was dropped: restart the connector so that it is created again, and snapshot"}
	}
	if err != nil {
		return position{}, fmt.Errorf("postgres source: reading replication slot %s: %w", s.cfg.Slot, err)
	}
	slotLSN, ok := parseLSN(confirmed)
	if !ok {
		return position{}, fmt.Errorf("%w: slot %s has confirmed flush LSN %q", ErrProtocol, s.cfg.Slot, confirmed)
	}
	if resume.lsn == 0 && resume.tx == 0 {
		resume.lsn = slotLSN
		return resume, nil
	}
	if resume.lsn < slotLSN {
		return position{}, fmt.Errorf("%w: resuming from %s, slot %s confirmed %s", ErrPositionReleased,
			resume.lsn, s.cfg.Slot, slotLSN)
	}
	return resume, nil
}

// Ack records that everything up to pos is committed in Kafka; the Stream loop sends it to the
// server at once. It never blocks on the network and never moves the acknowledged LSN back. A
// position inside a transaction (with "tx") acknowledges only its "lsn". After a failed stream
// it returns ErrStreamFailed and records nothing.
func (s *Source) Ack(pos offsets.Position) (err error) {
	defer func() { err = connectors.PrefixOnce("postgres source: ", err) }()
	if s.failed.Load() {
		return ErrStreamFailed
	}
	p, err := parsePosition(pos)
	if err != nil {
		return fmt.Errorf("postgres source: acknowledging: %w", err)
	}
	for {
		cur := s.acked.Load()
		if uint64(p.lsn) <= cur {
			return nil
		}
		if s.acked.CompareAndSwap(cur, uint64(p.lsn)) {
			break
		}
	}
	if s.window != nil {
		s.window.add(p.lsn, time.Now())
	}
	s.recvMu.Lock()
	if s.recvConn != nil {
		_ = s.recvConn.SetReadDeadline(interruptNow)
	}
	s.recvMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Acked returns the highest LSN acknowledged so far, for metrics and tests.
func (s *Source) Acked() pglogrepl.LSN { return pglogrepl.LSN(s.acked.Load()) }

// statusSender writes an encoded message to the server: the replication connection's
// *pgproto3.Frontend, or a recorder in tests.
type statusSender interface {
	SendUnbufferedEncodedCopyData(msg []byte) error
}

// keepAliveCheckEvery is how much replay work passes between two looks at the clock during a
// replay: a record counts one, plus one per 64 KiB of its size. A few hundred small changes
// take well under a millisecond to decode, so the status interval is kept closely without a
// clock read per change.
const keepAliveCheckEvery = 256

// streamer is one Stream's loop. It alone uses the replication connection.
type streamer struct {
	src  *Source
	conn *pgconn.PgConn
	// status is the connection's writer of standby statuses; now is the clock. Tests replace
	// both.
	status statusSender
	now    func() time.Time
	rt     *router
	out    *connectors.Queue

	// sent is the LSN of the last standby status sent; nextStatus is when the next one is due.
	sent       pglogrepl.LSN
	nextStatus time.Time
	statusBuf  []byte
	timer      *time.Timer
	// replayWork counts towards keepAliveCheckEvery since the clock was last read in a replay.
	replayWork int
	// chunks reads the incremental snapshot's chunks; nil in tests without one.
	chunks *chunkReader
	// pub checks the publication; nil when there is nothing to check, and in tests.
	pub *pubWatch
	// held are the events of the last message, when it was large, until the next receive
	// (hold).
	held []connectors.Event
}

// newStreamer returns the loop of one Stream over conn, whose standby statuses go through
// status, and has rt keep the connection alive while it replays a streamed transaction.
func newStreamer(src *Source, conn *pgconn.PgConn, status statusSender, rt *router, out *connectors.Queue) *streamer {
	st := &streamer{src: src, conn: conn, status: status, now: time.Now, rt: rt, out: out}
	rt.keepAlive = st.keepAlive
	return st
}

// interruptNow is a read deadline in the past: it ends a receive under way at once.
var interruptNow = time.Unix(1, 0)

// run receives until ctx ends or something fails. Each cycle of receives runs under a read
// deadline on the connection, the time the next standby status is due, which an Ack (a new
// LSN to confirm) or the end of ctx moves into the past. pgconn would watch a context per
// ReceiveMessage instead, at a cost per message (a channel and a callback registered and
// removed) that the hot path does not pay this way; like pgconn's own deadline handler, it
// relies on a read timeout leaving the connection usable, a partial message kept for the
// next receive.
func (st *streamer) run(ctx context.Context) error {
	st.nextStatus = st.now().Add(st.src.cfg.StatusInterval)
	if err := st.readChunkIfDue(ctx); err != nil {
		return err
	}
	netConn := st.conn.Conn()
	stopWatching := context.AfterFunc(ctx, func() {
		st.src.recvMu.Lock()
		defer st.src.recvMu.Unlock()
		_ = netConn.SetReadDeadline(interruptNow)
	})
	defer func() {
		stopWatching()
		st.src.recvMu.Lock()
		st.src.recvConn = nil
		st.src.recvMu.Unlock()
		_ = netConn.SetReadDeadline(time.Time{})
	}()
	for {
		// Under recvMu, so that an end of ctx after this check still interrupts the cycle.
		st.src.recvMu.Lock()
		if err := ctx.Err(); err != nil {
			st.src.recvMu.Unlock()
			return err
		}
		err := netConn.SetReadDeadline(st.nextStatus)
		st.src.recvConn = netConn
		st.src.recvMu.Unlock()
		if err != nil {
			return fmt.Errorf("setting the replication connection's read deadline: %w", err)
		}
		err = st.receiveUntilInterrupted(ctx)
		st.src.recvMu.Lock()
		st.src.recvConn = nil
		st.src.recvMu.Unlock()
		if err != nil {
			return err
		}
		if err := st.statusIfDue(st.now()); err != nil {
			return err
		}
	}
}

// receiveUntilInterrupted handles messages until the read deadline passes or is moved into the
// past (nil), or an error. Buffered messages are read without looking at the deadline, so a
// cycle ends only at a read from the network: a long run of whole-transaction messages (a
// transaction's changes skipped one by one by a resume, or emitted into a pipeline that keeps
// up) still returns to run for a status within a receive buffer's worth of messages after
// the status is due.
func (st *streamer) receiveUntilInterrupted(ctx context.Context) error {
	for {
		raw, err := st.conn.ReceiveMessage(context.Background())
		if err := st.emitHeld(ctx); err != nil {
			return err
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) && !st.conn.IsClosed() {
				return nil
			}
			return fmt.Errorf("receiving: %w", err)
		}
		if err := st.handle(ctx, raw); err != nil {
			return err
		}
		if err := st.readChunkIfDue(ctx); err != nil {
			return err
		}
	}
}

// readChunkIfDue reads the incremental snapshot's next chunk when one is due and the stream
// stands between two transactions: the point the chunk's window opens at.
func (st *streamer) readChunkIfDue(ctx context.Context) error {
	inc := st.rt.asm.inc
	if st.chunks != nil && inc != nil && inc.prog == nil && inc.window == nil {
		// No incremental snapshot under way: its connection goes, as a session held while
		// only streaming would keep a smart shutdown waiting (see lazyConn).
		st.chunks.close(ctx)
	}
	if st.chunks == nil || inc == nil || !inc.needsChunk() || st.rt.asm.inTx || (st.rt.spool != nil && st.rt.spool.inBlock()) {
		return nil
	}
	w, next, estimate, err := st.chunks.read(ctx, inc.prog, inc.delivered())
	if err != nil {
		return err
	}
	inc.opened(w, next, estimate)
	return nil
}

func (st *streamer) handle(ctx context.Context, raw pgproto3.BackendMessage) error {
	switch m := raw.(type) {
	case *pgproto3.CopyData:
		if len(m.Data) == 0 {
			return fmt.Errorf("%w: empty CopyData", ErrProtocol)
		}
		switch m.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
			if err != nil {
				return fmt.Errorf("%w: keepalive: %w", ErrProtocol, err)
			}
			if !ka.ReplyRequested {
				return nil
			}
			if st.rt.spool == nil || !st.rt.spool.inBlock() {
				// A server shutting down waits for the client to confirm all it sent: see
				// assembler.idle. The status below still carries what Kafka committed; the
				// next one, after the Ack of this position, carries walEnd.
				err := st.rt.asm.idle(ka.ServerWALEnd, func(ev connectors.Event) error { return st.emit(ctx, ev) })
				if err != nil {
					return err
				}
			}
			return st.sendStatus(st.now())
		case pglogrepl.XLogDataByteID:
			xld, err := pglogrepl.ParseXLogData(m.Data[1:])
			if err != nil {
				return fmt.Errorf("%w: XLogData: %w", ErrProtocol, err)
			}
			if len(xld.WALData) > 0 && xld.WALData[0] == 'R' {
				// A Relation message: the publication's membership may have changed.
				st.pub.relation()
			}
			if st.rt.spills(xld.WALData) {
				// Written out at once: no copy needed.
				return st.rt.spool.write(xld.WALData, xld.WALStart)
			}
			// pgconn reuses its receive buffer, but the decoded change holds nothing of it (the
			// decoder copies a row's values out, at their decoded size): no copy of the
			// message, whose text may be twice its values (a bytea's hex).
			if len(xld.WALData) >= holdEventsOf {
				return st.rt.handle(ctx, xld.WALData, xld.WALStart, st.hold)
			}
			return st.rt.handle(ctx, xld.WALData, xld.WALStart, func(ev connectors.Event) error { return st.emit(ctx, ev) })
		default:
			return fmt.Errorf("%w: CopyData of type %q", ErrProtocol, m.Data[0])
		}
	case *pgproto3.ErrorResponse:
		return pgconn.ErrorResponseToPgError(m)
	case *pgproto3.NoticeResponse, *pgproto3.ParameterStatus:
		return nil
	case *pgproto3.CopyDone, *pgproto3.CommandComplete, *pgproto3.ReadyForQuery:
		// The walsender ends the COPY only when it is told to stop: its server shuts down
		// (pg_ctl's fast and smart modes) or is being failed over. Another Stream, once the
		// server is back, resumes from the committed position.
		return fmt.Errorf("%w: %T", ErrStreamEnded, raw)
	default:
		return fmt.Errorf("%w: %T on the replication stream", ErrProtocol, raw)
	}
}

// holdEventsOf is the size of a message from which the events it makes wait for the next
// receive (streamer.hold): the size from which the encoder collects garbage before it
// allocates a value's buffer (format/avro's collectBefore).
const holdEventsOf = 16 << 20

// hold keeps ev, an event of a large message, until the next receive has begun. pgconn holds
// the message's buffer (as large as the message) until then; the encoder, which collects
// garbage before it allocates a large value's buffer, must find it free, so that the value
// reuses its memory: a large value then costs twice its size (the message and the row, then
// the row and its encoding), not three times, whichever goroutine runs first. The next
// message follows at once (a row is followed by its commit), so the wait is short.
func (st *streamer) hold(ev connectors.Event) error {
	st.held = append(st.held, ev)
	return nil
}

// emitHeld emits the held events, in order, once a receive has begun.
func (st *streamer) emitHeld(ctx context.Context) error {
	for i, ev := range st.held {
		st.held[i] = connectors.Event{}
		if err := st.emit(ctx, ev); err != nil {
			st.held = st.held[:0]
			return err
		}
	}
	st.held = st.held[:0]
	return nil
}

// emit sends ev to out. While out is full it keeps the connection alive and confirms Acks, so
// a slow Kafka neither loses the connection to wal_sender_timeout nor holds WAL back.
func (st *streamer) emit(ctx context.Context, ev connectors.Event) error {
	if st.out.TrySend(ev) {
		return nil
	}
	for {
		room := st.out.Room()
		if st.out.TrySend(ev) {
			return nil
		}
		wait := st.nextStatus.Sub(st.now())
		if st.timer == nil {
			st.timer = time.NewTimer(wait)
		} else {
			st.timer.Reset(wait)
		}
		select {
		case <-room:
			st.timer.Stop()
		case <-ctx.Done():
			st.timer.Stop()
			return ctx.Err()
		case <-st.src.wake:
			st.timer.Stop()
			if err := st.statusIfDue(st.now()); err != nil {
				return err
			}
		case <-st.timer.C:
			if err := st.statusIfDue(st.now()); err != nil {
				return err
			}
		}
	}
}

// keepAlive is the router's hook during a replay, called after each record of size bytes: every
// keepAliveCheckEvery units of work it sends a standby status if one is due, so that the
// server's wal_sender_timeout does not end a replay longer than it (which, as the server then
// streams the transaction again, would fail every Stream in the same replay).
func (st *streamer) keepAlive(size int) error {
	st.replayWork += 1 + size>>16
	if st.replayWork < keepAliveCheckEvery {
		return nil
	}
	st.replayWork = 0
	return st.statusIfDue(st.now())
}

// statusIfDue sends a standby status when the interval has passed or an Ack moved the
// acknowledged LSN since the last one.
func (st *streamer) statusIfDue(now time.Time) error {
	if now.Before(st.nextStatus) && st.src.flushLSN(now) == st.sent {
		return nil
	}
	return st.sendStatus(now)
}

// sendStatus sends the acknowledged LSN as write, flush and apply position.
func (st *streamer) sendStatus(now time.Time) error {
	// Drain a pending wake-up: this status carries what it announced.
	select {
	case <-st.src.wake:
	default:
	}
	acked := st.src.flushLSN(now)
	st.statusBuf = appendStandbyStatus(st.statusBuf[:0], acked, now)
	if err := st.status.SendUnbufferedEncodedCopyData(st.statusBuf); err != nil {
		return fmt.Errorf("sending standby status (flush %s): %w", acked, err)
	}
	st.sent = acked
	st.nextStatus = now.Add(st.src.cfg.StatusInterval)
	return nil
}
