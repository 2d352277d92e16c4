package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrSourceProtocol means the source sent events out of the order Begin, Change..., Commit.
var ErrSourceProtocol = errors.New("pipeline: source events out of order")

// abortTimeout bounds the abort of a Kafka transaction after a failure: the next run's
// producer ID load aborts it anyway, so waiting longer buys nothing.
const abortTimeout = 10 * time.Second

// outageRetryBackoff caps the Kafka client's pause between two tries of a request or produce
// that failed at the network level (franz-go's default grows to 5 s), and the pipeline's own
// between two tries of a commit whose outcome is unknown: a broker back from an outage is found
// again within it, so that the first commit after its return comes soon.
const outageRetryBackoff = time.Second

// outageWarnEvery is how often a commit waiting for an unreachable broker says so again.
const outageWarnEvery = time.Minute

// outageOpts are the pipeline's Kafka client options for a broker that goes away. The user's
// KafkaOpts come later and may override them.
func outageOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(100*time.Millisecond<<min(max(tries-1, 0), 4), outageRetryBackoff)
		}),
	}
}

// commitHook, when set (only by a build for tests, see testhook.go), is called in every commit
// between the flush and the end of the Kafka transaction, so that an integration test can stop
// the broker while a commit is in flight, on purpose rather than by chance.
var commitHook func(ctx context.Context)

// run is the state of one Run: its Kafka client, and where it stands in the Kafka and source
// transactions. It lives in one goroutine, but for the produce error set by the client's
// promises.
type run struct {
	p         *Pipeline
	cfg       *config
	client    *kgo.Client
	admin     *kadm.Client
	offsetKey []byte
	// topics holds the data topics known to exist, so that each is created once per run.
	topics map[string]struct{}
	// watched holds the topics written to in this run, told to the hanging transaction check.
	watched map[string]struct{}
	// lastEnsured and lastWatched are the topics of the last record ensureTopic and produce
	// found in topics and watched (or put there): consecutive records mostly share their
	// topic, whose string (the encoder's, one per table) then compares equal by its pointer,
	// so that the maps are asked once per run of records of a topic instead of per record.
	lastEnsured, lastWatched string
	// promise is created once: a method value per Produce would allocate per record.
	promise func(*kgo.Record, error)
	// limits are the encode stage's size checks, told of a renewed client (nil in none).
	limits *recordLimits
	// events and stage are the run's source queue and encode stage, and more tells whether
	// items follow the one being handled in its batch: what sourceIdle looks at.
	events *connectors.Queue
	stage  *encodeStage
	more   bool

	failed     atomic.Bool
	errMu      sync.Mutex
	produceErr error

	// timer fires MaxLinger after a Kafka transaction opens, and then at the cut deadline
	// while a source transaction keeps it open. It is reused for every transaction.
	timer *time.Timer

	inKafkaTxn  bool
	kafkaStart  time.Time
	txnRecords  int64
	txnBytes    int64
	txnDLQ      int64            // poison changes dead-lettered in the open Kafka transaction
	txnSkipped  int64            // and skipped
	pending     offsets.Position // the position the open Kafka transaction reaches
	havePending bool

	inSourceTxn bool
	begin       offsets.Position // the open source transaction's Begin position
	beginCommit int64            // and its source commit time (Unix nanoseconds, 0 unknown)
	// txnCommits are the source commit times of the source transactions whose ends the open
	// Kafka transaction holds, for the latency histogram.
	txnCommits []int64
	// txnEnds are when the Kafka stage took the Commits of those source transactions (Unix
	// nanoseconds), for the linger step.
	txnEnds    []int64
	seen       int64            // its changes received, with those skipped on resume
	from       offsets.Position // where this run resumed
	firstBegin bool
}

func newRun(p *Pipeline, client *kgo.Client, from offsets.Position) *run {
	r := &run{
		p:          p,
		cfg:        &p.cfg,
		client:     client,
		admin:      kadm.NewClient(client),
		offsetKey:  p.offsetKey().Bytes(),
		topics:     make(map[string]struct{}),
		watched:    make(map[string]struct{}),
		timer:      time.NewTimer(time.Hour),
		from:       from,
		firstBegin: true,
	}
	r.timer.Stop()
	r.promise = r.produced
	return r
}

