package mysql

import (
	"errors"
	"fmt"
	"net"
	"testing"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/cdcd-dev/cdcd/pipeline"
)

// TestStreamFailuresARestartCannotFixAreNotRetried is the contract between this source and the
// pipeline: what Stream returns for a condition a restart from the same position meets again
// (marked at its boundary by markPermanent) stops the connector, and what may go away by
// itself is retried. Before the marker, every one of them was retried every 30 s forever.
func TestStreamFailuresARestartCannotFixAreNotRetried(t *testing.T) {
	netErr := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	for _, tc := range []struct {
		err       error
		retryable bool
	}{
		{fmt.Errorf("%w: 0-1-42 before the oldest binary log (snapshot mode initial)", ErrPositionPurged), false},
		{fmt.Errorf("stored: %w", ErrBadPosition), false},
		{ErrPositionBackwards, false},
		{ErrResumeTxMissing, false},
		{fmt.Errorf("rows outside a transaction: %w", ErrProtocol), false},
		{fmt.Errorf("mysql source: h:3306: %w", &DDLError{Table: "d.t", Statement: "ALTER TABLE t FROB", Err: ErrDDLUnparseable}), false},
		{&DDLError{Table: "d.t", Statement: "ALTER TABLE t ...", Err: ErrDDLUnsupported}, false},
		{fmt.Errorf("%w (history topic h)", ErrHistoryMissing), false},
		{fmt.Errorf("record 3: %w", ErrHistoryCorrupt), false},
		{fmt.Errorf("mysql source: starting the binlog dump: %w", &gomysql.MyError{Code: 1236, Message: "Could not find GTID state requested by slave in any binlog files"}), false},
		{&ConfigError{Source: "mysql", Field: "binlog_format", Problem: "is STATEMENT"}, false},
		{fmt.Errorf("%w: reading the binlog: %w", ErrUnreachable, netErr), true},
		{fmt.Errorf("%w: reading the binlog: %w", ErrUnreachable, &gomysql.MyError{Code: 1236, Message: "x"}), true},
		{fmt.Errorf("querying: %w", netErr), true},
		{&gomysql.MyError{Code: 1040, Message: "Too many connections"}, true},
		{errors.New("something unclassified"), true},
	} {
		err := markPermanent(tc.err)
		if got := pipeline.IsRetryable(err); got != tc.retryable {
			t.Errorf("pipeline.IsRetryable(markPermanent(%v)) = %v, want %v", tc.err, got, tc.retryable)
		}
		if got := pipeline.IsRetryable(fmt.Errorf("pipeline: source: %w", err)); got != tc.retryable {
			t.Errorf("wrapped by the pipeline: IsRetryable(%v) = %v, want %v", tc.err, got, tc.retryable)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("markPermanent(%v) lost the error it wraps", tc.err)
		}
		if err.Error() != tc.err.Error() {
			t.Errorf("markPermanent changed the message %q into %q", tc.err, err)
		}
	}
}
