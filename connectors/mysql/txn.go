package mysql

import (
	"fmt"
	"strings"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/go-mysql-org/go-mysql/replication"
)

// rowDecoder is what the assembler needs of decoder.MySQLRowDecoder.
type rowDecoder interface {
	// Decode fills dst (one Value per column) from one row image as go-mysql decoded it.
	Decode(row []any, dst []decoder.Value) error
}

// capturedTable is a captured table's description and its row decoder.
type capturedTable struct {
	table *decoder.Table
	dec   rowDecoder
}

// assembler turns binlog events into pipeline events: one Begin, a Change per captured row,
// one Commit for each transaction with captured rows, applying the resume rules of the package
// documentation. It has no network code, so its rules are tested with constructed events.
type assembler struct {
	scope  scope
	tables map[string]*capturedTable // by "db.table"
	// schema tracks the captured tables' schemas through DDL and makes the history records.
	schema *schemaTracker

	// done is the position after the last transaction seen, captured or not: where a Commit
	// position points.
	done Position
	// file is the binlog file the events come from, set by Rotate events.
	file string
	// at is how far the stream has read, between two transactions: the end of the last event
	// handled outside a transaction, or the start of a transaction's first event. It only
	// moves forward.
	at binlogPoint
	// inc is the incremental snapshot's state; nil in tests of the plain stream.
	inc *incremental
	// hb is the heartbeats' state; nil without heartbeats.
	hb *heartbeats

	// resumeTx and resumeSkip are the transaction to resume inside and its delivered changes;
	// resumeTx is cleared once that transaction is seen.
	resumeTx   string
	resumeSkip int64

	// The open transaction.
	inTx       bool
	gtid       string
	gtidFile   string
	gtidPos    uint64
	commitTime time.Time
	body       bool // a BEGIN was seen
	drop       bool // already in done.GTIDs
	begun      bool // Begin sent
	skipLeft   int64
	beginSkip  int64
}

// newAssembler starts at from with the schemas of st, which it then changes as DDL comes.
func newAssembler(sc scope, st *schemaTracker, from Position, skip int64) (*assembler, error) {
	tables, err := st.capturedTables()
	if err != nil {
		return nil, err
	}
	a := &assembler{scope: sc, tables: tables, schema: st, file: from.File, at: binlogPoint{file: from.File, pos: from.Pos}}
	a.done = Position{GTIDs: from.GTIDs, File: from.File, Pos: from.Pos}
	if from.Tx != "" {
		a.resumeTx, a.resumeSkip = from.Tx, skip
	}
	return a, nil
}

// handle applies one event and emits its pipeline events. Between two transactions it also
// moves the stream's point and emits the incremental snapshot's held chunk once that point
// reaches the chunk's.
func (a *assembler) handle(ev *replication.BinlogEvent, emit func(connectors.Event) error) error {
	h := ev.Header
	if h == nil {
		return fmt.Errorf("%w: an event without a header", ErrProtocol)
	}
	if a.inc == nil {
		return a.handleEvent(ev, h, emit)
	}
	switch ev.Event.(type) {
	case *replication.MariadbGTIDEvent, *replication.GTIDEvent, *replication.GtidTaggedLogEvent:
		if !a.inTx && h.LogPos > 0 {
			// A transaction starts here: the stream stands before it.
			a.at.advance(binlogPoint{file: a.file, pos: eventStart(h)})
			if err := a.emitHeld(emit); err != nil {
				return err
			}
		}
	}
	if err := a.handleEvent(ev, h, emit); err != nil {
		return err
	}
	if a.inTx {
		return nil
	}
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		a.at.advance(binlogPoint{file: a.file, pos: e.Position})
	default:
		switch h.EventType {
		case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
			// A heartbeat's position is the server's, which may lie past events not sent.
		default:
			if h.LogPos > 0 {
				a.at.advance(binlogPoint{file: a.file, pos: uint64(h.LogPos)})
			}
		}
	}
	return a.emitHeld(emit)
}

// emitHeld emits the incremental snapshot's held chunk when the stream has reached its point.
func (a *assembler) emitHeld(emit func(connectors.Event) error) error {
	if a.inc == nil || a.inc.held == nil || !a.at.reached(a.inc.held.at) {
		return nil
	}
	return a.inc.emit(a.done, a.tables, emit)
}

