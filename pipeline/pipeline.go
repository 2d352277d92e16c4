// Package pipeline runs one connector: it reads whole source transactions from a [Source],
// passes each change through the transform chain and an [Encoder], and writes the records
// with the source position to Kafka in one transaction, then acknowledges the position to the
// source. See [Pipeline] for how that gives exactly-once delivery.
//
// The stages, in order, with the state of a change after each:
//
//	source    an Event in the channel (bounded: a full channel blocks the source)
//	transform kept (possibly changed, routed, given headers, unwrapped) or dropped
//	encode    topic, key and value bytes, queued for the Kafka stage (bounded in events and
//	          bytes: a full queue stops the encoding, then the source); a poison change is
//	          replaced by its dead-letter record or by nothing, as the error policy says
//	produce   buffered in the Kafka client (bounded: a full buffer blocks the Kafka stage)
//	commit    the offset record is produced last, the buffer flushed, the transaction committed
//	ack       the committed position is handed to Source.Ack, in order
//
// Transform and encode run on one goroutine, produce, commit and ack on another, so that
// encoding goes on while a Kafka transaction commits; every event passes both in order, and
// either one's failure ends both (see stage.go).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Encoder turns the record-level outcome of the transform chain for one change into Kafka
// bytes; format/avro implements it.
type Encoder interface {
	// EncodeRecord returns the topic, key and value of rec's record: the topic is rec.Topic
	// when a route set it, else the change's default topic; the value has rec.Shape. value is
	// nil for a delete whose rec.Tombstone is transform.TombstoneOnly; key is nil for a table
	// without a key. The pipeline applies rec's headers and tombstone choice itself. It may
	// block until ctx ends, on the schema registry at the first record of a table version,
	// topic or shape. It does not keep rec, which the pipeline reuses. The caller owns the
	// returned slices (the Kafka client keeps them until the record is written), so each call
	// returns fresh ones. An error stops the run unless it is a poison change the error policy
	// lets pass (see [Policy]); an error with a Retryable() bool method returning false (schema
	// incompatibility) stops the connector for good, see [IsRetryable].
	EncodeRecord(ctx context.Context, rec *transform.Record) (topic string, key, value []byte, err error)
}

// ErrRunning means Run was called while another Run of the same Pipeline had not returned.
var ErrRunning = errors.New("pipeline: already running")

// Pipeline runs one connector with exactly-once delivery to read_committed consumers.
//
// Every Kafka transaction the pipeline writes holds the records of one or more whole source
// transactions and, as its last record, the offset record: in the compacted offsets topic,
// under the connector's key, the source position just after those transactions. The records
// and the position they reach commit together or abort together. The position is handed to
// Source.Ack (which lets PostgreSQL release WAL) only after EndTransaction has committed, in
// commit order; an Ack error ends the run, so no later Ack follows a failed one.
//
// Kafka transactions close between source transactions: at the first source commit once the
// Kafka transaction holds MaxBatchRecords records or has been open for MaxLinger, at a source
// commit after which the source has nothing more to give (unless [FullLinger]), or when
// MaxLinger passes while the source is between transactions. One Kafka transaction is open at a
// time: the next begins once the previous has committed and its position is acknowledged, while
// the encode stage goes on encoding what follows. The one exception is a source
// transaction so long that the Kafka transaction has been open for half the
// TransactionTimeout: the Kafka transaction is committed inside it, with the position of the
// source transaction's start and Skip, the number of its changes already written; the source,
// resumed from that position, skips exactly those changes.
//
// Run starts by loading the producer ID of the transactional ID "cdcd-<connector>". The
// broker bumps the ID's epoch, which fences any older producer with the same ID (another
// process running this connector, or this process's previous run) and aborts the transaction
// it left open. Only then does Run read the offset back with read_committed, so the offset it
// resumes from is exactly the one committed with the last visible records, whatever happened
// before: a crash, an abort, a commit whose outcome never reached us. A fenced producer's next
// produce or commit fails, and its Run ends with [ErrFenced]: it never writes again.
//
// Any error before a commit aborts the open Kafka transaction, stops the source and ends Run
// with a [*StageError]. A broker that goes away is no such error: produces wait for it, and a
// commit whose outcome the outage hid is asked again once the broker answers, the source paused
// meanwhile with its connection kept. [Pipeline.RunWithRestarts] runs it again while [IsRetryable] says so,
// each run resuming from the committed offset: a read_committed consumer sees every change
// exactly once, in the source's order per partition.
//
// Run must not be called concurrently; Metrics may be read at any time.
type Pipeline struct {
	src     connectors.Source
	enc     Encoder
	cfg     config
	metrics Metrics
	steps   steps
	running atomic.Bool
	stall   stallWatch
	hang    hangWatch
}

