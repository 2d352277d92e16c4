package pipeline

import (
	"time"
)

// The steps of a source transaction's way from its commit in the source to the commit of the
// Kafka transaction holding it, each timed by a histogram of its own (see [Pipeline.Steps]), so
// that the commit latency can be told apart: a step costs two clock reads per source or Kafka
// transaction, never per change.
const (
	// StepReceive runs from the source transaction's commit in the source (its commit time,
	// the source's clock) to the encode stage taking its Commit: the source's sending, the
	// decoding of its changes and the source queue.
	StepReceive = "receive"
	// StepQueue runs from the encode stage taking the Commit to the Kafka stage taking it: the
	// encoding of the batch it is in and the wait in the encode queue, behind the Kafka stage.
	StepQueue = "queue"
	// StepLinger runs from the Kafka stage taking the source transaction's Commit to the start
	// of the commit of the Kafka transaction holding it: the batching.
	StepLinger = "linger"
	// StepFlush runs from the offset record's produce to every record of the Kafka
	// transaction acknowledged by the brokers (one observation per Kafka transaction).
	StepFlush = "flush"
	// StepEndTxn is the EndTxn request, the transaction's commit by its coordinator (one
	// observation per Kafka transaction).
	StepEndTxn = "end_txn"
	// StepCommitted runs from the source transaction's commit to the end of the commit of the
	// Kafka transaction holding it: the commit latency, in the steps' finer buckets.
	StepCommitted = "committed"
)

// stepNames lists the steps in the order a source transaction goes through them.
var stepNames = []string{StepReceive, StepQueue, StepLinger, StepFlush, StepEndTxn, StepCommitted}

// stepBuckets are finer than latencyBuckets: the steps are milliseconds each, and a p99 of a
// few tens of milliseconds is read from them.
var stepBuckets = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond,
	2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond, 5 * time.Millisecond,
	6 * time.Millisecond, 8 * time.Millisecond, 10 * time.Millisecond, 12 * time.Millisecond,
	15 * time.Millisecond, 20 * time.Millisecond, 25 * time.Millisecond, 30 * time.Millisecond,
	40 * time.Millisecond, 50 * time.Millisecond, 75 * time.Millisecond, 100 * time.Millisecond,
	150 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
}

// steps holds a pipeline's step histograms, across its runs.
type steps struct {
	receive, queue, linger, flush, endTxn, committed *Histogram
}

func newSteps() steps {
	return steps{
		receive:   newDurationHistogram(stepBuckets...),
		queue:     newDurationHistogram(stepBuckets...),
		linger:    newDurationHistogram(stepBuckets...),
		flush:     newDurationHistogram(stepBuckets...),
		endTxn:    newDurationHistogram(stepBuckets...),
		committed: newDurationHistogram(stepBuckets...),
	}
}

// StepStats is one step's histogram, in seconds.
type StepStats struct {
	// Step is one of the Step* names.
	Step string
	HistogramSnapshot
}

// Steps returns the step histograms of the pipeline, across its runs, in the order of
// the steps (see [StepReceive] and the others). The commit latency of a source transaction is
// the sum of its receive, queue, linger, flush and end_txn steps; a read_committed consumer
// sees its records a fetch later.
func (p *Pipeline) Steps() []StepStats {
	hs := []*Histogram{p.steps.receive, p.steps.queue, p.steps.linger, p.steps.flush, p.steps.endTxn, p.steps.committed}
	out := make([]StepStats, len(hs))
	for i, h := range hs {
		out[i] = StepStats{Step: stepNames[i], HistogramSnapshot: h.Snapshot()}
	}
	return out
}

// observeSince observes the time from since (Unix nanoseconds, 0 unknown) to now, when known
// and not negative (two clocks: the source's and ours).
func observeSince(h *Histogram, since, now int64) {
	if since == 0 {
		return
	}
	h.observe(max(now-since, 0))
}
