// Package postgres is cdcd's PostgreSQL source: it reads a logical replication slot with the
// pgoutput plugin (protocol version 2), decodes each message with decoder.PGDecoder, and hands
// whole transactions, in commit order, to the pipeline as pipeline.Events.
//
// # Setup
//
// [Open] checks the server before anything streams and fails fast with a [*ConfigError] that
// names what to fix: a connection refused or rejected (naming the user and host, never the
// password), wal_level other than logical, a user without REPLICATION, a configured table that
// does not exist, an existing publication that does not cover the configured tables or does not
// publish every operation, an existing slot of another plugin or database. It creates what is
// missing: the publication (FOR TABLE the configured list, or FOR ALL TABLES when none is
// configured; only under [PublicationCreateMissing]) and the slot (pgoutput, permanent).
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
//
// A position older than the slot's confirmed flush LSN cannot be resumed: its WAL is released.
// Stream fails with [ErrPositionReleased] rather than silently skipping data.
//
// # Acknowledgement
//
// [Source.Ack] only records the acknowledged LSN (a position's "lsn", never its "tx": a
// transaction cut by a Skip is not complete). The Stream loop, the only user of the
// replication connection, sends it as a standby status update in which write, flush and apply
// are all that LSN, built byte by byte: never the received LSN, never a zero field a library
// would fill in. PostgreSQL may then release the WAL before it. The update goes out at once
// after an Ack, when the server asks for a reply, and every status interval.
package postgres