// New returns a Pipeline reading src and encoding with enc.
func New(src connectors.Source, enc Encoder, opts ...Option) (*Pipeline, error) {
	if src == nil || enc == nil {
		return nil, fmt.Errorf("%w: a source and an encoder are required", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, ok := enc.(TransactionEncoder); cfg.txMetadata && !ok {
		return nil, fmt.Errorf("%w: transaction metadata needs an encoder that writes it (a TransactionEncoder), not %T",
			ErrInvalidOption, enc)
	}
	p := &Pipeline{src: src, enc: enc, cfg: cfg, steps: newSteps()}
	p.metrics.init(src)
	p.hang.watch(cfg.offsetsTopic)
	return p, nil
}

// Metrics returns the pipeline's counters.
func (p *Pipeline) Metrics() *Metrics { return &p.metrics }

// TransactionalID returns the Kafka transactional ID of the pipeline's producer.
func (p *Pipeline) TransactionalID() string { return TransactionalIDOf(p.cfg.connector) }

// TransactionalIDOf returns the Kafka transactional id of the pipeline of connector: a
// producer using it fences that pipeline (cdcd uses it to write a stopped connector's offsets).
func TransactionalIDOf(connector string) string { return "cdcd-" + connector }

// offsetKey returns the key of the connector's offset records.
func (p *Pipeline) offsetKey() offsets.Key {
	return offsets.Key{Connector: p.cfg.connector, Server: p.cfg.topicPrefix}
}

// clientOpts returns the options of every Kafka client: the defaults, then the user's.
func (p *Pipeline) clientOpts() []kgo.Opt {
	opts := make([]kgo.Opt, 0, 6+len(p.cfg.kafkaOpts))
	if len(p.cfg.seedBrokers) > 0 {
		opts = append(opts, kgo.SeedBrokers(p.cfg.seedBrokers...))
	}
	opts = append(opts,
		kgo.MaxBufferedRecords(p.cfg.maxBufferedRecords),
		kgo.MaxBufferedBytes(p.cfg.maxBufferedBytes))
	opts = append(opts, outageOpts()...)
	return append(opts, p.cfg.kafkaOpts...)
}

// BufferBytes is what the pipeline's buffers may hold, in bytes: the source queue, the encode
// queue and the producer's buffer, each at its configured bound. Each may go over by one event
// or batch, and Go's collector lets the heap grow to about twice what is live (GOGC=100).
func (p *Pipeline) BufferBytes() int64 {
	return int64(p.cfg.eventBufferBytes) + int64(p.cfg.encodeQueueBytes) + int64(p.cfg.maxBufferedBytes)
}

// ReadCommitted returns the connector's committed position: where the next Run resumes.
func (p *Pipeline) ReadCommitted(ctx context.Context) (offsets.Position, error) {
	return kafkalog.ReadOffset(ctx, p.clientOpts(), p.cfg.offsetsTopic, p.offsetKey())
}

// Run runs the connector until ctx ends (it then returns ctx's error) or a stage fails (it
// then returns a [*StageError], after aborting the open Kafka transaction and stopping the
// source). It resumes from the last committed position.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer p.running.Store(false)

	// Hanging transactions are looked for from the start: one on the offsets partition would
	// hold the read of the committed offset back for good.
	hangCtx, stopHang := context.WithCancel(ctx)
	hangDone := make(chan struct{})
	go func() {
		defer close(hangDone)
		p.watchHanging(hangCtx)
	}()
	defer func() {
		stopHang()
		<-hangDone
	}()

	r, from, err := p.start(ctx)
	if err != nil {
		return err
	}
	defer func() { r.client.Close() }() // the run may have replaced its client (see renewClient)

	events := connectors.NewQueue(p.cfg.eventBuffer, p.cfg.eventBufferBytes)
	streamCtx, stopStream := context.WithCancel(ctx)
	var streamErr error
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		streamErr = p.src.Stream(streamCtx, from, events)
	}()

	stage := newEncodeStage(p, from)
	stage.limits = newRecordLimits(r.client, &p.cfg)
	r.limits = stage.limits
	r.events = events
	p.metrics.run.Store(&runQueues{events: events, stage: stage})
	defer p.metrics.run.Store(nil)
	stageCtx, stopStage := context.WithCancel(ctx)
	stageDone := make(chan struct{})
	go func() {
		defer close(stageDone)
		stage.run(stageCtx, events)
	}()

	err = r.loop(ctx, stage, streamDone, &streamErr)
	p.stall.closed()
	stopStage()
	stopStream()
	if r.inKafkaTxn {
		err = timedOut(err, r.cfg.now().Sub(r.kafkaStart), r.cfg.txnTimeout)
	}
	switch {
	case r.inKafkaTxn && (errors.Is(err, ErrFenced) || errors.Is(err, ErrTransactionTimedOut)):
		// The newer producer's InitProducerID, or the broker's timeout, aborted our
		// transaction already; ending it ourselves could only reach the coordinator with a
		// stale epoch.
		r.p.metrics.aborts.Add(1)
	case r.inKafkaTxn:
		r.abort(ctx)
	}
	// The next Run must not stream nor encode while this one's source and encoder still do.
	<-stageDone
	<-streamDone
	// The error is logged by the caller, once: RunWithRestarts as a retry, the daemon as the
	// connector's failure.
	return err
}

