package postgres

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pglogrepl"
)

// assembler turns decoded pgoutput messages into pipeline events, applying the resume rules
// of the package documentation: it drops the transactions committed before the resume LSN and
// the first changes of the transaction resumed inside. It has no network code, so its rules
// are tested with message sequences.
type assembler struct {
	resume position
	// prevEnd is the end LSN of the last transaction delivered, or the resume LSN.
	prevEnd pglogrepl.LSN
	// resumeFound tells whether the transaction resume.tx has been seen (true without one).
	resumeFound bool

	// The open transaction.
	inTx       bool
	drop       bool
	xid        uint32
	commitLSN  pglogrepl.LSN
	commitTime time.Time
	skipLeft   int64

	// inc is the incremental snapshot's state; nil in tests of the plain stream.
	inc *incremental
	// hb turns this source's heartbeat messages into records; nil without heartbeats, when
	// heartbeat messages are ignored (and not counted by a Skip).
	hb *heartbeats
	// msgs says which messages are changes (message.go); nil: none.
	msgs *messages
}

func newAssembler(resume position) *assembler {
	return &assembler{resume: resume, prevEnd: resume.lsn, resumeFound: resume.tx == 0}
}

// handle applies one message, decoded from the XLogData that starts at walStart, and emits
// its events. msg is the caller's to give: changes sent point into its memory.
func (a *assembler) handle(msg *decoder.PGMessage, walStart pglogrepl.LSN, emit func(connectors.Event) error) error {
	switch msg.Kind {
	case decoder.PGBegin:
		return a.begin(msg, emit)
	case decoder.PGChange:
		if err := a.needTx("change"); err != nil || a.drop {
			return err
		}
		ch := msg.Change
		return a.change(&ch, walStart, emit)
	case decoder.PGTruncate:
		if err := a.needTx("truncate"); err != nil || a.drop {
			return err
		}
		for _, t := range msg.Tables {
			if err := a.change(&decoder.Change{Op: decoder.OpTruncate, Table: t}, walStart, emit); err != nil {
				return err
			}
		}
		return nil
	case decoder.PGCommit:
		return a.commit(msg, emit)
	case decoder.PGLogicalMessage:
		if msg.Transactional == decoder.PGMessageTransactional && msg.Prefix == heartbeatPrefix {
			if err := a.needTx("heartbeat message"); err != nil || a.drop {
				return err
			}
			return a.heartbeat(msg.Content, emit)
		}
		if msg.Transactional == decoder.PGMessageTransactional && msg.Prefix == resnapshotPrefix {
			return a.resnapshotRequested(msg.Content)
		}
		if msg.Transactional == decoder.PGMessageTransactional && a.msgs.wanted(msg.Prefix) {
			return a.message(msg, walStart, emit)
		}
		if a.inc == nil || msg.Transactional == decoder.PGMessageTransactional || msg.Prefix != watermarkPrefix {
			return nil
		}
		if a.inTx {
			return fmt.Errorf("%w: a non-transactional message inside xid %d", ErrProtocol, a.xid)
		}
		return a.inc.watermark(msg.Content, walStart, a.prevEnd, emit)
	case decoder.PGRelation, decoder.PGType, decoder.PGOrigin:
		// Descriptions the decoder keeps, and messages with no row: no event.
		return nil
	case decoder.PGStreamStart, decoder.PGStreamStop, decoder.PGStreamCommit, decoder.PGStreamAbort:
		// The router handles these; one here is a bug, not data to ignore.
		return fmt.Errorf("%w: a streamed-transaction message (%s) reached the assembler", ErrProtocol, msg.Kind)
	default:
		return fmt.Errorf("%w: unknown message kind %d", ErrProtocol, msg.Kind)
	}
}

func (a *assembler) needTx(what string) error {
	if !a.inTx {
		return fmt.Errorf("%w: %s outside a transaction", ErrProtocol, what)
	}
	return nil
}

func (a *assembler) begin(msg *decoder.PGMessage, emit func(connectors.Event) error) error {
	if a.inTx {
		return fmt.Errorf("%w: Begin of xid %d inside xid %d", ErrProtocol, msg.XID, a.xid)
	}
	final := pglogrepl.LSN(msg.FinalLSN)
	a.inTx, a.xid, a.commitLSN, a.commitTime, a.skipLeft = true, msg.XID, final, msg.CommitTime, 0
	// The server already skips these, unless the slot starts earlier than the position.
	a.drop = final < a.resume.lsn
	if a.drop {
		return nil
	}
	var skip int64
	if !a.resumeFound {
		switch {
		case final == a.resume.tx:
			a.resumeFound = true
			skip, a.skipLeft = a.resume.skip, a.resume.skip
		case final > a.resume.tx:
			return fmt.Errorf("%w: transaction committed at %s, expected first the one committed at %s",
				ErrResumeTxMissing, final, a.resume.tx)
		}
	}
	pos := position{lsn: a.prevEnd, tx: final, skip: skip, incr: a.progress()}
	return emit(connectors.Event{Kind: connectors.EventBegin, Position: pos.encode(),
		TxID: transactionID(msg.XID, final), CommitTime: msg.CommitTime})
}

