package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

// Transaction metadata (the TransactionMetadata option), as Debezium's
// provide.transaction.metadata: every change event of a source transaction carries the
// envelope's transaction block (id, total_order, data_collection_order), and the transaction's
// BEGIN and END records go to the topic <prefix>.transaction, in the same Kafka transaction as
// the events they frame, so a read_committed consumer sees all of them or none.
//
// The encode stage keeps the counts, since it sees Begin, the changes and Commit in order
// whatever the Kafka stage does with them: a Kafka transaction cut inside a source transaction
// changes nothing to the counts of the run that cut it. The rules:
//
//   - The id is the one the source gave the transaction's Begin (Event.TxID): PostgreSQL
//     "<xid>:<commit LSN>", MySQL the GTID. A source that gives none has it derived from the
//     first change the run receives, by the change's kind (decoder.SourceBlock.TransactionID):
//     MySQL its GTID when it has one, else "<file>:<pos>" (MySQL without GTIDs), PostgreSQL
//     "<txId>:<lsn>".
//   - An event is a record written to a data topic for a change: the value record, one per
//     change, or two for an update that changed the row's key (a delete and a create).
//     Tombstones, dead-letter records, changes a filter dropped or the error policy skipped, a
//     delete the chain made its tombstone alone, the source's own records and snapshot reads
//     (op r, whose block stays null, as Debezium leaves it) are not events: they have no block
//     and are not counted, so event_count is what a consumer of the data topics finds.
//   - total_order counts the events of the transaction from 1, data_collection_order those of
//     the event's table ("schema.table", MySQL "database.table": the source table, whatever a
//     route made of the topic). An unwrapped (flat) value has no block but is counted.
//   - BEGIN is written just before the first event, END (event_count, data_collections in
//     the order the tables first appear) at the commit; a source transaction without events
//     writes neither. ts_ms is the transaction's commit time.
//   - A run that resumes inside a source transaction (after a failure that followed a cut,
//     Position.Skip > 0) does not know the counts of the part written before: BEGIN is not
//     written again; total_order and every table's data_collection_order go on from Skip,
//     the number of source changes already written, so orders keep increasing within the
//     transaction (they are exact when each of those changes made one event); END carries
//     event_count = the last total_order and data_collections null (unknown). With the
//     Begin's id, the END comes even when no change is left to re-read (a cut right after the
//     last change); a source without Begin ids writes no END then, having no id.

// TransactionEncoder is an Encoder that also writes transaction metadata; the
// [TransactionMetadata] option requires one (every format.Encoder is one).
type TransactionEncoder interface {
	Encoder
	// EncodeRecordInTransaction is EncodeRecord with the envelope's transaction block tx
	// (nil: null). It does not keep tx.
	EncodeRecordInTransaction(ctx context.Context, rec *transform.Record, tx *format.TransactionBlock) (topic string, key, value []byte, err error)
	// EncodeTransactionEvent returns the transaction topic's record of ev, which it does not
	// keep; it may block on the registry at the first call.
	EncodeTransactionEvent(ctx context.Context, ev *format.TransactionEvent) (topic string, key, value []byte, err error)
}

// txMeta is the encode stage's count of the open source transaction.
type txMeta struct {
	enc TransactionEncoder
	// id is the transaction's id, "" until its first change.
	id     string
	commit time.Time
	// skip is the number of the transaction's changes written before this run resumed
	// inside it; 0 at a transaction's start.
	skip  int64
	begun bool // BEGIN is written (or, resumed, was before)
	total int64
	// counts holds each table's events in this run, order the tables as they first appear.
	counts map[string]int64
	order  []string
	// block and event are reused from one record to the next: the encoder keeps neither.
	block format.TransactionBlock
	event format.TransactionEvent
}

func newTxMeta(enc TransactionEncoder) *txMeta {
	return &txMeta{enc: enc, counts: make(map[string]int64)}
}

