package connectors

import (
	"context"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
)

// EventKind says what an Event carries.
type EventKind uint8

// The event kinds. A source transaction is EventBegin, its EventChanges, EventCommit.
const (
	// EventBegin opens a source transaction. Its Position is the point the transaction can be
	// resumed from: the pipeline stores it with Skip set to the number of the transaction's
	// changes committed to Kafka when it must close a Kafka transaction inside this one.
	EventBegin EventKind = iota + 1
	// EventChange carries one Change of the open transaction.
	EventChange
	// EventCommit closes the source transaction. Its Position is just after the transaction.
	EventCommit
	// EventRecord carries a record of the source's own (the MySQL schema history: a DDL and
	// the table schemas after it) to be written, as it is, in the same Kafka transaction as the
	// changes around it, so that a restart finds exactly the history that precedes its resume
	// point. It belongs to the open source transaction and counts as one of its changes for
	// Position.Skip. The source declares the record's topic (TopicDeclarer) and the engine
	// creates it before Stream.
	EventRecord
)

// Record is a record a source asks the pipeline to write as it is.
type Record struct {
	Topic      string
	Key, Value []byte
}

// Event is one item of a source's stream.
type Event struct {
	Kind EventKind
	// Change is set for EventChange. The receiver owns it.
	Change *decoder.Change
	// Record is set for EventRecord. The receiver owns it.
	Record *Record
	// Position is set for EventBegin and EventCommit.
	Position offsets.Position
	// TxID and CommitTime may be set for EventBegin by a source that knows them at the
	// transaction's start: the transaction's id and commit time, as transaction metadata
	// writes them (PostgreSQL "<xid>:<commit LSN>", MySQL the GTID). With them, a run that
	// resumes inside a transaction frames the rest under the same id, even when none of its
	// changes is left to read; without, they are taken from the first change.
	TxID       string
	CommitTime time.Time
	// weight is what the event holds in memory, set by the Queue that carries it.
	weight int64
}

// Source is a stream of whole source transactions in commit order; connectors/postgres and
// connectors/mysql implement it.
type Source interface {
	// Stream reads the source from position from (the zero Position: as the connector's
	// snapshot mode says) and sends its events to out, in order, blocking while out is full
	// (in events or in bytes): that is how a slow Kafka slows the source down. It returns
	// when ctx ends (with ctx.Err()) or when reading fails (with an error saying why).
	Stream(ctx context.Context, from offsets.Position, out *Queue) error
	// Ack tells the source that everything up to pos is committed in Kafka, so it may release
	// what it keeps for a replay (PostgreSQL: the slot's WAL). The pipeline calls it in order,
	// only after the commit, possibly while Stream runs; it does not block on the network. An
	// Ack never moves the source's acknowledged point backwards.
	Ack(pos offsets.Position) error
}

// HistoryReader reads back a topic a source writes its own records to (EventRecord, on a topic
// it declares; the MySQL schema history), so that a source needs no Kafka client of its own.
type HistoryReader interface {
	// ReadHistory calls fn with the offset, key and value of each committed record of
	// partition 0 of topic, in order, up to the end the partition has when ReadHistory is
	// called: it first waits until every transaction below that end is decided (Stream runs
	// after the engine's producer fenced the previous owner, whose open transaction is then
	// aborted), and reads as a read_committed consumer. A topic without partition 0 is an
	// error. An error of fn ends the read and is returned as it is; other errors say which
	// topic and what failed.
	ReadHistory(ctx context.Context, topic string, fn func(offset int64, key, value []byte) error) error
}