// transactionID is the id transaction metadata gives a transaction: its xid and its commit LSN,
// in decimal as Debezium writes "<txId>:<lsn>". Both are known at its Begin and stay the same
// when a run resumes inside it.
func transactionID(xid uint32, commit pglogrepl.LSN) string {
	b := make([]byte, 0, 32)
	b = strconv.AppendUint(b, uint64(xid), 10)
	b = append(b, ':')
	return string(strconv.AppendUint(b, uint64(commit), 10))
}

// progress returns the incremental snapshot's progress, which every position carries.
func (a *assembler) progress() *incrementalProgress {
	if a.inc == nil {
		return nil
	}
	return a.inc.prog
}

func (a *assembler) change(ch *decoder.Change, walStart pglogrepl.LSN, emit func(connectors.Event) error) error {
	if a.inc != nil {
		if a.inc.isSignal(ch.Table) {
			// Signals are not data: not emitted, so not counted by a resume's skip either.
			a.inc.signalled(ch)
			return nil
		}
		a.inc.observe(ch)
	}
	if a.skipLeft > 0 {
		a.skipLeft--
		return nil
	}
	ch.Source = NewSourceInfo(a.commitTime, ch.Source.Snapshot, int64(a.xid), uint64(walStart))
	return emit(connectors.Event{Kind: connectors.EventChange, Change: ch})
}

// heartbeat emits the record of a heartbeat message of the open transaction. Only this
// source's own heartbeats are records: every slot of the database decodes every slot's
// messages, and another's is ignored (its transaction, without changes, still moves the
// position forward). An emitted heartbeat counts as one of the transaction's changes for a
// Skip, as the pipeline counts it.
func (a *assembler) heartbeat(content []byte, emit func(connectors.Event) error) error {
	if a.hb == nil || !a.hb.mine(content) {
		return nil
	}
	if a.skipLeft > 0 {
		a.skipLeft--
		return nil
	}
	return emit(connectors.Event{Kind: connectors.EventRecord, Record: a.hb.record(a.commitTime)})
}

func (a *assembler) commit(msg *decoder.PGMessage, emit func(connectors.Event) error) error {
	if err := a.needTx("commit"); err != nil {
		return err
	}
	if pglogrepl.LSN(msg.CommitLSN) != a.commitLSN {
		return fmt.Errorf("%w: Commit at %s closes a transaction announced to commit at %s",
			ErrProtocol, pglogrepl.LSN(msg.CommitLSN), a.commitLSN)
	}
	a.inTx = false
	if a.drop {
		a.drop = false
		if a.inc != nil {
			a.inc.aborted()
		}
		return nil
	}
	if a.skipLeft > 0 {
		return fmt.Errorf("%w: skip %d is more than the %d changes of the transaction committed at %s",
			ErrBadPosition, a.resume.skip, a.resume.skip-a.skipLeft, a.commitLSN)
	}
	end := pglogrepl.LSN(msg.EndLSN)
	a.prevEnd = end
	if a.inc != nil {
		a.inc.committed(a.xid)
	}
	return emit(connectors.Event{Kind: connectors.EventCommit, Position: position{lsn: end, incr: a.progress()}.encode()})
}

// idle moves the position on to walEnd, the WAL position a server's keepalive that asks for a
// reply reports, as one transaction without changes, when nothing is open: every transaction
// committed before walEnd has been received (the walsender sends each one at its commit,
// before its position passes it) and emitted. Once the pipeline commits it, the slot's
// confirmed flush LSN reaches walEnd. A server shutting down needs exactly that: its walsender
// asks for a reply and exits only when the client has confirmed everything sent, the shutdown
// checkpoint included, which no transaction of the stream ever confirms. It does nothing
// inside a transaction, before the transaction to resume inside has come, or while an
// incremental snapshot's chunk waits for its watermark.
func (a *assembler) idle(walEnd pglogrepl.LSN, emit func(connectors.Event) error) error {
	if a.inTx || !a.resumeFound || walEnd <= a.prevEnd || (a.inc != nil && a.inc.window != nil) {
		return nil
	}
	if err := emit(connectors.Event{Kind: connectors.EventBegin, Position: position{lsn: a.prevEnd, incr: a.progress()}.encode()}); err != nil {
		return err
	}
	a.prevEnd = walEnd
	return emit(connectors.Event{Kind: connectors.EventCommit, Position: position{lsn: walEnd, incr: a.progress()}.encode()})
}