// progress returns the incremental snapshot's progress, which every position carries.
func (a *assembler) progress() *IncrementalProgress {
	if a.inc == nil {
		return nil
	}
	return a.inc.prog
}

func (a *assembler) handleEvent(ev *replication.BinlogEvent, h *replication.EventHeader, emit func(connectors.Event) error) error {
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		a.file = string(e.NextLogName)
		return nil
	case *replication.MariadbGTIDEvent:
		return a.begin(mariaDBGTIDString(e.GTID), h, time.Time{})
	case *replication.GTIDEvent:
		return a.mysqlGTID(e, h)
	case *replication.GtidTaggedLogEvent:
		return a.mysqlGTID(&e.GTIDEvent, h)
	case *replication.QueryEvent:
		return a.query(e, h, emit)
	case *replication.RowsEvent:
		return a.rows(e, h, emit)
	case *replication.XIDEvent:
		return a.commit(h, emit)
	case *replication.TransactionPayloadEvent:
		// A compressed transaction (MySQL binlog_transaction_compression): its inner events
		// carry no positions of their own, so the payload event's stand in for them.
		for _, inner := range e.Events {
			in := *inner
			hdr := *h
			if inner.Header != nil {
				hdr.EventType = inner.Header.EventType
				hdr.Timestamp = inner.Header.Timestamp
			}
			in.Header = &hdr
			if err := a.handle(&in, emit); err != nil {
				return err
			}
		}
		return nil
	}
	if h.EventType == replication.PARTIAL_UPDATE_ROWS_EVENT {
		return fmt.Errorf("%w: a partial JSON update event; set binlog_row_value_options='' on the server", ErrProtocol)
	}
	// Table maps are read through the rows events that point to them; format descriptions,
	// GTID lists, checkpoints, heartbeats and the like carry no row.
	return nil
}

func (a *assembler) mysqlGTID(e *replication.GTIDEvent, h *replication.EventHeader) error {
	gtid, err := mysqlGTIDString(e.SID, e.Tag, e.GNO)
	if err != nil {
		return err
	}
	return a.begin(gtid, h, e.ImmediateCommitTime())
}

func (a *assembler) begin(gtid string, h *replication.EventHeader, commitTime time.Time) error {
	if a.inTx {
		return fmt.Errorf("%w: GTID %s inside transaction %s", ErrProtocol, gtid, a.gtid)
	}
	if a.resumeTx != "" && gtid != a.resumeTx {
		return fmt.Errorf("%w: transaction %s came first, expected %s", ErrResumeTxMissing, gtid, a.resumeTx)
	}
	*a = assembler{scope: a.scope, tables: a.tables, schema: a.schema, done: a.done, file: a.file, at: a.at, inc: a.inc, hb: a.hb,
		resumeTx: a.resumeTx, resumeSkip: a.resumeSkip, inTx: true, gtid: gtid, gtidFile: a.file, gtidPos: eventStart(h), commitTime: commitTime}
	if a.resumeTx != "" {
		a.skipLeft, a.beginSkip = a.resumeSkip, a.resumeSkip
		a.resumeTx, a.resumeSkip = "", 0
	}
	if a.done.GTIDs.Flavor() == FlavorMySQL {
		// MySQL sends only the transactions missing from the start set, so this is a guard:
		// a transaction already in the set was delivered.
		one, err := GTIDSet{flavor: FlavorMySQL}.With(gtid)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		a.drop = a.done.GTIDs.Contains(one)
	}
	return nil
}

func eventStart(h *replication.EventHeader) uint64 {
	if h.LogPos >= h.EventSize {
		return uint64(h.LogPos - h.EventSize)
	}
	return 0
}

func (a *assembler) query(e *replication.QueryEvent, h *replication.EventHeader, emit func(connectors.Event) error) error {
	q := strings.TrimSpace(string(e.Query))
	switch strings.ToUpper(q) {
	case "BEGIN", "START TRANSACTION":
		if !a.inTx {
			return fmt.Errorf("%w: BEGIN without a GTID event", ErrProtocol)
		}
		a.body = true
		return nil
	case "COMMIT", "ROLLBACK":
		// ROLLBACK ends a transaction whose non-transactional changes stay: its rows count.
		return a.commit(h, emit)
	}
	if name, ok := a.capturedTarget(string(e.Schema), q); ok {
		if !a.inTx {
			return fmt.Errorf("%w: DDL outside a transaction at %s:%d: %s", ErrProtocol, a.file, eventStart(h), truncate(q, 200))
		}
		// A transaction already delivered (MySQL's guard) is in the history already.
		if !a.drop {
			if err := a.ddl(string(e.Schema), name, q, h, emit); err != nil {
				return err
			}
		}
	}
	if a.inTx && !a.body {
		// A statement right after its GTID event is the whole transaction (DDL).
		return a.commit(h, emit)
	}
	return nil
}

