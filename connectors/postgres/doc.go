// Package postgres is cdcd's PostgreSQL source: it reads a logical replication slot with the
// pgoutput plugin (protocol version 2), decodes each message with decoder.PGDecoder, and hands
// whole transactions, in commit order, to the pipeline as pipeline.Events.
//
// # Stages
//
// The Stream loop (stream.go) alone uses the replication connection: it receives XLogData and
// keepalives and sends standby statuses. Each pgoutput message goes to the router (route.go),
// which sends a message of a streamed transaction to the spool (spill.go) undecoded, and every
// other one through the decoder to the assembler (txn.go), which applies the resume rules and
// emits Begin, Change and Commit events. None of router, spool and assembler has network code.
//
// # Streaming of large transactions
//
// With [StreamingOn] (the default) replication starts with streaming 'on': once a
// transaction's decoded changes pass the server's logical_decoding_work_mem
// ([Config.DecodingWorkMemKB] sets it for this source's walsender only), the server sends it
// in chunks while it is in progress, each between Stream Start and Stream Stop and carrying
// its xid, interleaved with whole transactions that commit meanwhile; then Stream Commit or
// Stream Abort. The server then neither spills it under pg_replslot nor makes everything behind
// it wait for its commit to be decoded. Nothing of it reaches the pipeline before its commit:
//
//   - Each chunk's messages (Relation, Type, Insert, Update, Delete, Truncate, logical message)
//     are appended as received, raw bytes with their XLogData LSN, to one file per top-level
//     xid in [Config.SpillDir], through one buffered writer: one file is open at a time, so
//     memory stays bounded whatever the transaction's size.
//   - They are decoded only at Stream Commit, in the order received, inside a stream block of
//     that xid as the decoder saw them arrive. A Relation message thus describes the changes
//     after it in the same transaction, and enters the decoder's relation cache only when the
//     transaction commits, which is what pgoutput assumes: it does not describe a relation
//     again to the other transactions when a streamed one that described it commits, and a
//     streamed transaction that aborts (perhaps after an ALTER TABLE) must leave no trace.
//   - Stream Abort of the whole transaction deletes its file. Stream Abort of a subtransaction
//     (changes inside a stream carry the subtransaction's xid) cuts the file at that
//     subtransaction's first record, as PostgreSQL's apply worker does: the subtransactions
//     that began later are nested in it, as one that began later and is not nested can only
//     begin after it ended. The Relation and Type records after the cut are appended again,
//     since pgoutput does not describe a relation twice to one transaction.
//   - Stream Commit replays the file, sequentially through one buffer, as one transaction:
//     Begin, each change, Commit with the end LSN. Begin's position is built then, when the
//     commit LSN is known, exactly as for a whole transaction, and the change events carry the
//     LSN each change was received at.
//
// The spill directory holds nothing durable: Open and each Stream delete the *.spill files
// in it (and nothing else), and a Stream deletes its files when it returns. After a restart
// the server streams every transaction not acknowledged again from its start, so resuming
// inside a streamed transaction with Skip works as for a whole one. File names start with a
// random session id, so a process that lost the slot and still writes cannot touch the files
// of the one that holds it. [StreamingOff] has the server send each transaction whole after
// its commit.
//
// # Setup
//
// [Open] checks the server before anything streams and fails fast with a [*ConfigError] that
// names what to fix: a connection refused or rejected (naming the user and host, never the
// password), wal_level other than logical, a user without REPLICATION, a configured table that
// does not exist, an existing publication that does not publish every operation (or, under
// [PublicationGapFail], does not cover the configured tables), an existing slot of another
// plugin or database. It creates what is missing: the publication (FOR TABLE the configured
// list, or FOR ALL TABLES when none is configured; only under [PublicationCreateMissing]) and,
// under [SnapshotNoData], the slot (pgoutput, permanent; otherwise the first Stream creates it:
// see Snapshot).
//
// # Publication gaps
//
// The server decodes only the changes of tables in the publication, so a configured table that
// leaves it loses its changes until it is back. While a Stream streams, a goroutine on its own
// connection reads the publication every [Config.PublicationCheckInterval] and at each Relation
// message: a configured table (or the signal table) not published, or published under another
// pg_publication_rel row than at the last check (removed and added back in between), is logged
// as an error with the window between the two checks (time and WAL position). Under
// [PublicationGapResnapshot] the goroutine adds the tables back and, in the same transaction,
// writes a transactional message (prefix cdcd-resnapshot, content "<slot>:<id>:<tables>") that
// the assembler applies at its commit as an execute-snapshot signal: an incremental snapshot of
// the tables, read again from their start if one is being read. Under [PublicationGapFail] the
// Stream ends with a *ConfigError naming the table, the window and the fix. Rows deleted during
// a gap cannot be re-read: their last values stay in the topics.
//
// # Snapshot
//
// [Config.SnapshotMode] says whether the existing rows are read before streaming.
// [SnapshotInitial] (the default) snapshots when Stream starts from the zero Position;
// [SnapshotInitialOnly] snapshots the same way on a temporary slot, then streams nothing:
// Stream waits for its context to end (no sentinel error, so a pipeline keeps its committed
// position and does not restart it); [SnapshotNoData] only streams. [SnapshotWhenNeeded] and
// [SnapshotAlways] are described below. Except under SnapshotNoData, Open does not create a
// missing slot: Stream does.
//
//   - No position, no slot: Stream creates the slot on its replication connection with
//     CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT and keeps that connection idle while a normal
//     connection reads in BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT: the
//     rows read are exactly those committed before the slot's consistent point, and streaming
//     then starts at that point on the same connection. No gap, no overlap.
//   - No position, the slot exists (a first run that stopped before its first chunk was
//     committed): a fresh REPEATABLE READ snapshot, taken after reading the slot's
//     confirmed_flush_lsn, which is the consistent point. Changes committed in between are read
//     and streamed: the final state of each key is right.
//   - Each table in turn (the configured order, or the publication's tables by name) is read
//     in chunks of [Config.SnapshotChunkRows] rows, fewer for wide rows ([Config.SnapshotChunkBytes]:
//     see snapshot.ChunkSizer), with COPY (SELECT ...) TO STDOUT (FORMAT binary), each row
//     decoded as its message arrives by decoder.PGDecoder's DescribeTable and DecodeBinary as
//     pgoutput's binary values are (one copy of a row, not the chunk's wire form as well). A
//     table with a primary key is read in key order by keyset pagination, WHERE (k1, k2, ...)
//     > (last key) ORDER BY k1, k2, ... LIMIT chunk, the key columns selected again as text
//     for the next chunk's literals; a full chunk is followed by a probe of the next key alone
//     (reading the next row whole would read a large row twice). One without a key is read by
//     ctid page ranges (TID range scans, PostgreSQL 14+).
//   - Each chunk is one source transaction: Begin (the previous chunk's Commit position), one
//     Change per row (op r, no before, source.snapshot "first" on the very first row of a
//     snapshot started from the zero position, "last" on the very last, "true" otherwise;
//     source.lsn the consistent point; the commit time is the time of reading), Commit. Empty
//     chunks emit nothing; when nothing at all is left to read, one transaction without changes
//     carries the final position. On a one-row snapshot "last" wins over "first".
//   - A chunk's Commit position records the progress: {"lsn":"<consistent point>",
//     "snapshot":{"table":"s.t","after":["<key values as text>"],"done":["s.t0",...]}}, or
//     "ctid":"(page,0)" (the first page not read) for a table without a key; no after nor ctid
//     means that table is next, from its start. The last chunk's Commit is the plain streaming
//     position {"lsn":"<consistent point>"}, and Stream goes on into replication from it.
//   - Resuming from a snapshot position: the exported snapshot died with its connection, so the
//     rest is read in a fresh REPEATABLE READ snapshot, while streaming still starts at the
//     consistent point (Stream checks that the slot has not moved past it). A row changed in
//     between is read in its newer state and its changes are streamed too, in order: the final
//     state of each key is right, though a consumer may see a newer row before older changes
//     to it. A ctid-read table may show a row moved by an update twice (old place read before
//     the restart, new place after), never lose one. A chunk Begin stored with a Skip (the
//     pipeline cut the chunk) is read again whole: its first rows are delivered twice rather
//     than risk skipping rows the fresh snapshot orders differently.
//   - Nothing is confirmed on the slot during a snapshot: an Ack of a snapshot position
//     acknowledges its lsn, the consistent point, which the slot already confirms.
//   - Progress (rows done, pg_class.reltuples as the estimated total, rate) is logged per table
//     at info level every [Config.SnapshotProgressEvery] through [Config.Logger].
//
// A stored position cannot be resumed when the slot is gone or its confirmed_flush_lsn is past
// the position's lsn (for a snapshot in progress, its consistent point). [SnapshotInitial] and
// [SnapshotNoData] then fail with [ErrPositionReleased], which stops the connector.
// [SnapshotWhenNeeded] instead logs a warning naming the slot, the stored LSN and the slot's
// confirmed_flush_lsn, drops the slot if it still exists, creates it anew with an exported
// snapshot and snapshots from the start (markers "first" to "last", as on a first run), then
// streams from the new consistent point. Nothing is stored by the source itself: the snapshot's
// chunk positions replace the stored one as the pipeline commits them, and a crash in between
// finds the old position still unresumable (the new slot is past it) and snapshots again, or
// finds a snapshot in progress and resumes it.
//
// A slot PostgreSQL has invalidated (wal_status lost, as max_slot_wal_keep_size does to a slot
// too far behind) is treated as gone, except that its name is still taken: [SnapshotInitial]
// and [SnapshotNoData] fail with [ErrSlotInvalidated] (permanent, with the server's reason and
// the fix), and [SnapshotWhenNeeded] and [SnapshotAlways] drop it and snapshot again as above.
// Stream checks at its start, and again when START_REPLICATION fails, whose DETAIL it keeps.
//
// A server that ends the replication stream (CopyDone, CommandComplete: its walsender stops
// because the server shuts down in pg_ctl's fast or smart mode) fails the Stream with
// [ErrStreamEnded], which is retryable: the next Stream resumes from the committed position.
// Before it ends the stream, such a walsender asks for a reply and waits until the client has
// confirmed all the WAL it sent, which no captured transaction may carry: a keepalive asking
// for a reply while no transaction is open therefore emits a transaction without changes at
// the keepalive's WAL end, whose Ack confirms it (assembler.idle).
//
// # Ownership of the slot and the publication
//
// With [Config.Connector] set, the publication's comment names its connector and that
// connector's slot (COMMENT ON PUBLICATION, written with CREATE PUBLICATION, or on an existing
// publication without a comment), and Open refuses a publication or slot another connector's
// comment claims, with a [ConfigError] naming that connector. [NameCollision] finds the same
// before either connector runs, from their configurations alone.
//
// [SnapshotAlways] snapshots once per start of the connector, that is per Source (each Open),
// not per Stream: the pipeline calls Stream again after a retryable error, and snapshotting on
// every network blip is not what "at each start" means. With exactly-once offsets the stored
// position tells the rest:
//
//   - A snapshot in progress (a crash mid-snapshot) is resumed, not started again: its chunks
//     already in Kafka are not read twice. If it cannot be resumed it is started anew, as
//     under SnapshotWhenNeeded.
//   - A plain stored position at the first Stream of a Source (the previous snapshot finished,
//     perhaps long ago): the slot is dropped and created anew with an exported snapshot, and a
//     whole new snapshot is read, logged at info level. The new slot gives a consistent point
//     past every stored position, so the cut is exact and the WAL before it is released.
//   - The Source remembers the consistent point of the snapshot it started or resumed. A later
//     Stream whose stored position is at or past it streams: that snapshot's last chunk is
//     committed. One before it (the pipeline failed before committing the snapshot's first
//     chunk) snapshots again: the snapshot of this start is not committed yet.
//   - The zero position snapshots as under SnapshotInitial.
//
// Not yet: incremental snapshots, keyless partitioned tables (ctid
// pages of a partitioned parent are its partitions'), table names that need quoting in the
// all-tables case.
//
// # Incremental snapshots
//
// With [Config.SignalTable] set, a row inserted there with type execute-snapshot (Debezium's
// signal table: id, type, data {"data-collections": [...]}) starts an incremental snapshot of
// the named tables while the stream goes on; stop-snapshot stops it. Signals are read from the
// stream and applied when their transaction commits, so they are neither lost nor applied twice
// across restarts; the signal table's rows are not emitted (nor counted by a Skip).
//
// The progress ({"id", "tables" left, the last key emitted "after", the greatest key "max"})
// is part of every position from then on (as "incremental"), so a resume goes on from the last
// committed chunk. Chunks follow the watermark method of package snapshot: the Stream loop,
// between two transactions, reads a chunk by primary key up to "max" on a normal connection in
// REPEATABLE READ (checking, through txid_current_snapshot(), that the snapshot sees the last
// transactions the stream delivered), then writes a non-transactional logical decoding message
// (prefix cdcd-watermark, content "<slot>:<window id>"). Streamed changes of the chunk's keys
// before that message remove the rows from the chunk; at the message the rest are emitted as
// one source transaction of op r changes marked incremental, whose Begin and Commit positions
// hold the lsn of the last transaction delivered and the progress before and after the chunk.
// A Skip inside such a chunk (stored without "tx") reads the chunk again whole.
//
// # Heartbeats
//
// With [Config.HeartbeatInterval] set, each Stream, once it streams, runs a goroutine that
// every interval writes SELECT pg_logical_emit_message(true, 'cdcd-heartbeat', '<slot>') on a
// normal connection of its own: a transactional message alone in its transaction, which the
// slot decodes as Begin, Message, Commit however idle the captured tables are. The assembler
// turns a heartbeat naming this source's slot into a connectors.EventRecord to
// [Config.HeartbeatTopic] (key {"serverName":"<topic prefix>"}, value {"ts_ms":<commit time>}:
// Debezium's heartbeat in schemaless JSON), so the Commit's position, past every WAL record
// written before it, is committed to Kafka, acknowledged and confirmed like any other, and the
// slot releases that WAL. Heartbeats of other slots of the database are ignored: their
// transactions arrive without changes and move the position forward all the same. An emitted
// heartbeat counts as one of its transaction's changes for a Skip; with heartbeats off, their
// messages are neither emitted nor counted. The source declares the heartbeat topic
// ([Source.Topics]) and the engine creates it before Stream (it creates the topics of changes
// by itself). A failed write is logged
// and tried again at the next tick on a new connection; the goroutine ends, and its connection
// closes, before Stream returns.
//
// # Positions
//
// offsets.Position.Source holds this package's JSON. LSNs are strings in PostgreSQL's own
// notation "X/Y" (hexadecimal high and low 32 bits), as pg_replication_slots shows them.
//
//   - After a transaction (EventCommit): {"lsn":"X/Y"}, the end LSN of the transaction's commit
//     record. Resuming from it re-reads from that LSN and drops every transaction whose commit
//     record starts before it, so the transaction it closes and all before it are not
//     delivered again.
//   - At a transaction's start (EventBegin): {"lsn":"X/Y","tx":"Z/W"}, where lsn is the end LSN
//     of the last complete transaction before this one (or the LSN the stream started from)
//     and tx is this transaction's commit LSN. Stored with Skip=n, resuming re-reads from lsn,
//     drops the transactions committed before lsn, delivers the transaction whose commit LSN
//     is tx without its first n changes (a truncate counts one change per table), and fails
//     with [ErrResumeTxMissing] if a later transaction commits before it appears. The EventBegin
//     of that resumed transaction carries Skip=n, so that a pipeline closing a Kafka
//     transaction inside it again stores n plus what it delivered since.
//   - The zero Position starts at the slot's confirmed flush LSN.
//   - While an incremental snapshot runs, each position also holds its progress, as
//     "incremental" (see Incremental snapshots).
//
// A position older than the slot's confirmed flush LSN, or stored for a slot that no longer
// exists, cannot be resumed: its WAL is released. Stream fails with [ErrPositionReleased]
// rather than silently skipping data, unless the snapshot mode snapshots again (see Snapshot).
//
// # Acknowledgement
//
// [Source.Ack] only records the acknowledged LSN (a position's "lsn", never its "tx": a
// transaction cut by a Skip is not complete). The Stream loop, the only user of the
// replication connection, sends it as a standby status update in which write, flush and apply
// are all that LSN, built byte by byte: never the received LSN, never a zero field a library
// would fill in. PostgreSQL may then release the WAL before it. The update goes out at once
// after an Ack, when the server asks for a reply, and every status interval, also while a
// streamed transaction's replay (perhaps all skipped by a resume) keeps the loop from receiving.
package postgres
