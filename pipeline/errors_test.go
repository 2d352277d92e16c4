package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kerr"
)

// silentListener accepts connections and never answers: a server behind a partition, or one
// too slow to come back from a failover.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

// TestNetworkFailuresAreRetryable: every network-level failure is retried, timeouts included;
// pgconn's connect timeout wraps context.DeadlineExceeded, and was taken for a cancellation.
func TestNetworkFailuresAreRetryable(t *testing.T) {
	host, port, _ := strings.Cut(silentListener(t), ":")
	cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=%s user=cdcd dbname=cdcd sslmode=disable connect_timeout=1", host, port))
	if err != nil {
		t.Fatal(err)
	}
	_, connectErr := pgconn.ConnectConfig(t.Context(), cfg)
	if connectErr == nil {
		t.Fatal("connecting to a server that never answers succeeded")
	}
	if !errors.Is(connectErr, context.DeadlineExceeded) {
		t.Logf("pgconn's connect timeout no longer wraps context.DeadlineExceeded: %v", connectErr)
	}

	a, b := net.Pipe()
	defer func() { _ = a.Close(); _ = b.Close() }()
	if err := a.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, readErr := a.Read(make([]byte, 1))
	var netErr net.Error
	if !errors.As(readErr, &netErr) || !netErr.Timeout() {
		t.Fatalf("reading past the deadline: %v, want a net.Error timeout", readErr)
	}

	for name, err := range map[string]error{
		"connect timeout":   fmt.Errorf("postgres source: connecting as %q to %s: %w", "cdcd", host+":"+port, connectErr),
		"I/O timeout":       fmt.Errorf("reading the binlog: %w", readErr),
		"dial refused":      &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
		"deadline":          fmt.Errorf("waiting for the server: %w", context.DeadlineExceeded),
		"Kafka unreachable": fmt.Errorf("unable to dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}),
	} {
		for _, stage := range []Stage{StageStart, StageSource, StageProduce, StageCommit} {
			if se := stageError(stage, err); !IsRetryable(se) {
				t.Errorf("%s: IsRetryable(%v) = false, want true", name, se)
			}
		}
	}
	if IsRetryable(stageError(StageSource, fmt.Errorf("stopping: %w", context.Canceled))) {
		t.Error("a cancellation is retryable")
	}
}

// TestTimedOutSaysTheBrokerAborted: a transaction the broker aborted after its timeout is
// reported as such, without the words of fencing by another process, which there was none of.
func TestTimedOutSaysTheBrokerAborted(t *testing.T) {
	for _, kafkaErr := range []error{kerr.InvalidProducerEpoch, kerr.ProducerFenced, kerr.InvalidTxnState} {
		fenced := stageError(StageCommit, fmt.Errorf("committing the Kafka transaction up to x: %w", kafkaErr))
		err := timedOut(fenced, 95*time.Second, time.Minute)
		msg := err.Error()
		if strings.Contains(msg, "another process") || strings.Contains(msg, "fenced by") {
			t.Errorf("%v: the message speaks of another process: %s", kafkaErr, msg)
		}
		if !strings.Contains(msg, "aborted") || !strings.Contains(msg, "timeout") || !strings.Contains(msg, kafkaErr.Error()) {
			t.Errorf("%v: the message does not say the broker aborted the transaction after its timeout, with the Kafka error: %s", kafkaErr, msg)
		}
		if !errors.Is(err, ErrTransactionTimedOut) || errors.Is(err, ErrFenced) || !IsRetryable(err) {
			t.Errorf("%v: %v, want ErrTransactionTimedOut, retryable", kafkaErr, err)
		}
	}
}

// TestOutcomeUnknown: only a broker out of reach or a retriable Kafka error leaves a commit's
// outcome unknown and makes the pipeline ask again; a definitive answer, a refusal of the client
// and the end of the run do not.
func TestOutcomeUnknown(t *testing.T) {
	dial := fmt.Errorf("unable to dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{dial, true},
		{fmt.Errorf("reading: %w", io.EOF), true},
		{io.ErrUnexpectedEOF, true},
		{kerr.CoordinatorNotAvailable, true},
		{kerr.ConcurrentTransactions, true},
		{kerr.InvalidProducerEpoch, false},
		{kerr.ProducerFenced, false},
		{kerr.InvalidTxnState, false},
		{errors.New("topic t was recreated during the transaction"), false},
	} {
		if got := outcomeUnknown(t.Context(), tc.err); got != tc.want {
			t.Errorf("outcomeUnknown(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if outcomeUnknown(ctx, dial) {
		t.Error("the end of the run's context leaves the outcome unknown")
	}
	if !brokerAnswered(kerr.InvalidProducerEpoch) || brokerAnswered(dial) || brokerAnswered(kerr.CoordinatorLoadInProgress) {
		t.Error("brokerAnswered takes a missing answer for one, or the reverse")
	}
}
