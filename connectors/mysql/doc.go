// Package mysql is cdcd's MySQL and MariaDB source: it reads the row-based binlog as a replica
// does (go-mysql's BinlogSyncer), decodes each row with decoder.MySQLRowDecoder, and hands
// whole transactions with captured rows, in commit order, to the pipeline as pipeline.Events.
//
// # Stages
//
// Stream alone uses the binlog connection. Each binlog event goes to the assembler (txn.go),
// which has no network code: a GTID event opens a transaction; rows events of captured tables
// give one Change per row (an update event's before/after image pairs count one row each),
// with source file, pos (the rows event's start), gtid, server_id, row (the row's index in its
// event) and ts_ms (MySQL 8's immediate commit timestamp, else the event's timestamp); an XID
// event, a COMMIT (or ROLLBACK, which keeps non-transactional changes) Query event, or a
// statement right after its GTID event (DDL) closes it. Begin is sent at the transaction's
// first captured row and Commit only after one: a transaction without captured rows produces
// nothing, but its GTID is in every later position.
//
// # DDL
//
// This version reads each captured table's schema once, at Open, from
// information_schema.COLUMNS. A Query event whose statement may change a captured table (ALTER,
// CREATE, DROP, RENAME, TRUNCATE TABLE, CREATE/DROP INDEX, CREATE/DROP DATABASE of a captured
// database; a table statement whose table cannot be read counts for its default database)
// stops Stream with a *DDLError (errors.Is ErrDDLNotSupportedYet) naming the statement,
// before any row after it is decoded with a stale schema. The changes before it are delivered.
// Schema history from the binlog replaces this later.
//
// # Positions
//
// offsets.Position.Source holds the JSON of a [Position]:
// {"flavor":"mariadb"|"mysql","gtids":"...","file":"mysql-bin.000004","pos":1234,"tx":"..."}.
// gtids is a MySQL GTID set ("uuid:1-5:7-9,uuid2:1-3") or a MariaDB GTID position
// ("0-1-100,1-2-7", one GTID per domain).
//
//   - After a transaction (EventCommit): gtids include it (and every transaction before it in
//     the binlog, captured or not); file/pos are just after its XID/COMMIT event.
//   - At a transaction's start (EventBegin): gtids as after the previous transaction, file/pos
//     of its GTID event, and tx its GTID. Stored with Skip=n, resuming delivers that
//     transaction without its first n captured rows (and its Begin carries Skip=n), and fails
//     with ErrResumeTxMissing if another transaction comes first, or ErrBadPosition if it has
//     fewer than n captured rows.
//   - The zero Position starts at the binlog's current end (SHOW MASTER STATUS, and for
//     MariaDB BINLOG_GTID_POS of exactly those coordinates): there is no snapshot yet.
//
// Stream resumes by GTIDs (COM_BINLOG_DUMP_GTID for MySQL; @slave_connect_state with
// gtid_strict_mode for MariaDB): the server then sends exactly the transactions the set does
// not hold, from whichever binlog file holds them, which survives binlog rotation, purged
// older files and a failover to a server with other file names; file/pos would not. Only a
// position with an empty GTID set (a server that never wrote a GTID) resumes by file/pos. As a
// guard, a MySQL transaction already in the set is dropped. [Position] positions only move
// forward: Ack refuses one behind the last ([ErrPositionBackwards]); one set must contain the
// other, and with equal sets the binlog coordinates and then Skip decide.
//
// # Setup
//
// [Open] fails fast with a [*ConfigError] naming what to fix: a refused login (naming the user
// and host, never the password), log_bin off, binlog_format other than ROW, binlog_row_image
// other than FULL, MySQL's gtid_mode other than ON, a server id equal to the server's own,
// missing global RELOAD, REPLICATION SLAVE or REPLICATION CLIENT (BINLOG MONITOR on MariaDB
// 10.5+) in SHOW GRANTS, a configured table that does not exist or cannot be SELECTed, a
// configured database that does not exist. The flavor comes from SELECT VERSION(). The server
// id defaults to [DefaultServerID] of the connector's name.
//
// # Connection
//
// go-mysql's own reconnection is off: it would restart inside a half-delivered transaction.
// A lost connection ends Stream with an error IsRetryable accepts; the pipeline reopens at the
// last committed offset. The server sends a heartbeat every HeartbeatPeriod on an idle binlog;
// three periods without any event end Stream with ErrUnreachable. While out is full Stream
// blocks (backpressure) and go-mysql buffers events, then stops reading; a server whose send
// waits longer than its net_write_timeout drops the connection, which is again a retryable
// error.
//
// # Acknowledgement
//
// MySQL keeps no replica state to release: [Source.Ack] only records the position, for
// [Source.Acked].
package mysql
