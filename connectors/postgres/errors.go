package postgres

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcd-dev/cdcd/connectors"
)

// The conditions a caller may test with errors.Is.
var (
	// ErrStreamFailed is returned by Ack after the stream failed: the acknowledgement is not
	// recorded, and none is sent until Stream runs again.
	ErrStreamFailed = errors.New("postgres source: the stream failed; acknowledgements are refused until it restarts")
	// ErrAlreadyStreaming is returned by Stream when another Stream of the same Source runs.
	ErrAlreadyStreaming = errors.New("postgres source: already streaming")
	// ErrBadPosition wraps a position this package cannot interpret.
	ErrBadPosition = errors.New("postgres source: bad position")
	// ErrPositionReleased is returned by Stream when the position to resume from is before the
	// slot's confirmed flush LSN: the WAL that would replay it is gone.
	ErrPositionReleased = errors.New("postgres source: position is before the slot's confirmed flush LSN")
	// ErrResumeTxMissing is returned by Stream when resuming inside a transaction (a position
	// with "tx" and Skip) and a later transaction commits before that one appears.
	ErrResumeTxMissing = errors.New("postgres source: the transaction to resume was not found in the stream")
	// ErrUnreachable wraps a connection that could not be established at the network level:
	// the server is down, unreachable or not listening there.
	ErrUnreachable = errors.New("postgres source: server unreachable")
	// ErrProtocol wraps a message sequence that breaks the pgoutput protocol's rules.
	ErrProtocol = errors.New("postgres source: unexpected message sequence")
	// ErrSlotInvalidated is returned by Stream when PostgreSQL has invalidated the slot
	// (wal_status lost, as max_slot_wal_keep_size does to a slot that falls too far behind)
	// and the snapshot mode does not snapshot again: the slot can never be streamed from.
	ErrSlotInvalidated = errors.New("postgres source: replication slot invalidated")
	// ErrStreamEnded is returned by Stream when the server ended the replication stream
	// (CopyDone, CommandComplete): a walsender does so when its server shuts down (pg_ctl stop
	// or restart in fast or smart mode, a failover), so it is retryable.
	ErrStreamEnded = errors.New("postgres source: PostgreSQL ended the replication stream (server shutting down?)")
)

// ConfigError says what is wrong with the configuration or the server's setup, and how to fix
// it; see connectors.ConfigError.
type ConfigError = connectors.ConfigError

// IsRetryable tells whether err may go away by itself, so that restarting the stream later is
// worth it: a lost or refused connection, a timeout. Configuration errors, bad positions and
// protocol violations are not.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrStreamEnded) {
		return true
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return false
	}
	if permanent(err) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P: operator intervention (shutdown, terminated);
		// 55006: the slot is still held by a walsender that is going away; 53300: too many
		// connections.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P") ||
			pgErr.Code == "55006" || pgErr.Code == "53300"
	}
	var netErr net.Error
	if errors.As(err, &netErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr)
}

func badPosition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPosition, fmt.Sprintf(format, args...))
}

// markPermanent marks err permanent (connectors.Permanent) when it names a condition a restart
// from the same committed position cannot fix: a released or invalid position, a broken
// protocol, an invalidated slot (permanentErrors; a ConfigError says so itself). Other errors
// stay as they are: the pipeline retries them from the committed position.
func markPermanent(err error) error {
	if permanent(err) {
		return connectors.Permanent(err)
	}
	return err
}

// permanent tells whether err is one of permanentErrors.
func permanent(err error) bool {
	for _, sentinel := range permanentErrors {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}

// onServer prefixes the problem of a ConfigError with the server, host:port, so that an
// operator of several knows where to act; other errors pass as they are.
func onServer(err error, cfg Config) error {
	if ce, ok := errors.AsType[*ConfigError](err); ok {
		ce.Problem = fmt.Sprintf("%s:%d: %s", cfg.Host, cfg.Port, ce.Problem)
	}
	return err
}

// privilegeError turns PostgreSQL's insufficient_privilege (42501, "permission denied for
// table items") met while streaming or snapshotting into a ConfigError naming the server and
// the role, with the grant to run: the privilege stays missing until an administrator grants
// it, so the connector fails rather than retrying. Other errors pass as they are.
func privilegeError(err error, cfg Config) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		return err
	}
	if _, ok := errors.AsType[*ConfigError](err); ok {
		return err
	}
	return &ConfigError{Source: "postgres", Field: "grants",
		Problem: fmt.Sprintf("%s:%d: user %q lacks a privilege: %s", cfg.Host, cfg.Port, cfg.User, pgErr.Message),
		Fix:     fmt.Sprintf("GRANT SELECT ON the captured tables TO %s (see docs/security.md)", pgx.Identifier{cfg.User}.Sanitize()),
		Err:     err}
}
