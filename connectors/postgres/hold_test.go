package postgres

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
)

// tagDecoder decodes a message by its tag alone: 'B' a Begin, 'I' an insert into one table.
type tagDecoder struct{ table *decoder.Table }

func (d tagDecoder) Decode(_ context.Context, data []byte) (decoder.PGMessage, error) {
	if data[0] == 'B' {
		return decoder.PGMessage{Kind: decoder.PGBegin, XID: 7, FinalLSN: 0x200}, nil
	}
	return decoder.PGMessage{Kind: decoder.PGChange, Change: decoder.Change{Op: decoder.OpCreate, Table: d.table}}, nil
}

// xlogData wraps a pgoutput message in an XLogData at walStart.
func xlogData(walStart uint64, msg []byte) *pgproto3.CopyData {
	b := []byte{pglogrepl.XLogDataByteID}
	b = binary.BigEndian.AppendUint64(b, walStart)
	b = binary.BigEndian.AppendUint64(b, walStart)
	b = binary.BigEndian.AppendUint64(b, 0)
	return &pgproto3.CopyData{Data: append(b, msg...)}
}

// TestLargeMessageEventsWaitForTheNextReceive checks that the events of a message of
// holdEventsOf bytes or more reach the queue only once the next receive has begun (pgconn then
// lets the message's buffer go, so that the encoder's collection finds it free), in order, and
// that those of smaller messages go at once.
func TestLargeMessageEventsWaitForTheNextReceive(t *testing.T) {
	q := connectors.NewQueue(16, 1<<30)
	rt := &router{dec: tagDecoder{table: &decoder.Table{Name: "t"}}, asm: newAssembler(position{lsn: 0x100})}
	st := newStreamer(newTestSource(), nil, &statusRecorder{}, rt, q)
	queued := func() int {
		n := 0
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			_, err := q.Receive(ctx)
			cancel()
			if err != nil {
				return n
			}
			n++
		}
	}
	if err := st.handle(t.Context(), xlogData(0x150, []byte{'B'})); err != nil {
		t.Fatal(err)
	}
	if err := st.handle(t.Context(), xlogData(0x160, []byte{'I'})); err != nil {
		t.Fatal(err)
	}
	if n := queued(); n != 2 {
		t.Fatalf("%d events queued after a begin and a small change, want 2", n)
	}
	large := make([]byte, holdEventsOf)
	large[0] = 'I'
	if err := st.handle(t.Context(), xlogData(0x170, large)); err != nil {
		t.Fatal(err)
	}
	if n := queued(); n != 0 {
		t.Fatalf("%d events queued before the next receive, want 0", n)
	}
	if err := st.emitHeld(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := queued(); n != 1 {
		t.Fatalf("%d events queued once the next receive began, want 1", n)
	}
	if len(st.held) != 0 {
		t.Errorf("%d events still held", len(st.held))
	}
}
