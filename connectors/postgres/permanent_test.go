package postgres

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcd-dev/cdcd/pipeline"
)

func TestStreamFailuresARestartCannotFixAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		err       error
		retryable bool
	}{
		{fmt.Errorf("resuming: %w", ErrPositionReleased), false},
		{fmt.Errorf("stored: %w", ErrBadPosition), false},
		{ErrResumeTxMissing, false},
		{fmt.Errorf("message: %w", ErrProtocol), false},
		{&ConfigError{Source: "postgres", Field: "slot", Problem: "is missing"}, false},
		{fmt.Errorf("receiving: %w", ErrUnreachable), true},
		{errors.New("something unclassified"), true},
		// A connection cut while CREATE_REPLICATION_SLOT runs is a network failure; the
		// server refusing the slot is not.
		{slotCreateError("cdcd_x", fmt.Errorf("receive message failed: %w", io.ErrUnexpectedEOF)), true},
		{slotCreateError("cdcd_x", &pgconn.PgError{Code: "53400", Message: "all replication slots are in use"}), false},
	} {
		err := markPermanent(tc.err)
		if got := pipeline.IsRetryable(err); got != tc.retryable {
			t.Errorf("pipeline.IsRetryable(markPermanent(%v)) = %v, want %v", tc.err, got, tc.retryable)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("markPermanent(%v) lost the error it wraps", tc.err)
		}
	}
}
