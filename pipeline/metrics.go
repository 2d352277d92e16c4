package pipeline

import (
	"sync/atomic"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
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

	// What the source gave, counted per batch the encode stage hands over.
	sourceEvents, sourceBytes atomic.Int64
	restarts                  atomic.Int64
	// lastCommit is the source commit time (Unix nanoseconds) of the last source transaction
	// whose end a Kafka transaction committed; oldestOpen that of the oldest source transaction
	// the Kafka stage took and no Kafka transaction committed yet, 0 when there is none. It
	// survives a failed run: the next run reads those changes again.
	lastCommit, oldestOpen atomic.Int64
	// The histograms: source commit to Kafka commit per source transaction, and the Kafka
	// transactions' duration (begin to commit), records and bytes. Set by New.
	latency, txnDuration, txnRecords, txnBytes *Histogram
	// run is the running Run's queues, nil between runs.
	run atomic.Pointer[runQueues]
	// backlog is the source's, if it measures one.
	backlog connectors.BacklogReporter
}

// opened notes that the Kafka stage took a source transaction committed at commit (Unix
// nanoseconds), the oldest uncommitted one if none is. Once per source transaction: the load
// first, so that the compare-and-swap (a locked instruction) runs only when the gauge is 0,
// once per Kafka transaction.
func (m *Metrics) opened(commit int64) {
	if m.oldestOpen.Load() == 0 {
		m.oldestOpen.CompareAndSwap(0, commit)
	}
}

// runQueues are the queues of one Run, read by Stats.
type runQueues struct {
	events *connectors.Queue
	stage  *encodeStage
}

// init makes m ready for a pipeline reading src.
func (m *Metrics) init(src connectors.Source) {
	m.latency = newDurationHistogram(latencyBuckets...)
	m.txnDuration = newDurationHistogram(latencyBuckets...)
	m.txnRecords = newHistogram(1, recordBuckets...)
	m.txnBytes = newHistogram(1, byteBuckets...)
	m.backlog, _ = src.(connectors.BacklogReporter)
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
	// SourceEvents is the number of events (changes, and transactions' begins and commits)
	// taken from the source, and SourceBytes what they weighed in memory (the source queue's
	// measure).
	SourceEvents, SourceBytes int64
	// Restarts is the number of runs that failed and were run again ([Pipeline.RunWithRestarts]).
	Restarts int64
	// LastSourceCommit is the source commit time of the last source transaction committed to
	// Kafka; zero before the first one of this process (and for a source that gives no commit
	// times, a snapshot's reads). Now minus it is how far Kafka is behind the source.
	LastSourceCommit time.Time
	// OldestUncommitted is the source commit time of the oldest source transaction read and not
	// yet committed to Kafka; zero when everything read is committed.
	OldestUncommitted time.Time
	// Backlog is what the source's server keeps for the connector, as the source last measured
	// it (PostgreSQL: the slot's retained WAL); HasBacklog is false for a source that does not
	// measure it, or before its first measure.
	Backlog    connectors.Backlog
	HasBacklog bool
	// QueueEvents and QueueBytes are what the source queue holds (the events the source sent
	// and the encode stage did not take yet), EncodeQueueEvents and EncodeQueueBytes what the
	// encode queue holds (encoded, waiting for the Kafka stage); zero between runs.
	QueueEvents, QueueBytes             int64
	EncodeQueueEvents, EncodeQueueBytes int64
	// Latency is the time from a source transaction's commit to the commit of the Kafka
	// transaction holding its end, one observation per source transaction with a commit time.
	Latency HistogramSnapshot
	// TransactionDuration, TransactionRecords and TransactionBytes are the committed Kafka
	// transactions' time open (begin to commit done), data records and bytes.
	TransactionDuration, TransactionRecords, TransactionBytes HistogramSnapshot
}

// Add adds o's counters and histograms to s, for a connector whose counts go on across
// pipelines (its earlier runs' in s). The gauges (lag, backlog, queues) are left as they are:
// they belong to the running pipeline alone.
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Transactions += o.Transactions
	s.Bytes += o.Bytes
	s.Aborts += o.Aborts
	s.DeadLettered += o.DeadLettered
	s.Skipped += o.Skipped
	s.HangingAborted += o.HangingAborted
	s.SourceEvents += o.SourceEvents
	s.SourceBytes += o.SourceBytes
	s.Restarts += o.Restarts
	s.Latency.Add(o.Latency)
	s.TransactionDuration.Add(o.TransactionDuration)
	s.TransactionRecords.Add(o.TransactionRecords)
	s.TransactionBytes.Add(o.TransactionBytes)
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
		SourceEvents:   m.sourceEvents.Load(),
		SourceBytes:    m.sourceBytes.Load(),
		Restarts:       m.restarts.Load(),
	}
	if p := m.last.Load(); p != nil {
		s.LastCommitted = *p
	}
	if t := m.lastCommit.Load(); t != 0 {
		s.LastSourceCommit = time.Unix(0, t)
	}
	if t := m.oldestOpen.Load(); t != 0 {
		s.OldestUncommitted = time.Unix(0, t)
	}
	if m.backlog != nil {
		s.Backlog, s.HasBacklog = m.backlog.Backlog()
	}
	if q := m.run.Load(); q != nil {
		s.QueueEvents, s.QueueBytes = int64(len(q.events.Events())), q.events.Bytes()
		s.EncodeQueueEvents, s.EncodeQueueBytes = q.stage.queuedEvents.Load(), q.stage.queued.Load()
	}
	for _, h := range []struct {
		from *Histogram
		to   *HistogramSnapshot
	}{{m.latency, &s.Latency}, {m.txnDuration, &s.TransactionDuration}, {m.txnRecords, &s.TransactionRecords}, {m.txnBytes, &s.TransactionBytes}} {
		if h.from != nil {
			*h.to = h.from.Snapshot()
		}
	}
	return s
}

// committed counts one committed Kafka transaction, with the poison changes it passed, open
// for took, holding the ends of source transactions committed at commits (Unix nanoseconds),
// at now; open is the commit time of the source transaction it was cut inside, 0 if none.
func (m *Metrics) committed(records, bytes, deadLettered, skipped int64, pos offsets.Position,
	took time.Duration, commits []int64, open int64, now time.Time) {
	if m.latency != nil {
		m.txnDuration.observe(int64(took))
		m.txnRecords.observe(records)
		m.txnBytes.observe(bytes)
		if len(commits) > 0 {
			m.latency.observeSince(now.UnixNano(), commits)
		}
	}
	if n := len(commits); n > 0 {
		m.lastCommit.Store(commits[n-1])
	}
	m.oldestOpen.Store(open)
	m.deadLettered.Add(deadLettered)
	m.skipped.Add(skipped)
	m.records.Add(records)
	m.bytes.Add(bytes)
	m.transactions.Add(1)
	m.last.Store(&pos)
}
