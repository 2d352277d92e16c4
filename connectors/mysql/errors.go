package mysql

import (
	"errors"
	"fmt"
	"net"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql"

	"github.com/cdcd-dev/cdcd/connectors"
)

// The conditions a caller may test with errors.Is.
var (
	// ErrAlreadyStreaming is returned by Stream when another Stream of the same Source runs.
	ErrAlreadyStreaming = errors.New("mysql source: already streaming")
	// ErrBadPosition wraps a position this package cannot interpret.
	ErrBadPosition = errors.New("mysql source: bad position")
	// ErrPositionBackwards is returned when a position would move a frontier (the acknowledged
	// position, the stream's own) backwards.
	ErrPositionBackwards = errors.New("mysql source: position moves backwards")
	// ErrPositionPurged is returned by Stream when the stored position needs binary logs the
	// server has purged (MariaDB: GTIDs before its oldest binary log's Gtid_list; MySQL:
	// @@gtid_purged not within the stored GTID set; a file/pos position: its file is gone) and
	// the snapshot mode does not snapshot again. Its message names the position and what the
	// server has.
	ErrPositionPurged = errors.New("mysql source: the binary logs of the stored position are purged")
	// ErrResumeTxMissing is returned by Stream when resuming inside a transaction (a position
	// with "tx" and Skip) and another transaction comes first.
	ErrResumeTxMissing = errors.New("mysql source: the transaction to resume was not found in the binlog")
	// ErrUnreachable wraps a connection that could not be established or was lost at the
	// network level, and a server that went silent for longer than three heartbeats.
	ErrUnreachable = errors.New("mysql source: server unreachable")
	// ErrProtocol wraps a binlog event sequence this package cannot make sense of: rows
	// outside a transaction, a table map missing, a row that does not match the table.
	ErrProtocol = errors.New("mysql source: unexpected binlog event sequence")
	// ErrStreamFailed is returned by Ack after the stream failed, until Stream runs again.
	ErrStreamFailed = errors.New("mysql source: the stream failed; acknowledgements are refused until it restarts")
)

// DDLError is a DDL statement on a captured table that stopped the stream; errors.Is matches
// its Err, ErrDDLUnparseable or ErrDDLUnsupported. The changes before it are delivered.
type DDLError struct {
	// Table is the captured table the statement may change, "database.table", or the
	// database for a statement on a whole database.
	Table string
	// Statement is the statement as the binlog holds it.
	Statement string
	// GTID is the statement's transaction GTID; File and Pos the statement's event.
	GTID string
	File string
	Pos  uint64
	// Err says what is wrong: it wraps ErrDDLUnparseable or ErrDDLUnsupported.
	Err error
}

// Error implements error.
func (e *DDLError) Error() string {
	msg := fmt.Sprintf("%v; statement %q on %s (gtid %s, %s:%d)", e.Err, truncate(e.Statement, 500), e.Table, e.GTID, e.File, e.Pos)
	if errors.Is(e.Err, ErrDDLUnparseable) {
		msg += "; if it does not change the captured tables' columns, set UnparseableDDL to UnparseableDDLSkip to skip it"
	}
	return msg
}

// Unwrap returns Err.
func (e *DDLError) Unwrap() error { return e.Err }

// ConfigError says what is wrong with the configuration or the server's setup, and how to fix
// it; see connectors.ConfigError.
type ConfigError = connectors.ConfigError

// IsRetryable tells whether err may go away by itself, so that restarting the stream later is
// worth it: a lost or refused connection, a timeout, a server shutting down. Configuration
// errors, bad positions, a purged stored position, DDL that cannot be applied, a missing or
// corrupt schema history and protocol violations are not (see permanent).
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnreachable) {
		return true
	}
	var ce *ConfigError
	if errors.As(err, &ce) || permanent(err) {
		return false
	}
	var myErr *driver.MySQLError
	if errors.As(err, &myErr) {
		return retryableCode(myErr.Number)
	}
	var binErr *gomysql.MyError
	if errors.As(err, &binErr) {
		return retryableCode(binErr.Code)
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, driver.ErrInvalidConn)
}

// permanent tells whether err names a condition that a restart from the same committed
// position meets again: a bad position, one whose binary logs are purged or whose transaction
// is missing, a broken binlog sequence, DDL that cannot be parsed or applied, a schema history
// missing or corrupt, and the server refusing the binlog dump from that position (error 1236,
// ER_MASTER_FATAL_ERROR_READING_BINLOG: a purged or unknown position, or GTIDs the server never
// had). A network failure is never permanent, whatever it interrupted.
func permanent(err error) bool {
	if errors.Is(err, ErrUnreachable) {
		return false
	}
	for _, sentinel := range permanentErrors {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	var binErr *gomysql.MyError
	return errors.As(err, &binErr) && binErr.Code == errBinlogFatal
}

// permanentErrors are the sentinels permanent says true for.
var permanentErrors = []error{ErrBadPosition, ErrPositionBackwards, ErrResumeTxMissing, ErrPositionPurged,
	ErrProtocol, ErrDDLUnparseable, ErrDDLUnsupported, ErrHistoryMissing, ErrHistoryCorrupt}

// errBinlogFatal is ER_MASTER_FATAL_ERROR_READING_BINLOG, the server's refusal of a binlog dump
// from a position it cannot serve.
const errBinlogFatal = 1236

// markPermanent marks err permanent (connectors.Permanent) when a restart cannot fix it (see
// permanent), so that the pipeline stops the connector instead of retrying forever; a
// ConfigError says so itself. Other errors stay as they are: the pipeline retries them from
// the committed position.
func markPermanent(err error) error {
	if permanent(err) {
		return connectors.Permanent(err)
	}
	return err
}

// retryableCode tells whether a server error code is one that goes away: too many
// connections, server shutdown, lock wait, a connection killed.
func retryableCode(code uint16) bool {
	switch code {
	case 1040, // ER_CON_COUNT_ERROR
		1053, // ER_SERVER_SHUTDOWN
		1205, // ER_LOCK_WAIT_TIMEOUT
		1927, // ER_CONNECTION_KILLED (MariaDB)
		2006, // CR_SERVER_GONE_ERROR
		2013: // CR_SERVER_LOST
		return true
	}
	return false
}

func badPosition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadPosition, fmt.Sprintf(format, args...))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
