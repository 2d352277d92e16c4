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
// first captured row (or DDL history record) and Commit only after one: a transaction without captured rows produces
// nothing, but its GTID is in every later position.
//
// # Schemas and DDL
//
// Each Stream keeps a model of the captured tables' schemas (schema.go, tracker.go): at the
// first start (the zero Position) read from information_schema (COLUMNS, the tables' and
// databases' default character sets, @@character_set_server) right after the start position;
// on a resume rebuilt from the schema history (below). A Query event whose statement may
// change a captured table (ddl.go's cheap filter: ALTER, CREATE, DROP, RENAME, TRUNCATE TABLE,
// CREATE/DROP INDEX, CREATE/ALTER/DROP DATABASE) is parsed with the TiDB SQL parser and
// applied to the model: ADD/DROP/MODIFY/CHANGE/RENAME COLUMN (FIRST/AFTER kept), primary key
// changes, default and CONVERT TO character sets, RENAME TABLE and ALTER TABLE RENAME (out of
// the capture: dropped), CREATE TABLE (if captured; LIKE a tracked table), DROP TABLE, DROP
// DATABASE. A column's type is rendered as information_schema's COLUMN_TYPE ("int(11)",
// "varchar(20)", "enum('a','b')"), its character set is the table's default when it names
// none. A table whose definition changes gets a new decoder.Table with Version+1 (a rename
// too); rows after the statement decode with it. TRUNCATE, CREATE/DROP INDEX and other
// statements that change no column only go to the history. Statements on other tables are
// not parsed; their GTID still advances the position.
//
// The DDL's transaction is then Begin, one connectors.EventRecord (its history record), Commit;
// the record counts as the transaction's one change for Skip (resuming with Skip=1 applies
// the DDL to the model again without sending the record). A statement the parser cannot read
// (MariaDB's CREATE OR REPLACE TABLE, spatial types...) stops Stream with a [*DDLError]
// (errors.Is [ErrDDLUnparseable]) naming the statement, after the changes before it; with
// Config.UnparseableDDL = [UnparseableDDLSkip] it is logged at warn level and the model stays
// as it was. A statement that parses but cannot be applied (an unknown column, a table renamed
// or copied into the capture from an untracked one, a type the decoder rejects) stops Stream
// with [ErrDDLUnsupported].
//
// # Schema history
//
// The history is a Kafka topic per connector (Config.HistoryTopic, default
// "<name>.schema-history"; one partition, cleanup.policy=delete, retention.ms=-1, declared by
// Source.Topics and created by the engine before Stream; read back through Config.History,
// a HistoryReader). Each record has the connector's name as key and
// a JSON value: {"kind":"snapshot"|"ddl","position":<Position JSON>,"database","ddl","gtid",
// "tables":[{"database","name","charset","version","columns":[{"name","type","charset",
// "nullable","key"}]}],"dropped":["db.table"],"databases":{"db":"charset"},"server_charset",
// "ts_ms"}. A snapshot (all captured tables) is written at the first start, at the start
// position, as a transaction of its own before any binlog event; a ddl record holds the
// tables the statement created or changed, at the position after its transaction. The
// pipeline writes records in the same Kafka transaction as the data around them, so the
// topic's committed records are exactly those before the committed offset.
//
// Stream (not Open) reads the history: the pipeline calls Stream after its transactional
// producer fenced the connector's previous owner, so no transaction of the old owner is left
// open on the topic. The read waits until the last stable offset reaches the high watermark,
// reads read_committed up to it, and rebuilds the model as of the resume position: the last
// snapshot at or before it and the ddl records after that snapshot at or before it. Later
// records are ignored (only possible when resuming inside the DDL's own transaction; the
// binlog holds that DDL again). A resume position without a snapshot before it (a deleted
// topic, an offset stored by a version without history) is [ErrHistoryMissing]: reset the
// connector's offset for a new start. The live information_schema is never used for an older
// position.
//
// # Snapshot
//
// [Config.SnapshotMode] says whether the existing rows are read before streaming:
// [SnapshotInitial] (the default) snapshots when Stream starts from the zero Position;
// [SnapshotNoData] only streams, from the binlog's end; [SnapshotInitialOnly] snapshots as
// SnapshotInitial does, then streams nothing: Stream waits for its context to end (no sentinel
// error, so a pipeline keeps its committed position and does not restart it; a stored snapshot
// in progress is read on to its end first). [SnapshotWhenNeeded] and [SnapshotAlways] are
// described below, after the snapshot itself. One table-tested function (decideStart) makes
// the choice.
//
//   - The snapshot's point: a connection of its own runs START TRANSACTION WITH CONSISTENT
//     SNAPSHOT (REPEATABLE READ). MariaDB then reports the binlog coordinates of exactly that
//     snapshot (Binlog_snapshot_file/position status variables; the GTID position from
//     Binlog_snapshot_gtid_pos where the server has it, else BINLOG_GTID_POS of the
//     coordinates), without any lock. MySQL has no such report: FLUSH TABLES WITH READ LOCK is
//     held from before the transaction starts until SHOW MASTER STATUS is read (Debezium's
//     way; needs RELOAD), so writes stall for that moment only. (The MySQL path is only unit
//     tested.) The schemas are read from information_schema right after, as for the zero
//     Position, and written as the history's snapshot record at the snapshot's point.
//   - Each captured table in turn (by name) is read in chunks of [Config.SnapshotChunkRows]
//     rows, fewer for wide rows ([Config.SnapshotChunkBytes]: see snapshot.ChunkSizer), with a text-protocol query decoded by decoder.MySQLRowDecoder: with a primary key,
//     in key order by keyset pagination, WHERE (k1, k2, ...) > (last key) ORDER BY k1, k2, ...
//     LIMIT chunk+1 (the extra row tells that more follow; the key columns in table order,
//     which is the index's order for the usual key); a table without a primary key is read
//     whole as one chunk, held in memory: meant for small tables.
//   - Each chunk is one source transaction: Begin (the previous chunk's Commit position), one
//     Change per row (op r, no before; source.snapshot "first" on the very first row of a
//     new (not resumed) snapshot, "last" on the very last ("last" wins on a
//     one-row snapshot), "true" otherwise; source file and pos the snapshot's point, no gtid;
//     ts_ms the time of reading), Commit. Empty chunks emit nothing; when nothing is left to
//     read after a table, one transaction without changes carries the final position.
//   - A chunk's Commit position records the progress: the snapshot's point and
//     "snapshot":{"table":"db.t","after":["<key values as text; hex for binary columns>"]},
//     no after meaning that table is next from its start. The schema record's transaction
//     already carries the first table's progress; with no row in any captured table it
//     carries the plain position, exactly as without a snapshot. The last chunk's Commit is
//     the plain position of the snapshot's point, and Stream goes on into the binlog from it.
//     Key values of integer columns are sent as integers, others as strings (a decimal or
//     float key compares as a double: exact enough for keys of up to 15 digits).
//   - Resuming from a snapshot position: the first snapshot died with its connection, so the
//     rest is read in a new consistent snapshot (no lock needed), with the schemas of the
//     history at the snapshot's point, while streaming still starts at the first snapshot's
//     point. A row changed in between is read in its newer state and its changes are streamed
//     too, in order: the final state of each key is right, though a consumer may see a newer
//     row before older changes to it. A chunk Begin stored with a Skip (the pipeline cut the
//     chunk) is read again whole. A DDL on a captured table between the two snapshots is not
//     detected (the rows are decoded with the schema at the snapshot's point).
//   - The snapshot's transaction is closed once the last chunk is read, before the binlog is
//     opened: an open transaction would hold back InnoDB's purge. Positions of one snapshot
//     compare equal for Ack (the progress is not compared).
//
// A stored position is lost when the server purged binary logs it needs: for MariaDB, its GTID
// position is not at or past the Gtid_list event that starts the oldest binary log (SHOW BINARY
// LOGS, SHOW BINLOG EVENTS IN it) in every domain there; for MySQL, @@gtid_purged is not within
// its GTID set; for a position without GTIDs, its file is not in SHOW BINARY LOGS. (For a
// snapshot in progress, its point is checked: streaming starts there.) Stream checks this
// before anything else except under SnapshotInitialOnly, which streams nothing.
// [SnapshotInitial] and [SnapshotNoData] then fail with [ErrPositionPurged] (not retryable),
// whose message names the stored position, the server's oldest binary log and purged GTIDs, and
// the fix (when_needed, or a reset of the offsets). [SnapshotWhenNeeded] instead logs that at
// warn level and snapshots again as from the zero Position, at the server's current position:
// markers "first" to "last", a new history snapshot record at the new point (a later resume
// rebuilds the schemas from it), then streaming. The source stores nothing itself: the new
// snapshot's chunk positions replace the stored one as the pipeline commits them, and a crash
// before the first finds the old position still lost and snapshots again.
//
// [SnapshotAlways] snapshots once per start of the connector, that is per Source (each Open),
// not per Stream (the pipeline calls Stream again after a retryable error):
//
//   - A snapshot in progress is resumed, not started again; if its point is lost it is started
//     anew, as under SnapshotWhenNeeded.
//   - A plain stored position at the first Stream of a Source: a new snapshot at the server's
//     current position, logged at info level.
//   - The Source remembers the point of the snapshot it started or resumed. A later Stream whose
//     stored position is at or past it streams: that snapshot's last chunk is committed. One
//     before it (the pipeline failed before committing the snapshot's first chunk) snapshots
//     again.
//
// Not yet: progress logging of the initial snapshot.
//
// # Incremental snapshots
//
// With Config.SignalTable set, rows inserted into that table (columns id, type, data, as
// Debezium's signal.data.collection) are signals: decoded like a captured table's rows (the
// scope includes the table, so its schema is tracked), never emitted and not counted by Skip,
// applied when their transaction commits. execute-snapshot with data {"data-collections":
// ["db.table", ...], "type": "incremental"} starts an incremental snapshot of those tables
// (MariaDB only: on MySQL it is refused with an error log), stop-snapshot stops it (the tables
// listed, or all). Bad signals, tables not captured and tables without a primary key are
// logged at error level and skipped.
//
// The progress ([IncrementalProgress]: id, tables left, last key emitted, greatest key when the
// table's reading began) is in every Begin and Commit position while it runs
// ("incremental":{...}). Between two transactions, when a chunk is due, the stream's goroutine
// reads it on a connection of its own (incrementalread.go): START TRANSACTION WITH CONSISTENT
// SNAPSHOT, READ ONLY; Binlog_snapshot_file/position, the binlog point S of exactly that
// snapshot; the greatest key when the progress has none; up to Config.IncrementalChunkRows
// rows after the last key and up to the greatest in key order; COMMIT. The chunk is held until
// the stream's point (the end of the last event read between transactions, or the start of a
// transaction's GTID event; it follows rotates and never moves back) reaches S, and goes out
// there as its own source transaction: Begin at the stream's position with the progress
// before, the rows (op r, source.snapshot incremental), Commit at the same position with the
// progress after. Changes before S are in the chunk's values and were emitted before it, those
// after S are emitted after it, so no stale value is ever last. When the last transaction
// delivered ends after S (MariaDB sends a transaction to replicas a moment before its commit
// is visible) the chunk is read again, up to a few times ([ErrSnapshotAhead]). A chunk whose
// table's description changed while it was held is dropped and read again. A chunk Begin
// stored with a Skip is read again whole.
//
// # Heartbeats
//
// With [Config.HeartbeatInterval] set (Debezium's heartbeat.interval.ms), Stream checks after
// every binlog event whether the interval has passed since the last heartbeat (or since it
// started streaming); if so, and it stands between two transactions, not before the
// transaction a resume is to start inside, it emits a heartbeat transaction (heartbeat.go):
// Begin, one connectors.EventRecord to [Config.HeartbeatTopic] (key {"serverName":"<topic
// prefix>"}, value {"ts_ms":<now>}: Debezium's heartbeat in schemaless JSON, made by
// connectors.Heartbeat), Commit, both positions the stream's position: the GTIDs of every
// transaction read so far, captured or not, the file and position after the last, and the
// incremental snapshot's progress. The pipeline commits that position, so the stored one moves
// while only uncaptured tables are written. To wake an idle stream, the server is asked for
// its heartbeat events every min(HeartbeatPeriod, HeartbeatInterval/2). The source declares
// the heartbeat topic (one partition) and the engine creates it. A heartbeat's Begin stored with a Skip (the pipeline cut it
// after its record) resumes at its position with nothing to skip.
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
//   - A Begin position without tx opens one of the source's own transactions (an incremental
//     snapshot chunk, a heartbeat); stored with a Skip it resumes at that position with
//     nothing skipped.
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
// configured database that does not exist, a captured column type the decoder does not
// support, no history reader. The flavor comes from SELECT VERSION(). The server id
// defaults to [DefaultServerID] of the connector's name.
//
// # Connection
//
// go-mysql's own reconnection is off: it would restart inside a half-delivered transaction.
// A lost connection ends Stream with an error IsRetryable accepts; the pipeline reopens at the
// last committed offset. The server sends a heartbeat every HeartbeatPeriod on an idle binlog;
// three periods without any event end Stream with ErrUnreachable. While out is full Stream
// blocks (backpressure) and go-mysql buffers events, then stops reading; a server whose send
// waits longer than its net_write_timeout drops the connection, which is again a retryable
// error. What a restart from the same position would meet again (a purged or bad position, DDL
// that cannot be applied, a missing or corrupt schema history, a broken binlog sequence) Stream
// returns marked with connectors.Permanent, so that the pipeline stops the connector instead of
// retrying it forever.
//
// # Acknowledgement
//
// MySQL keeps no replica state to release: [Source.Ack] only records the position, for
// [Source.Acked].
package mysql