// start connects the transactional producer, fencing older ones, and reads the position to
// resume from.
func (p *Pipeline) start(ctx context.Context) (*run, offsets.Position, error) {
	// Loading the producer ID fences older producers of this connector and aborts what they
	// left open, so that the read below sees a settled offsets topic.
	client, err := p.newProducer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, offsets.Position{}, ctx.Err()
		}
		return nil, offsets.Position{}, stageError(StageStart, err)
	}
	fail := func(what string, err error) (*run, offsets.Position, error) {
		client.Close()
		if ctx.Err() != nil {
			return nil, offsets.Position{}, ctx.Err()
		}
		return nil, offsets.Position{}, stageError(StageStart, fmt.Errorf("%s: %w", what, err))
	}
	if err := kafkalog.EnsureTopic(ctx, client, kafkalog.CompactedTopic(p.cfg.offsetsTopic)); err != nil {
		return fail("ensuring the offsets topic", err)
	}
	sourceTopics, err := p.ensureSourceTopics(ctx, client)
	if err != nil {
		return fail("ensuring the source's topics", err)
	}
	from, err := p.ReadCommitted(ctx)
	if err != nil {
		return fail("reading the committed offset", err)
	}
	p.cfg.log.Info().Str("connector", p.cfg.connector).Stringer("position", from).Int64("buffer_bytes", p.BufferBytes()).
		Msg("pipeline starting from the committed position")
	r := newRun(p, client, from)
	for _, t := range sourceTopics {
		r.topics[t] = struct{}{}
	}
	return r, from, nil
}