// capturedTarget tells whether query, run in database db, may change a captured table, and
// names the first such table (or database).
func (a *assembler) capturedTarget(db, query string) (string, bool) {
	for _, t := range ddlTargets(db, query) {
		if t.table == "" {
			if a.scope.capturesAnyOf(t.db) {
				return t.db, true
			}
		} else if k := connectors.JoinTable(t.db, t.table); a.scope.captures(t.db, t.table) || a.tables[k] != nil {
			return k, true
		}
	}
	return "", false
}

// ddl applies a DDL statement on a captured table to the schemas, so that the rows after it
// decode with the new ones, and emits its history record as the transaction's one change.
func (a *assembler) ddl(db, table, q string, h *replication.EventHeader, emit func(connectors.Event) error) error {
	fail := func(err error) error {
		return &DDLError{Table: table, Statement: q, GTID: a.gtid, File: a.file, Pos: eventStart(h), Err: err}
	}
	gtids, err := a.done.GTIDs.With(a.gtid)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	after := Position{GTIDs: gtids, File: a.file, Pos: uint64(h.LogPos)}
	rec, err := a.schema.apply(a.scope, db, q, a.gtid, after)
	if err != nil {
		return fail(err)
	}
	if rec == nil {
		return nil
	}
	for _, k := range rec.Dropped {
		delete(a.tables, k)
	}
	for _, t := range rec.Tables {
		if cur := a.tables[t.key()]; cur != nil && cur.table.Version == t.Version {
			continue
		}
		ct, err := t.decoderTable()
		if err != nil {
			return fail(fmt.Errorf("%w: %w", ErrDDLUnsupported, err))
		}
		a.tables[t.key()] = ct
	}
	if err := a.beginOnce(emit); err != nil {
		return err
	}
	if a.skipLeft > 0 {
		a.skipLeft--
		return nil
	}
	r, err := a.schema.encode(rec)
	if err != nil {
		return err
	}
	return emit(connectors.Event{Kind: connectors.EventRecord, Record: r})
}

// beginOnce sends the open transaction's Begin if it was not sent yet.
func (a *assembler) beginOnce(emit func(connectors.Event) error) error {
	if a.begun {
		return nil
	}
	a.begun = true
	begin := Position{GTIDs: a.done.GTIDs, File: a.gtidFile, Pos: a.gtidPos, Tx: a.gtid, Incremental: a.progress()}
	// The commit time is known here on MySQL 8 only; MariaDB's comes with the first change.
	return emit(connectors.Event{Kind: connectors.EventBegin, Position: begin.encode(a.beginSkip), TxID: a.gtid, CommitTime: a.commitTime})
}

// opOf tells the operation of a rows event from its type.
func opOf(t replication.EventType) (decoder.Op, bool) {
	switch t {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		return decoder.OpCreate, true
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		return decoder.OpUpdate, true
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return decoder.OpDelete, true
	}
	return 0, false
}