// begin opens a source transaction, skip of whose changes are already written, with the id
// and commit time the source gave its Begin ("" and zero: taken from its first change).
func (m *txMeta) begin(skip int64, id string, commit time.Time) {
	clear(m.counts)
	m.order = m.order[:0]
	m.id, m.commit = id, commit
	m.skip, m.total, m.begun = skip, skip, skip > 0
}

// first notes the transaction's id and commit time from its first change, where the Begin
// did not give them.
func (m *txMeta) first(c *decoder.Change) {
	if c == nil {
		return
	}
	if m.id == "" {
		m.id = transactionID(&c.Source)
	}
	if m.commit.IsZero() {
		m.commit = c.Source.CommitTime
	}
}

// transactionID is the id of the transaction of a change with source information s, as its
// source kind derives it (decoder.SourceBlock.TransactionID).
func transactionID(s *decoder.SourceInfo) string {
	if s.Block == nil || s.Block.TransactionID == nil {
		return "0:0" // a change of no kind: as an unknown xid and LSN
	}
	return s.Block.TransactionID(s)
}

// txMark is the state before a change, to which a failed change returns.
type txMark struct {
	total, tableCount int64
	tables            int
	begun             bool
}

func (m *txMeta) mark(table string) txMark {
	return txMark{total: m.total, tableCount: m.counts[table], tables: len(m.order), begun: m.begun}
}

// undo forgets the events of a change that failed: its records are gone.
func (m *txMeta) undo(table string, k txMark) {
	m.total, m.begun = k.total, k.begun
	if len(m.order) > k.tables {
		for _, t := range m.order[k.tables:] {
			delete(m.counts, t)
		}
		m.order = m.order[:k.tables]
		return
	}
	m.counts[table] = k.tableCount
}

// counted tells whether the record of out is an event (see above).
func counted(out *transform.Record) bool {
	switch out.Change.Op {
	case decoder.OpRead:
		return false
	case decoder.OpDelete:
		return out.Tombstone != transform.TombstoneOnly
	}
	return true
}

// next counts one event of table and returns its block.
func (m *txMeta) next(table string) *format.TransactionBlock {
	m.total++
	n, ok := m.counts[table]
	if !ok {
		m.order = append(m.order, table)
	}
	m.counts[table] = n + 1
	m.block = format.TransactionBlock{ID: m.id, TotalOrder: m.total, DataCollectionOrder: m.skip + n + 1}
	return &m.block
}

// beginRecord encodes the BEGIN record, once per transaction, before its first event.
func (m *txMeta) beginRecord(ctx context.Context) (topic string, key, value []byte, err error) {
	m.event = format.TransactionEvent{Status: format.TransactionBegin, ID: m.id, Time: m.commit}
	topic, key, value, err = m.enc.EncodeTransactionEvent(ctx, &m.event)
	if err != nil {
		return "", nil, nil, stageError(StageEncode, fmt.Errorf("BEGIN of transaction %s: %w", m.id, err))
	}
	m.begun = true
	return topic, key, value, nil
}

// endRecord encodes the END record at the commit; ok is false when the transaction had no
// event, hence no BEGIN.
func (m *txMeta) endRecord(ctx context.Context) (topic string, key, value []byte, ok bool, err error) {
	if !m.begun || m.id == "" {
		return "", nil, nil, false, nil
	}
	m.event = format.TransactionEvent{Status: format.TransactionEnd, ID: m.id, EventCount: m.total, Time: m.commit}
	if m.skip == 0 {
		m.event.DataCollections = make([]format.DataCollectionCount, len(m.order))
		for i, t := range m.order {
			m.event.DataCollections[i] = format.DataCollectionCount{DataCollection: t, EventCount: m.counts[t]}
		}
	}
	topic, key, value, err = m.enc.EncodeTransactionEvent(ctx, &m.event)
	m.event.DataCollections = nil
	if err != nil {
		return "", nil, nil, false, stageError(StageEncode, fmt.Errorf("END of transaction %s: %w", m.id, err))
	}
	return topic, key, value, true, nil
}
