package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// A walsender ends the COPY (CopyDone, then CommandComplete and ReadyForQuery) when its server
// shuts down in pg_ctl's fast or smart mode: the stream is not broken, the server is going
// away, and the pipeline retries once it is back, saying why.
func TestServerEndingTheStreamIsRetried(t *testing.T) {
	st := newStreamer(newTestSource(), nil, &statusRecorder{}, &router{}, nil)
	for _, msg := range []pgproto3.BackendMessage{
		&pgproto3.CopyDone{},
		&pgproto3.CommandComplete{CommandTag: []byte("COPY 0")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
	} {
		err := st.handle(t.Context(), msg)
		if !errors.Is(err, ErrStreamEnded) {
			t.Fatalf("handle(%T) = %v, want ErrStreamEnded", msg, err)
		}
		// As Stream returns it.
		err = markPermanent(fmt.Errorf("postgres source: streaming slot s: %w", err))
		if !pipeline.IsRetryable(err) || !IsRetryable(err) {
			t.Errorf("the end of the stream by %T is not retried: %v", msg, err)
		}
		if !strings.Contains(err.Error(), "PostgreSQL ended the replication stream (server shutting down?)") {
			t.Errorf("the error does not say the server ended the stream: %v", err)
		}
	}
	// A message that has no place in the stream is still a protocol error, not retried.
	err := markPermanent(st.handle(t.Context(), &pgproto3.RowDescription{}))
	if !errors.Is(err, ErrProtocol) || pipeline.IsRetryable(err) {
		t.Errorf("handle(RowDescription) = %v, want a permanent ErrProtocol", err)
	}
}

// keepalive encodes a primary keepalive message.
func keepalive(walEnd pglogrepl.LSN, reply bool) *pgproto3.CopyData {
	b := []byte{pglogrepl.PrimaryKeepaliveMessageByteID}
	b = binary.BigEndian.AppendUint64(b, uint64(walEnd))
	b = binary.BigEndian.AppendUint64(b, 0)
	if reply {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return &pgproto3.CopyData{Data: b}
}

// A walsender of a server shutting down asks for a reply and exits only once the client has
// confirmed everything it sent, up to the shutdown checkpoint, which no transaction carries.
// A keepalive asking for a reply while nothing is open therefore moves the position on to the
// server's WAL end, as a transaction without changes, so that its Ack confirms it; one that
// asks for nothing, comes inside a transaction, or reports no progress emits nothing.
func TestKeepaliveAskingForAReplyMovesAnIdleStreamOn(t *testing.T) {
	q := connectors.NewQueue(16, pipeline.DefaultEventBufferBytes)
	asm := newAssembler(position{lsn: 0x100})
	st := newStreamer(newTestSource(), nil, &statusRecorder{}, &router{asm: asm}, q)
	received := func() []string {
		var out []string
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			ev, err := q.Receive(ctx)
			cancel()
			if err != nil {
				return out
			}
			out = append(out, fmt.Sprintf("%d %s", ev.Kind, ev.Position.Source))
		}
	}
	for _, step := range []struct {
		name string
		msg  pgproto3.BackendMessage
		want []string
	}{
		{"no reply asked", keepalive(0x200, false), nil},
		{"reply asked", keepalive(0x200, true), []string{
			fmt.Sprintf(`%d {"lsn":"0/100"}`, connectors.EventBegin), fmt.Sprintf(`%d {"lsn":"0/200"}`, connectors.EventCommit)}},
		{"no progress", keepalive(0x200, true), nil},
		{"behind", keepalive(0x180, true), nil},
	} {
		if err := st.handle(t.Context(), step.msg); err != nil {
			t.Fatalf("%s: handle = %v", step.name, err)
		}
		if got := received(); !slices.Equal(got, step.want) {
			t.Errorf("%s: events %q, want %q", step.name, got, step.want)
		}
	}
	asm.inTx = true
	if err := st.handle(t.Context(), keepalive(0x300, true)); err != nil {
		t.Fatal(err)
	}
	if got := received(); len(got) > 0 {
		t.Errorf("inside a transaction: events %q, want none", got)
	}
}