func (a *assembler) rows(e *replication.RowsEvent, h *replication.EventHeader, emit func(connectors.Event) error) error {
	if !a.inTx {
		return fmt.Errorf("%w: a rows event outside a transaction at %s:%d", ErrProtocol, a.file, eventStart(h))
	}
	if e.Table == nil {
		return fmt.Errorf("%w: a rows event of table id %d without its table map", ErrProtocol, e.TableID)
	}
	db, name := string(e.Table.Schema), string(e.Table.Table)
	if a.drop || !a.scope.captures(db, name) {
		return nil
	}
	op, ok := opOf(h.EventType)
	if !ok {
		return fmt.Errorf("%w: rows event of type %s", ErrProtocol, h.EventType)
	}
	key := connectors.JoinTable(db, name)
	ct := a.tables[key]
	if ct == nil {
		return fmt.Errorf("%w: rows of captured table %s.%s, whose schema is not tracked (created by a skipped DDL?)", ErrProtocol, db, name)
	}
	if a.scope.signal == key {
		// Signals are not data: not emitted, so not counted by a resume's skip either.
		return a.signals(ct, op, e, h)
	}
	step := 1
	if op == decoder.OpUpdate {
		step = 2
		if len(e.Rows)%2 != 0 {
			return fmt.Errorf("%w: an update event of %s.%s with %d row images", ErrProtocol, db, name, len(e.Rows))
		}
	}
	ts := a.commitTime
	if ts.IsZero() {
		ts = time.Unix(int64(h.Timestamp), 0).UTC()
	}
	for i := 0; i < len(e.Rows); i += step {
		if err := a.beginOnce(emit); err != nil {
			return err
		}
		if a.skipLeft > 0 {
			a.skipLeft--
			continue
		}
		ch := &decoder.Change{Op: op, Table: ct.table, Source: NewSourceInfo(
			ts, decoder.SnapshotFalse, a.file, eventStart(h), a.gtid, h.ServerID, int32(i/step),
		)}
		var err error
		switch op {
		case decoder.OpCreate:
			ch.After, err = decodeRow(ct, e.Rows[i])
		case decoder.OpDelete:
			ch.Before, err = decodeRow(ct, e.Rows[i])
		case decoder.OpUpdate:
			if ch.Before, err = decodeRow(ct, e.Rows[i]); err == nil {
				ch.After, err = decodeRow(ct, e.Rows[i+1])
			}
		}
		if err != nil {
			return fmt.Errorf("row %d of %s.%s at %s:%d (gtid %s): %w", i/step, db, name, a.file, eventStart(h), a.gtid, err)
		}
		if err := emit(connectors.Event{Kind: connectors.EventChange, Change: ch}); err != nil {
			return err
		}
	}
	return nil
}

// decodeRow decodes one row image into new Values, which the Change's receiver owns.
func decodeRow(ct *capturedTable, row []any) ([]decoder.Value, error) {
	if len(row) != len(ct.table.Columns) {
		return nil, fmt.Errorf("%w: %d values for %d columns (a DDL the schema history missed?)", ErrProtocol,
			len(row), len(ct.table.Columns))
	}
	dst := make([]decoder.Value, len(row))
	if err := ct.dec.Decode(row, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

func (a *assembler) commit(h *replication.EventHeader, emit func(connectors.Event) error) error {
	if !a.inTx {
		return fmt.Errorf("%w: a commit outside a transaction at %s:%d", ErrProtocol, a.file, eventStart(h))
	}
	a.inTx = false
	if a.drop {
		if a.inc != nil {
			a.inc.aborted()
		}
		return nil
	}
	gtids, err := a.done.GTIDs.With(a.gtid)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	a.done = Position{GTIDs: gtids, File: a.file, Pos: uint64(h.LogPos)}
	if a.inc != nil {
		a.inc.committed()
	}
	if !a.begun {
		if a.beginSkip > 0 {
			return fmt.Errorf("%w: skip %d, but transaction %s has no captured row", ErrBadPosition, a.beginSkip, a.gtid)
		}
		return nil
	}
	if a.skipLeft > 0 {
		return fmt.Errorf("%w: skip %d is more than the %d captured rows of transaction %s",
			ErrBadPosition, a.beginSkip, a.beginSkip-a.skipLeft, a.gtid)
	}
	commit := a.done
	commit.Incremental = a.progress()
	return emit(connectors.Event{Kind: connectors.EventCommit, Position: commit.encode(0)})
}

// signals hands the rows inserted into the signal table to the incremental snapshot. A row
// that does not decode is logged and ignored, as a bad signal is.
func (a *assembler) signals(ct *capturedTable, op decoder.Op, e *replication.RowsEvent, h *replication.EventHeader) error {
	if a.inc == nil || op != decoder.OpCreate {
		return nil
	}
	for i, row := range e.Rows {
		v, err := decodeRow(ct, row)
		if err != nil {
			a.inc.log.Error().Err(err).Str("signal_table", a.scope.signal).Str("file", a.file).Uint64("pos", eventStart(h)).
				Int("row", i).Msg("signal ignored: the row does not decode")
			continue
		}
		a.inc.signalled(ct.table, v)
	}
	return nil
}