// produced is the promise of every record: it keeps the first error, which fails the run,
// naming the record's topic (Kafka's TOPIC_AUTHORIZATION_FAILED does not).
func (r *run) produced(rec *kgo.Record, err error) {
	if err == nil {
		r.p.stall.progress.Add(1)
		return
	}
	r.errMu.Lock()
	if r.produceErr == nil {
		r.produceErr = fmt.Errorf("producing to topic %s: %w", rec.Topic, err)
	}
	r.errMu.Unlock()
	r.failed.Store(true)
}

func (r *run) firstProduceErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.produceErr
}

// cutAfter is how long a Kafka transaction may stay open inside one source transaction: half
// the transaction timeout, the other half left for the flush and the commit.
func (r *run) cutAfter() time.Duration { return r.cfg.txnTimeout / 2 }

// loop handles the encode stage's batches and the timers until an error or the end of ctx.
func (r *run) loop(ctx context.Context, stage *encodeStage, streamDone <-chan struct{}, streamErr *error) error {
	r.stage = stage
	stats := time.NewTicker(r.cfg.statsInterval)
	defer stats.Stop()
	defer r.timer.Stop()
	for {
		select {
		case b := <-stage.full:
			r.ensureBatchTopics(ctx, b)
			for i := range b.items {
				it := &b.items[i]
				r.more = i < len(b.items)-1
				if err := r.handle(ctx, it, b.recs[it.lo:it.hi]); err != nil {
					return err
				}
			}
			stage.giveBack(b)
		case <-r.timer.C:
			if err := r.onTimer(ctx); err != nil {
				return err
			}
		case <-streamDone:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			err := *streamErr
			if err == nil {
				err = ErrSourceStopped
			}
			return stageError(StageSource, err)
		case <-stats.C:
			s := r.p.metrics.Stats()
			r.cfg.log.Info().Str("connector", r.cfg.connector).
				Int64("records", s.Records).Int64("transactions", s.Transactions).
				Int64("bytes", s.Bytes).Int64("aborts", s.Aborts).
				Int64("dead_lettered", s.DeadLettered).Int64("skipped", s.Skipped).
				Stringer("position", s.LastCommitted).Msg("pipeline stats")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// handle does what one event asks in the Kafka transaction; recs are its records, encoded.
func (r *run) handle(ctx context.Context, ev *staged, recs []*kgo.Record) error {
	switch ev.kind {
	case connectors.EventBegin:
		if r.inSourceTxn {
			return stageError(StageSource, fmt.Errorf("%w: begin at %s inside the transaction begun at %s",
				ErrSourceProtocol, ev.pos, r.begin))
		}
		r.inSourceTxn = true
		r.begin = ev.pos
		r.beginCommit = ev.commit
		if ev.commit != 0 {
			r.p.metrics.opened(ev.commit)
		}
		r.seen = ev.pos.Skip
		// A source resuming inside a transaction may give its Begin without the Skip it
		// applied; the count must go on from it, or a second cut would store too few.
		if r.firstBegin && r.seen == 0 && r.from.Skip > 0 && bytes.Equal(ev.pos.Source, r.from.Source) {
			r.seen = r.from.Skip
		}
		r.firstBegin = false
		if !r.inKafkaTxn {
			return r.open()
		}
		return nil

	case connectors.EventChange, connectors.EventRecord:
		if !r.inSourceTxn || ev.empty {
			return stageError(StageSource, fmt.Errorf("%w: change outside a transaction", ErrSourceProtocol))
		}
		if !r.inKafkaTxn { // the previous Kafka transaction was cut inside this source transaction
			if err := r.open(); err != nil {
				return err
			}
		}
		r.seen++
		if ev.err != nil {
			return ev.err
		}
		if ev.fault != nil {
			r.passFault(ev.fault, recs)
		}
		for _, rec := range recs {
			// A source's own record goes to a topic the source created.
			if ev.kind == connectors.EventChange {
				if err := r.ensureTopic(ctx, rec.Topic); err != nil {
					return err
				}
			}
			if err := r.produce(ctx, rec); err != nil {
				return err
			}
		}
		if r.cfg.now().Sub(r.kafkaStart) >= r.cutAfter() {
			return r.cut(ctx)
		}
		return nil

	case connectors.EventCommit:
		if !r.inSourceTxn {
			return stageError(StageSource, fmt.Errorf("%w: commit at %s outside a transaction",
				ErrSourceProtocol, ev.pos))
		}
		r.inSourceTxn = false
		if ev.err != nil { // the transaction's END record could not be encoded
			return ev.err
		}
		if !r.inKafkaTxn { // cut after the last change: the commit's position still has to be stored
			if err := r.open(); err != nil {
				return err
			}
		}
		// The transaction's END record (TransactionMetadata), before the offset record.
		for _, rec := range recs {
			if err := r.ensureTopic(ctx, rec.Topic); err != nil {
				return err
			}
			if err := r.produce(ctx, rec); err != nil {
				return err
			}
		}
		r.pending, r.havePending = ev.pos, true
		now := time.Now().UnixNano()
		observeSince(r.p.steps.receive, r.beginCommit, ev.at)
		observeSince(r.p.steps.queue, ev.at, now)
		r.txnEnds = append(r.txnEnds, now)
		if r.beginCommit != 0 {
			r.txnCommits = append(r.txnCommits, r.beginCommit)
		}
		if r.txnRecords >= int64(r.cfg.maxBatchRecords) || r.cfg.now().Sub(r.kafkaStart) >= r.cfg.maxLinger ||
			(!r.cfg.fullLinger && r.sourceIdle()) {
			return r.commit(ctx)
		}
		return nil

	default:
		return stageError(StageSource, fmt.Errorf("%w: unknown event kind %d", ErrSourceProtocol, ev.kind))
	}
}

// sourceIdle tells whether the source has nothing more to give at this moment: no item after
// the one being handled in its batch, no batch waiting in the encode queue, no event in the
// source queue. Then waiting for the linger would only delay the transactions the Kafka
// transaction holds, so it commits at once; while it commits, the events that come meanwhile
// gather, so that a busy stream still batches (a commit's worth of events per transaction, up
// to the linger and the batch size). An event the encode stage holds at this very moment is
// not seen: it goes into the next Kafka transaction, which costs a commit and loses nothing.
func (r *run) sourceIdle() bool {
	if r.more || r.stage == nil || len(r.stage.full) > 0 {
		return false
	}
	return r.events == nil || len(r.events.Events()) == 0
}

// passFault records a poison change the error policy let pass, the one just counted in seen:
// its position goes on its dead-letter record (recs) and in the log, which names the table,
// the op and the error but no row data.
func (r *run) passFault(f *fault, recs []*kgo.Record) {
	pos := offsets.Position{Source: r.begin.Source, Skip: r.seen - 1}
	posJSON, err := json.Marshal(pos)
	if err != nil { // a source position that is not JSON: keep it, as a JSON string
		posJSON = appendJSONString(nil, pos.String())
	}
	ev := r.cfg.log.Warn().Str("connector", r.cfg.connector).Str("table", f.table).
		Str("op", f.op.String()).RawJSON("position", posJSON).Stringer("stage", f.stage).AnErr("error", f.err)
	switch r.cfg.policy {
	case PolicyDLQ:
		for _, rec := range recs {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderPosition, Value: posJSON})
		}
		r.txnDLQ++
		ev.Str("topic", r.cfg.dlqTopic).Msg("poison change written to the dead-letter topic")
	default:
		r.txnSkipped++
		ev.Msg("poison change skipped")
	}
}

// onTimer closes a lingering Kafka transaction between source transactions, or cuts one that a
// source transaction has kept open too long.
func (r *run) onTimer(ctx context.Context) error {
	if !r.inKafkaTxn {
		return nil
	}
	if !r.inSourceTxn {
		if r.havePending {
			return r.commit(ctx)
		}
		return nil
	}
	elapsed := r.cfg.now().Sub(r.kafkaStart)
	if elapsed >= r.cutAfter() {
		return r.cut(ctx)
	}
	r.timer.Reset(r.cutAfter() - elapsed)
	return nil
}

// open begins a Kafka transaction.
func (r *run) open() error {
	if err := r.client.BeginTransaction(); err != nil {
		return stageError(StageProduce, fmt.Errorf("beginning a Kafka transaction: %w", err))
	}
	r.inKafkaTxn = true
	r.kafkaStart = r.cfg.now()
	r.p.stall.opened(r.kafkaStart)
	r.txnRecords, r.txnBytes = 0, 0
	r.txnDLQ, r.txnSkipped = 0, 0
	r.txnCommits = r.txnCommits[:0]
	r.txnEnds = r.txnEnds[:0]
	r.havePending = false
	r.timer.Reset(r.cfg.maxLinger)
	return nil
}

// produce buffers one record in the Kafka client, which owns it from then on; it blocks while
// the buffer is full.
func (r *run) produce(ctx context.Context, rec *kgo.Record) error {
	if r.failed.Load() {
		return stageError(StageProduce, r.firstProduceErr())
	}
	if rec.Topic != r.lastWatched || rec.Topic == "" {
		if _, ok := r.watched[rec.Topic]; !ok {
			r.watched[rec.Topic] = struct{}{}
			r.p.hang.watch(rec.Topic)
		}
		r.lastWatched = rec.Topic
	}
	r.client.Produce(ctx, rec, r.promise)
	r.txnRecords++
	r.txnBytes += int64(len(rec.Key) + len(rec.Value))
	return nil
}

// ensureTopic creates a data topic at its first use in this run; the broker does not create
// topics on its own.
func (r *run) ensureTopic(ctx context.Context, topic string) error {
	if topic == r.lastEnsured && topic != "" {
		return nil
	}
	if _, ok := r.topics[topic]; ok {
		r.lastEnsured = topic
		return nil
	}
	plan := r.cfg.planTopic(topic)
	resp, err := r.admin.CreateTopic(ctx, plan.partitions, plan.replicationFactor, plan.createConfigs(), topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		r.cfg.log.Info().Str("connector", r.cfg.connector).Str("topic", topic).Str("group", plan.group).
			Int32("partitions", plan.partitions).Int16("replication_factor", plan.replicationFactor).
			Interface("configs", plan.configs).Msg("topic created")
	case errors.Is(err, kerr.TopicAlreadyExists):
		r.checkExisting(ctx, topic, plan)
	default:
		err = fmt.Errorf("creating topic %s: %w", topic, err)
		if topicRefused(err) {
			// Settings the cluster refuses (a replication factor over its brokers, a
			// compression it does not know) stay refused: the connector stops with them.
			err = connectors.Permanent(err)
		}
		return stageError(StageProduce, err)
	}
	r.topics[topic] = struct{}{}
	r.lastEnsured = topic
	return nil
}

// checkExisting warns when topic, which existed already, differs from the settings it would
// have been created with; it is used as it is. A failure to describe it is only logged: the
// topic is usable, and the check is advice.
func (r *run) checkExisting(ctx context.Context, topic string, plan topicPlan) {
	if !plan.explicit() {
		return
	}
	diffs, err := topicDifferences(ctx, r.admin, topic, plan)
	if err != nil {
		r.cfg.log.Warn().Err(err).Str("connector", r.cfg.connector).Str("topic", topic).
			Msg("the topic exists; its settings could not be compared with the topic creation settings")
		return
	}
	if len(diffs) > 0 {
		r.cfg.log.Warn().Str("connector", r.cfg.connector).Str("topic", topic).Str("group", plan.group).
			Strs("differences", diffs).
			Msg("the topic exists with other settings than the topic creation settings: it is used as it is")
	}
}

// cut commits the Kafka transaction inside the open source transaction, storing how many of
// its changes are written.
func (r *run) cut(ctx context.Context) error {
	r.pending = offsets.Position{Source: r.begin.Source, Skip: r.seen}
	r.havePending = true
	r.cfg.log.Info().Str("connector", r.cfg.connector).Stringer("position", r.pending).
		Msg("source transaction too long for one Kafka transaction: committing part of it")
	return r.commit(ctx)
}

// commit closes the Kafka transaction: the offset record last, flush, commit, then the Ack.
func (r *run) commit(ctx context.Context) error {
	pos := r.pending
	value, err := offsets.Value(pos)
	if err != nil {
		return stageError(StageProduce, err)
	}
	rec := &kgo.Record{Topic: r.cfg.offsetsTopic, Key: r.offsetKey, Value: value}
	start := time.Now()
	for _, t := range r.txnEnds {
		observeSince(r.p.steps.linger, t, start.UnixNano())
	}
	if err := r.produce(ctx, rec); err != nil {
		return err
	}
	// The offset record is not data: take it back out of the counters.
	r.txnRecords--
	r.txnBytes -= int64(len(rec.Key) + len(rec.Value))
	if err := r.client.Flush(ctx); err != nil {
		return stageError(StageProduce, fmt.Errorf("flushing: %w", err))
	}
	if r.failed.Load() {
		return stageError(StageProduce, r.firstProduceErr())
	}
	// The transaction's producer, for a commit asked again after an outage (see commitAgain):
	// the client holds it already, so this asks nothing of the broker.
	id, epoch, err := r.client.ProducerID(ctx)
	if err != nil {
		return stageError(StageCommit, fmt.Errorf("the producer of the Kafka transaction up to %s: %w", pos, err))
	}
	flushed := time.Now()
	r.p.steps.flush.observe(int64(flushed.Sub(start)))
	if commitHook != nil {
		commitHook(ctx)
	}
	if err := r.client.EndTransaction(ctx, kgo.TryCommit); err != nil {
		if !outcomeUnknown(ctx, err) {
			return stageError(StageCommit, fmt.Errorf("committing the Kafka transaction up to %s: %w", pos, err))
		}
		if err := r.commitAgain(ctx, id, epoch, pos, err); err != nil {
			return err
		}
	}
	r.inKafkaTxn, r.havePending = false, false
	r.p.stall.closed()
	r.timer.Stop()
	var open int64 // a cut leaves the source transaction it was cut inside uncommitted
	if r.inSourceTxn {
		open = r.beginCommit
	}
	now := time.Now()
	r.p.steps.endTxn.observe(int64(now.Sub(flushed)))
	for _, c := range r.txnCommits {
		observeSince(r.p.steps.committed, c, now.UnixNano())
	}
	r.p.metrics.committed(r.txnRecords, r.txnBytes, r.txnDLQ, r.txnSkipped, pos, r.cfg.now().Sub(r.kafkaStart), r.txnCommits, open, now)
	r.cfg.log.Debug().Str("connector", r.cfg.connector).Int64("records", r.txnRecords).
		Int64("bytes", r.txnBytes).Stringer("position", pos).Msg("kafka transaction committed")
	if err := r.p.src.Ack(pos); err != nil {
		return stageError(StageAck, fmt.Errorf("acknowledging %s: %w", pos, err))
	}
	return nil
}

// outcomeUnknown tells whether err, met ending a Kafka transaction, leaves its outcome unknown:
// the broker unreachable (a refused dial, a connection lost or reset, a timeout) or a retriable
// Kafka error that outlived the client's retries. A definitive answer of the broker (fencing, an
// invalid state), the client's own refusals (a topic recreated in the transaction, say) and the
// end of the run's context are not.
func outcomeUnknown(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if ke, ok := errors.AsType[*kerr.Error](err); ok {
		return !brokerAnswered(ke)
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.DeadlineExceeded)
}

// brokerAnswered tells whether err, met asking again for a commit, is the broker's definitive
// answer: a Kafka error that is not retriable. Anything else (no broker reachable yet, no
// coordinator known yet, a retriable error) means asking again; so does
// CONCURRENT_TRANSACTIONS, which Kafka does not call retriable but which only says that the
// coordinator is still busy with the transaction (loading it back after a restart, say).
func brokerAnswered(err error) bool {
	ke, ok := errors.AsType[*kerr.Error](err)
	return ok && !ke.Retriable && ke.Code != kerr.ConcurrentTransactions.Code
}

// commitAgain ends the Kafka transaction up to pos, of producer id and epoch, whose commit failed
// with firstErr, an unknown outcome (a broker gone away, most often in the middle of the commit).
// Failing the run would tear the source down and restart it with a growing backoff; the
// pipeline pauses instead: the source waits behind its full queues, its connection kept, and
// commitAgain asks the broker again, every outageRetryBackoff at most, until it answers. The
// Kafka client allows only an abort after an unknown outcome, so the commit is asked with a
// request of its own, the same the client sends; Kafka answers a commit already done as done.
// Once it commits, the client is replaced by a new producer (see renewClient). If the outage
// outlived the transaction timeout the broker has aborted the transaction: it answers with
// fencing, which Run reports as ErrTransactionTimedOut and the connector restarts.
func (r *run) commitAgain(ctx context.Context, id int64, epoch int16, pos offsets.Position, firstErr error) error {
	start := time.Now()
	r.cfg.log.Warn().Err(firstErr).Str("connector", r.cfg.connector).Stringer("position", pos).
		Msg("the commit of the Kafka transaction has an unknown outcome (Kafka unreachable?): the pipeline waits for the broker to ask it again, the source is paused")
	warned := start
	backoff := 100 * time.Millisecond
	wait := time.NewTimer(backoff)
	defer wait.Stop()
	for {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID = r.p.TransactionalID()
		req.ProducerID, req.ProducerEpoch = id, epoch
		req.Commit = true
		resp, err := req.RequestWith(ctx, r.client)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if brokerAnswered(err) {
			return stageError(StageCommit, fmt.Errorf("committing the Kafka transaction up to %s after the broker's return (first attempt: %v): %w",
				pos, firstErr, err))
		}
		r.p.stall.waiting(err)
		if time.Since(warned) >= outageWarnEvery {
			warned = time.Now()
			r.cfg.log.Warn().Err(err).Str("connector", r.cfg.connector).Stringer("position", pos).
				Stringer("waiting", time.Since(start).Round(time.Second)).Stringer("transaction_timeout", r.cfg.txnTimeout).
				Msg("Kafka still unreachable: the commit waits for the broker, the source is paused")
		}
		wait.Reset(backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wait.C:
		}
		backoff = min(2*backoff, outageRetryBackoff)
	}
	r.cfg.log.Info().Str("connector", r.cfg.connector).Stringer("position", pos).
		Stringer("waited", time.Since(start).Round(time.Millisecond)).Msg("Kafka is back: the broker answered the commit asked again as done")
	if err := r.renewClient(ctx); err != nil {
		return err
	}
	return r.checkVisible(ctx, pos)
}

// checkVisible reads the connector's offset back, read_committed, after a commit asked again,
// and returns nil only if it is pos: the source may be acknowledged only for a transaction known
// to have committed, and after an unknown outcome the broker's "done" to a request sent again is
// not proof enough (a coordinator that failed over, or lost the transaction to its timeout in
// between, answers from state the client cannot see). It runs after renewClient, whose producer
// ID load has fenced and aborted whatever of ours was still open, so the transaction is decided
// by then: visible, or aborted for good. Not visible, the run fails without acknowledging; the
// next run resumes from the offset that is visible and writes those changes again.
func (r *run) checkVisible(ctx context.Context, pos offsets.Position) error {
	rctx, cancel := context.WithTimeout(ctx, 2*r.cfg.txnTimeout)
	defer cancel()
	got, err := r.p.ReadCommitted(rctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return stageError(StageCommit, fmt.Errorf("reading back the offset of the transaction committed again up to %s: %w", pos, err))
	}
	if !bytes.Equal(got.Source, pos.Source) || got.Skip != pos.Skip {
		err := fmt.Errorf("%w: committed again up to %s, but the offsets topic holds %s", ErrCommitNotVisible, pos, got)
		r.cfg.log.Error().Err(err).Str("connector", r.cfg.connector).
			Msg("the broker answered the commit asked again as done, but the transaction is not visible: nothing is acknowledged, the run restarts from the committed position")
		return stageError(StageCommit, err)
	}
	return nil
}

// newProducer returns a new transactional Kafka client of the pipeline, its producer ID loaded:
// which fences older producers of the connector and aborts the transaction they left open.
func (p *Pipeline) newProducer(ctx context.Context) (*kgo.Client, error) {
	client, err := kgo.NewClient(append(p.clientOpts(),
		kgo.RecordPartitioner(newRecordPartitioner(p.cfg.offsetsTopic)),
		kgo.TransactionalID(p.TransactionalID()),
		kgo.TransactionTimeout(p.cfg.txnTimeout))...)
	if err != nil {
		return nil, fmt.Errorf("creating the Kafka client: %w", err)
	}
	if _, _, err := client.ProducerID(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("initialising the transactional producer %s: %w", p.TransactionalID(), err)
	}
	return client, nil
}

// renewClient replaces the run's Kafka client by a new transactional producer: the old one,
// after a commit whose outcome it never learnt, would only abort. The new one's producer ID
// load bumps the epoch, which ends nothing: the transaction is committed. The encode stage's
// size checks move to the new client too, since the old one is closed.
func (r *run) renewClient(ctx context.Context) error {
	client, err := r.p.newProducer(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return stageError(StageStart, err)
	}
	if r.limits != nil {
		r.limits.use(client)
	}
	r.client.Close()
	r.client, r.admin = client, kadm.NewClient(client)
	return nil
}

// abort ends the open Kafka transaction after a failure. Its errors are only logged: the next
// run's producer ID load aborts whatever is left.
func (r *run) abort(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	r.p.metrics.aborts.Add(1)
	if err := r.client.AbortBufferedRecords(actx); err != nil {
		r.cfg.log.Warn().Err(err).Str("connector", r.cfg.connector).Msg("aborting buffered records")
	}
	if err := r.client.EndTransaction(actx, kgo.TryAbort); err != nil {
		r.cfg.log.Warn().Err(err).Str("connector", r.cfg.connector).Msg("aborting the Kafka transaction")
	}
	r.inKafkaTxn = false
	r.p.stall.closed()
}