// DefaultHealthyAfter is how long a run restarted after a failure must go on without failing
// to count as healthy when it commits nothing before (see [OnHealthy]).
const DefaultHealthyAfter = 10 * time.Second

// RestartOption configures one [Pipeline.RunWithRestarts] call.
type RestartOption func(*restartConfig)

type restartConfig struct {
	onRetry      func(err error, next time.Time)
	onHealthy    func()
	onStalled    func(reason error)
	stallAfter   time.Duration
	healthyAfter time.Duration
}

// OnRetry has f called once for each failed run that will be run again, with the run's error
// and the time the next run starts, before the wait: the caller's status can say that the
// connector is retrying, why, and when. f must not block. RunWithRestarts logs the retry itself
// (one warning per retry), so f should not log it again.
func OnRetry(f func(err error, next time.Time)) RestartOption {
	return func(c *restartConfig) { c.onRetry = f }
}

// OnHealthy has f called once a run that follows a retry is healthy: it committed a Kafka
// transaction, or it went on for d (default [DefaultHealthyAfter]; a source that cannot be
// reached fails well before) without failing. f must not block.
func OnHealthy(d time.Duration, f func()) RestartOption {
	return func(c *restartConfig) {
		c.onHealthy = f
		if d > 0 {
			c.healthyAfter = d
		}
	}
}

// RunWithRestarts calls Run until ctx ends or Run fails with an error that [IsRetryable] says
// is final, which it returns. Between runs it waits, from the minimum [RestartBackoff]
// doubling up to the maximum; a run that committed something starts the backoff over. Each
// run resumes from the committed position. Each retry logs one warning with the error and the
// wait, so that an unreachable server is in the log at the first failure and at least once per
// maximum backoff after; the final error is left to the caller to log.
func (p *Pipeline) RunWithRestarts(ctx context.Context, opts ...RestartOption) error {
	rc := restartConfig{healthyAfter: DefaultHealthyAfter}
	for _, o := range opts {
		o(&rc)
	}
	if rc.onStalled != nil && rc.stallAfter > 0 {
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		go p.watchStalls(watchCtx, rc)
	}
	backoff := p.cfg.minBackoff
	var timer *time.Timer
	retried := false
	for {
		before := p.metrics.transactions.Load()
		var err error
		if retried && rc.onHealthy != nil {
			err = p.runWatched(ctx, before, rc)
		} else {
			err = p.Run(ctx)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !IsRetryable(err) {
			return err
		}
		if p.metrics.transactions.Load() > before {
			backoff = p.cfg.minBackoff
		}
		next := time.Now().Add(backoff)
		p.cfg.log.Warn().Err(err).Str("connector", p.cfg.connector).Stringer("backoff", backoff).Time("next_attempt", next).
			Msg("pipeline failed, restarting from the committed position")
		if rc.onRetry != nil {
			rc.onRetry(err, next)
		}
		retried = true
		p.metrics.restarts.Add(1)
		if timer == nil {
			timer = time.NewTimer(backoff)
		} else {
			timer.Reset(backoff)
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		backoff = min(2*backoff, p.cfg.maxBackoff)
	}
}

// runWatched is Run, calling rc.onHealthy once the run commits a transaction (more than before
// committed in all) or has gone on for rc.healthyAfter without failing.
func (p *Pipeline) runWatched(ctx context.Context, before int64, rc restartConfig) error {
	ended := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		// The commit count is polled: the commit path stays free of status concerns.
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		deadline := time.NewTimer(rc.healthyAfter)
		defer deadline.Stop()
		for {
			select {
			case <-ended:
				return
			case <-deadline.C:
			case <-tick.C:
				if p.metrics.transactions.Load() <= before {
					continue
				}
			}
			rc.onHealthy()
			return
		}
	}()
	err := p.Run(ctx)
	close(ended)
	<-watched
	return err
}
