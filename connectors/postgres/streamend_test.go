package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

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
