package pipeline

import (
	"sync/atomic"

	"github.com/cdcd-dev/cdcd/offsets"
)

// Metrics counts what a pipeline committed, across its runs. Its methods may be called from
// any goroutine while the pipeline runs (by a metrics exporter or the REST API).
type Metrics struct {
	records      atomic.Int64
	transactions atomic.Int64
	bytes        atomic.Int64
	aborts       atomic.Int64
	deadLettered atomic.Int64
	skipped      atomic.Int64
	// hangingAborted counts the hanging transactions aborted on the connector's partitions.
	hangingAborted atomic.Int64
	last           atomic.Pointer[offsets.Position]
}

// Stats is a copy of the counters at one moment.
type Stats struct {
	// Records is the number of data records (tombstones, dead-letter records and transaction
	// metadata records included) committed to Kafka.
	Records int64
	// Transactions is the number of Kafka transactions committed.
	Transactions int64
	// Bytes is the size of the committed data records' keys and values.
	Bytes int64
	// Aborts is the number of runs that ended with an open Kafka transaction, aborted.
	Aborts int64
	// DeadLettered is the number of poison changes committed to the dead-letter topic
	// (PolicyDLQ).
	DeadLettered int64
	// Skipped is the number of poison changes passed over (PolicySkip), counted when the
	// Kafka transaction holding their place commits.
	Skipped int64
	// HangingAborted is the number of hanging Kafka transactions (see
	// [HangingTransactionCheck]) the pipeline aborted on the connector's partitions.
	HangingAborted int64
	// LastCommitted is the position of the last committed Kafka transaction (zero before the
	// first commit of this process).
	LastCommitted offsets.Position
}

// Stats returns the current counters. Each is read atomically; they may be a transaction
// apart from each other.
func (m *Metrics) Stats() Stats {
	s := Stats{
		Records:        m.records.Load(),
		Transactions:   m.transactions.Load(),
		Bytes:          m.bytes.Load(),
		Aborts:         m.aborts.Load(),
		DeadLettered:   m.deadLettered.Load(),
		Skipped:        m.skipped.Load(),
		HangingAborted: m.hangingAborted.Load(),
	}
	if p := m.last.Load(); p != nil {
		s.LastCommitted = *p
	}
	return s
}

// committed counts one committed Kafka transaction, with the poison changes it passed.
func (m *Metrics) committed(records, bytes, deadLettered, skipped int64, pos offsets.Position) {
	m.deadLettered.Add(deadLettered)
	m.skipped.Add(skipped)
	m.records.Add(records)
	m.bytes.Add(bytes)
	m.transactions.Add(1)
	m.last.Store(&pos)
}
