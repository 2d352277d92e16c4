package postgres

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/jackc/pglogrepl"
)

// router takes each pgoutput message of the stream to where it belongs: a message inside a
// stream block to the spool, undecoded; everything else to the decoder and the assembler; a
// Stream Commit to a replay of the spooled transaction through both. It has no network code,
// so message sequences test it.
type router struct {
	dec messageDecoder
	asm *assembler
	// spool is nil when streaming is off.
	spool *spool
	// keepAlive, when set, is called after each replayed record with its size. A replay runs
	// inside the handling of one message, for as long as it takes to decode a spill file that
	// may hold millions of changes, most of them perhaps skipped by a resume: no receive and,
	// while the pipeline keeps up, no emit interrupts it, so the caller keeps the connection
	// alive from here (the same goroutine: the connection is never shared).
	keepAlive func(size int) error
}

// streamedData tells whether a message with this tag carries an xid inside a stream block and
// belongs to the streamed transaction. Origin is the one message of a block without an xid.
func streamedData(tag byte) bool {
	switch tag {
	case 'R', 'Y', 'I', 'U', 'D', 'T', 'M':
		return true
	}
	return false
}

// spills tells whether handle would only write data to the spool, which keeps no reference
// to it.
func (r *router) spills(data []byte) bool {
	return r.spool != nil && r.spool.inBlock() && len(data) > 0 && streamedData(data[0])
}

// handle routes data, the WALData of the XLogData starting at walStart, which it may rewrite
// but does not keep: the decoded messages own their bytes.
func (r *router) handle(ctx context.Context, data []byte, walStart pglogrepl.LSN, emit func(connectors.Event) error) error {
	if r.spills(data) {
		return r.spool.write(data, walStart)
	}
	inBlock := r.spool != nil && r.spool.inBlock()
	msg, err := r.dec.Decode(ctx, data)
	if err != nil {
		return fmt.Errorf("decoding the message at %s: %w", walStart, err)
	}
	switch msg.Kind {
	case decoder.PGStreamStart, decoder.PGStreamStop, decoder.PGStreamCommit, decoder.PGStreamAbort:
		if r.spool == nil {
			return fmt.Errorf("%w: a streamed-transaction message (%s) while streaming is off", ErrProtocol, msg.Kind)
		}
		if r.asm.inTx {
			return fmt.Errorf("%w: %s inside transaction %d", ErrProtocol, msg.Kind, r.asm.xid)
		}
	}
	switch msg.Kind {
	case decoder.PGStreamStart:
		return r.spool.start(msg.XID, msg.FirstSegment == decoder.PGSegmentFirst)
	case decoder.PGStreamStop:
		return r.spool.stop()
	case decoder.PGStreamAbort:
		return r.spool.abort(msg.XID, msg.SubXID)
	case decoder.PGStreamCommit:
		return r.replay(ctx, &msg, emit)
	case decoder.PGOrigin:
		if inBlock {
			return nil
		}
	default:
		if inBlock {
			return fmt.Errorf("%w: %s inside the stream block of xid %d", ErrProtocol, msg.Kind, r.spool.cur.xid)
		}
	}
	return r.asm.handle(&msg, walStart, emit)
}

// replay delivers the spooled transaction that msg, a Stream Commit, commits: Begin (its
// position names the transaction by the commit LSN, known only now), each change decoded in
// the order received, Commit. The decoder sees the records inside a stream block of their
// xid, as it would have when they arrived. A transaction the resume position drops is still
// decoded, without events: its Relation messages stand for the following transactions.
func (r *router) replay(ctx context.Context, msg *decoder.PGMessage, emit func(connectors.Event) error) error {
	xid := msg.XID
	if !r.spool.has(xid) {
		return fmt.Errorf("%w: Stream Commit of xid %d, which was never streamed", ErrProtocol, xid)
	}
	commitLSN := pglogrepl.LSN(msg.CommitLSN)
	begin := decoder.PGMessage{Kind: decoder.PGBegin, XID: xid, FinalLSN: msg.CommitLSN, CommitTime: msg.CommitTime}
	if err := r.asm.handle(&begin, commitLSN, emit); err != nil {
		return err
	}
	var start [6]byte
	start[0] = 'S'
	binary.BigEndian.PutUint32(start[1:5], xid)
	if _, err := r.dec.Decode(ctx, start[:]); err != nil {
		return fmt.Errorf("replaying xid %d: %w", xid, err)
	}
	err := r.spool.replay(xid, func(data []byte, walStart pglogrepl.LSN) error {
		m, err := r.dec.Decode(ctx, data)
		if err != nil {
			return fmt.Errorf("decoding the streamed message of xid %d received at %s: %w", xid, walStart, err)
		}
		if err := r.asm.handle(&m, walStart, emit); err != nil {
			return err
		}
		if r.keepAlive != nil {
			return r.keepAlive(len(data))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := r.dec.Decode(ctx, []byte{'E'}); err != nil {
		return fmt.Errorf("replaying xid %d: %w", xid, err)
	}
	if err := r.spool.discard(xid); err != nil {
		return err
	}
	commit := decoder.PGMessage{Kind: decoder.PGCommit, CommitLSN: msg.CommitLSN, EndLSN: msg.EndLSN, CommitTime: msg.CommitTime}
	return r.asm.handle(&commit, commitLSN, emit)
}
