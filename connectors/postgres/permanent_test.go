package postgres

import (
	"errors"
	"fmt"
	"testing"

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
