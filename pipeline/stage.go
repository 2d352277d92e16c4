package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The encode stage runs the transform chain and the encoder on its own goroutine, ahead of the
// Kafka stage (run.go), so that changes keep being encoded while a Kafka transaction flushes
// and commits. It keeps no bookkeeping of its own: every event, Begin and Commit included,
// goes through it in order and comes out as one staged item, and the Kafka stage alone keeps
// the Begin/Commit/Skip bookkeeping, with each change's records ready. An error of the encode
// stage is an item too, in its place in the stream: the Kafka stage meets it after exactly the
// changes before it, and ends the run from there as if it had failed there itself. A poison
// change that the error policy lets pass is no error: its item carries the fault, and its
// records are its dead-letter record or none (dlq.go).
//
// Between the stages, staged items travel in batches taken from a fixed set (the free list):
// the encode stage blocks when every batch is full or in the Kafka stage's hands, which bounds
// the queue in events and, because a batch closes once it holds its share of the bytes, in
// bytes; the source then blocks on its Queue, as it does behind a slow Kafka.

// maxBatchEvents is the most events of one batch: a batch costs one channel handover, so a few
// hundred events make the handover cost vanish, and an encode queue of a few thousand events
// still has many batches to overlap with.
const maxBatchEvents = 256

// staged is one source event after the encode stage.
type staged struct {
	kind connectors.EventKind
	pos  offsets.Position
	// empty: an EventChange or EventRecord without its Change or Record, a protocol error
	// the Kafka stage reports.
	empty bool
	// lo and hi delimit the event's records in its batch's recs: none for a Begin, a Commit
	// or a dropped change.
	lo, hi int
	// err stops the run at this event (the transform chain or the encoder failed).
	err error
	// fault is set for a poison change the error policy let pass: its records are its
	// dead-letter record (PolicyDLQ) or none (PolicySkip).
	fault *fault
	// commit is a Begin's source commit time in Unix nanoseconds, 0 when the source gave none.
	commit int64
	// at is when the encode stage took a Commit, in Unix nanoseconds, for the step
	// histograms (steps.go).
	at int64
}

// batch is a run of consecutive staged items and their records.
type batch struct {
	items []staged
	recs  []*kgo.Record
	bytes int
}

func (b *batch) reset() {
	// The Kafka client owns the records now, and the positions are copied: keep neither alive.
	clear(b.recs)
	clear(b.items)
	b.items, b.recs, b.bytes = b.items[:0], b.recs[:0], 0
}

// encodeStage is the state of the encode goroutine, apart from the free and full lists that
// it shares with the Kafka stage.
type encodeStage struct {
	p          *Pipeline
	cfg        *config
	perBatch   int // the most events of one batch
	batchBytes int // a batch closes once its records hold this many bytes
	// free holds the batches the encode stage may fill; full the filled ones, in order. Both
	// have room for every batch, so that a send on them never blocks.
	free, full chan *batch
	// queued is the bytes of the batches handed over and not yet given back: the encode stage
	// starts no batch while they reach the queue's bytes, so that many batches of one huge
	// event each do not hold many times the bound. back is signalled at each give-back.
	queued atomic.Int64
	back   chan struct{}
	// queuedEvents is the events of those batches, for the metrics.
	queuedEvents atomic.Int64
	// q is the source queue; held the weight of its events taken into the batch being filled.
	q    *connectors.Queue
	held int64
	// rec is the Record the chain and the encoder work on, reused from change to change.
	rec transform.Record
	// limits finds each topic's record size limit (oversize.go); nil checks nothing.
	limits *recordLimits
	// tx counts the open source transaction's events when TransactionMetadata is on (else
	// nil); from is where the run resumed, and firstBegin tells whether no Begin came yet,
	// to know the Skip of a transaction resumed inside as the Kafka stage knows it.
	tx         *txMeta
	from       offsets.Position
	firstBegin bool
	// preparer, when set, registers the schemas of the new tables among the events waiting
	// (prepare.go); pending[ahead:] are the events it took out of the queue ahead of their
	// turn, and prepared the tables it has been given.
	preparer tablePreparer
	pending  []connectors.Event
	ahead    int
	prepared map[*decoder.Table]struct{}
	// lastTable is the last table found in prepared.
	lastTable *decoder.Table
}

// newEncodeStage splits the configured queue bounds into batches, for a run resuming from
// from.
func newEncodeStage(p *Pipeline, from offsets.Position) *encodeStage {
	cfg := &p.cfg
	perBatch := min(maxBatchEvents, cfg.encodeQueueEvents)
	n := max(1, cfg.encodeQueueEvents/perBatch)
	s := &encodeStage{
		p:          p,
		cfg:        cfg,
		perBatch:   perBatch,
		batchBytes: max(1, cfg.encodeQueueBytes/n),
		free:       make(chan *batch, n),
		full:       make(chan *batch, n),
		back:       make(chan struct{}, 1),
		from:       from,
		firstBegin: true,
		preparer:   preparerOf(p),
		prepared:   map[*decoder.Table]struct{}{},
	}
	if cfg.txMetadata {
		s.tx = newTxMeta(p.enc.(TransactionEncoder)) // New checked it
	}
	for range n {
		s.free <- &batch{items: make([]staged, 0, perBatch)}
	}
	return s
}

// run encodes events until ctx ends or an item carries an error, which is then the last item
// it hands over. A batch is handed over when it is full or when no further event is waiting,
// so that a lone transaction does not wait for others.
func (s *encodeStage) run(ctx context.Context, q *connectors.Queue) {
	s.q = q
	defer func() { q.Release(s.held) }()
	events := q.Events()
	var b *batch
	for {
		// The events taken ahead (prepare.go) come first: they were waiting before the others.
		ev, ok := s.nextPending()
		switch {
		case ok:
		case b != nil && len(b.items) > 0:
			select {
			case ev = <-events:
			default:
				s.handOver(b)
				b = nil
				continue
			}
		default:
			select {
			case ev = <-events:
			case <-ctx.Done():
				return
			}
		}
		if b == nil {
			for s.queued.Load() >= int64(s.cfg.encodeQueueBytes) {
				select {
				case <-s.back:
				case <-ctx.Done():
					return
				}
			}
			select {
			case b = <-s.free:
			case <-ctx.Done():
				return
			}
		}
		s.prepareAhead(ctx, &ev, events)
		it, err := s.stage(ctx, ev, b)
		// The event's change is encoded now (or dropped), but its weight is given back with
		// the batch's: one release per batch, rather than one per event, spares the source
		// and this stage a shared counter to fight over.
		s.held += ev.Weight()
		if err != nil { // ctx ended inside the encoder: the Kafka stage ends on it too
			return
		}
		b.items = append(b.items, it)
		if it.err != nil {
			s.handOver(b)
			return
		}
		if len(b.items) >= s.perBatch || b.bytes >= s.batchBytes {
			s.handOver(b)
			b = nil
		}
	}
}

// handOver gives a filled batch to the Kafka stage, and the weight of its events back to the
// source queue: their bytes are the batch's now.
func (s *encodeStage) handOver(b *batch) {
	s.queued.Add(int64(b.bytes))
	s.queuedEvents.Add(int64(len(b.items)))
	s.p.metrics.sourceEvents.Add(int64(len(b.items)))
	s.p.metrics.sourceBytes.Add(s.held)
	s.full <- b
	s.q.Release(s.held)
	s.held = 0
}

// giveBack returns a batch the Kafka stage is done with to the free list.
func (s *encodeStage) giveBack(b *batch) {
	s.queued.Add(-int64(b.bytes))
	s.queuedEvents.Add(-int64(len(b.items)))
	b.reset()
	s.free <- b
	select {
	case s.back <- struct{}{}:
	default:
	}
}

// stage turns one event into an item, appending its records to b. It returns an error only
// when ctx ended.
func (s *encodeStage) stage(ctx context.Context, ev connectors.Event, b *batch) (staged, error) {
	it := staged{kind: ev.Kind, pos: ev.Position, lo: len(b.recs), hi: len(b.recs)}
	switch ev.Kind {
	case connectors.EventBegin:
		skip := ev.Position.Skip
		// As the Kafka stage does: a source resuming inside a transaction may give its Begin
		// without the Skip it applied.
		if s.firstBegin && skip == 0 && s.from.Skip > 0 && bytes.Equal(ev.Position.Source, s.from.Source) {
			skip = s.from.Skip
		}
		s.firstBegin = false
		if !ev.CommitTime.IsZero() {
			it.commit = ev.CommitTime.UnixNano()
		}
		if s.tx != nil {
			s.tx.begin(skip, ev.TxID, ev.CommitTime)
		}
	case connectors.EventCommit:
		it.at = time.Now().UnixNano()
		if s.tx != nil {
			topic, key, value, ok, err := s.tx.endRecord(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return it, ctx.Err()
				}
				it.err = err
			} else if ok {
				s.add(b, topic, key, value, nil)
			}
		}
	case connectors.EventChange:
		if ev.Change == nil {
			it.empty = true
			return it, nil
		}
		var mark txMark
		if s.tx != nil {
			s.tx.first(ev.Change)
			mark = s.tx.mark(tableName(ev.Change))
		}
		// A key column the table lacks fails the change as a failed transform does.
		change, err := s.rekey(ev.Change)
		if err == nil {
			if del, create, split := decoder.SplitKeyChange(change); split {
				// An update that changed the row's key becomes a delete of the old key (with its
				// tombstone) and a create of the new one, as Debezium emits it, before the
				// transforms see it.
				if err = s.record(ctx, del, b); err == nil {
					err = s.record(ctx, create, b)
				}
			} else {
				err = s.record(ctx, change, b)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return it, ctx.Err()
			}
			if s.tx != nil { // the change's events are gone: so are their counts
				s.tx.undo(tableName(ev.Change), mark)
			}
			s.fail(ctx, &it, ev.Change, err, b)
		}
	case connectors.EventRecord:
		if ev.Record == nil {
			it.empty = true
			return it, nil
		}
		s.add(b, ev.Record.Topic, ev.Record.Key, ev.Record.Value, nil)
	}
	it.hi = len(b.recs)
	return it, nil
}

// fail handles the failure err of change c, whose records would start at it.lo: a poison
// change the error policy lets pass leaves its dead-letter record, or nothing, in place of
// whatever records it had (the first half of a key change); any other error stops the run.
func (s *encodeStage) fail(ctx context.Context, it *staged, c *decoder.Change, err error, b *batch) {
	se, ok := poison(err)
	if !ok || s.cfg.policy == PolicyFail {
		it.err = err
		return
	}
	for _, r := range b.recs[it.lo:] {
		b.bytes -= len(r.Key) + len(r.Value)
	}
	clear(b.recs[it.lo:])
	b.recs = b.recs[:it.lo]
	op := decoder.Op(0)
	if c != nil {
		op = c.Op
	}
	_, tooLarge := errors.AsType[*RecordTooLargeError](err)
	it.fault = &fault{stage: se.Stage, err: se.Err, table: tableName(c), op: op}
	if s.cfg.policy == PolicyDLQ {
		// The change as the source gave it: the transforms' output may be what failed. A
		// record too large for its topic has its large values left out, and so has any
		// dead letter too large for the dead-letter topic.
		var r *kgo.Record
		if !tooLarge && s.deadLetterMayFit(ctx, c) {
			r = deadLetter(s.cfg.dlqTopic, c, it.fault, 0)
		}
		if r == nil || !s.deadLetterFits(ctx, r) {
			r = deadLetter(s.cfg.dlqTopic, c, it.fault, maxDeadLetterValueText)
		}
		b.recs = append(b.recs, r)
		b.bytes += len(r.Key) + len(r.Value)
	}
}

// deadLetterFits tells whether the dead-letter record r, with the position header the Kafka
// stage adds, fits the dead-letter topic; it says yes when the limit cannot be read, for the
// produce to tell.
func (s *encodeStage) deadLetterFits(ctx context.Context, r *kgo.Record) bool {
	if s.limits == nil {
		return true
	}
	lim, err := s.limits.of(ctx, r.Topic)
	if err != nil {
		return true
	}
	const positionHeader = 16 + 1024 // the header's name, and a generous source position
	return batchSize(r.Key, r.Value, r.Headers)+positionHeader <= lim.least().bytes
}

// deadLetterMayFit tells whether the dead letter of c, with all its values, may fit the
// dead-letter topic, from the size of its values' text before it is written: a change of huge
// values is not rendered in full (a bytea's hex is twice its size) only to be thrown away.
func (s *encodeStage) deadLetterMayFit(ctx context.Context, c *decoder.Change) bool {
	if s.limits == nil || c == nil {
		return true
	}
	lim, err := s.limits.of(ctx, s.cfg.dlqTopic)
	if err != nil {
		return true
	}
	return format.DeadLetterTextSize(c) <= lim.least().bytes
}

// fits returns a *RecordTooLargeError, as a produce StageError, when the data record of change
// c does not fit its topic; any other error is ctx's.
func (s *encodeStage) fits(ctx context.Context, c *decoder.Change, topic string, key, value []byte, headers []kgo.RecordHeader) error {
	if s.limits == nil {
		return nil
	}
	lim, err := s.limits.of(ctx, topic)
	if err != nil {
		return stageError(StageProduce, err)
	}
	size, over := batchSize(key, value, headers), recordLimit{}
	switch {
	case size > lim.producer.bytes: // the client measures the record as it is
		over = lim.producer
	case s.limits.buffered > 0 && userSize(key, value, headers) > s.limits.buffered:
		size, over = userSize(key, value, headers), recordLimit{bytes: s.limits.buffered, why: "the producer buffer (producer_buffer_bytes)"}
	case lim.broker.bytes > 0 && size > lim.broker.bytes:
		// The broker measures the batch as compressed: a compressible record may still fit.
		if s.limits.compressor == nil {
			over = lim.broker
		} else if s.limits.compressedSize(key, value, headers, lim.broker.bytes) > lim.broker.bytes {
			over = recordLimit{bytes: lim.broker.bytes, why: lim.broker.why + " (even compressed)"}
		}
	}
	if over.bytes == 0 {
		return nil
	}
	keyText := "null"
	if k := format.DeadLetterKey(c); k != nil {
		keyText = string(k)
		if len(keyText) > maxKeyText {
			keyText = keyText[:maxKeyText] + "..."
		}
	}
	return stageError(StageProduce, &RecordTooLargeError{Table: tableName(c), Key: keyText, Topic: topic,
		Size: size, Limit: over.bytes, Why: over.why})
}

// rekey applies the message key columns (MessageKeyColumns) to c, if any are set.
func (s *encodeStage) rekey(c *decoder.Change) (*decoder.Change, error) {
	if s.cfg.keyColumns == nil {
		return c, nil
	}
	return s.cfg.keyColumns.Apply(c)
}

// record runs one change through the transform chain and the encoder and appends its
// records: the value record unless the chain made a delete its tombstone alone, then the
// tombstone when the chain or the pipeline's setting asks for one and there is a key.
func (s *encodeStage) record(ctx context.Context, c *decoder.Change, b *batch) error {
	if s.cfg.skipped.skip[c.Op] {
		return nil // skipped_operations: seen, as a change the chain drops
	}
	rec := &s.rec
	rec.Reset(c, s.cfg.topicPrefix)
	out, err := s.cfg.chain.ApplyRecord(rec)
	if err != nil {
		return stageError(StageTransform, fmt.Errorf("change of %s: %w", tableName(c), err))
	}
	if out == nil {
		return nil // dropped; it still counts as seen, the source skips it on resume
	}
	var (
		topic      string
		key, value []byte
	)
	event := s.tx != nil && counted(out)
	if event {
		// The block counts the source table c's, whatever the chain made of the change.
		topic, key, value, err = s.tx.enc.EncodeRecordInTransaction(ctx, out, s.tx.next(tableName(c)))
	} else {
		topic, key, value, err = s.p.enc.EncodeRecord(ctx, out)
	}
	if err != nil {
		return stageError(StageEncode, fmt.Errorf("change of %s: %w", tableName(out.Change), err))
	}
	if event && !s.tx.begun {
		btopic, bkey, bvalue, err := s.tx.beginRecord(ctx)
		if err != nil {
			return err
		}
		s.add(b, btopic, bkey, bvalue, nil)
	}
	headers := kafkaHeaders(out.Headers)
	// A delete's value and tombstone are no larger than its record with the value.
	if err := s.fits(ctx, c, topic, key, value, headers); err != nil {
		return err
	}
	if !out.Timestamp.IsZero() { // a transform chose the records' time (the outbox router)
		lo := len(b.recs)
		defer func() {
			for _, r := range b.recs[lo:] {
				r.Timestamp = out.Timestamp
			}
		}()
	}
	if out.Change.Op != decoder.OpDelete {
		s.add(b, topic, key, value, headers)
		return nil
	}
	var tombstone bool
	switch out.Tombstone {
	case transform.TombstoneOnly:
		value, tombstone = nil, true
	case transform.TombstoneNever:
	case transform.TombstoneAlways:
		tombstone = true
	default:
		tombstone = s.cfg.tombstones == TombstonesOn
	}
	if value != nil {
		s.add(b, topic, key, value, headers)
	}
	if tombstone && key != nil {
		s.add(b, topic, key, nil, headers)
	}
	return nil
}

// kafkaHeaders copies a record's headers for the Kafka client; nil when there are none. The
// value record and its tombstone share the slice, which nobody modifies.
func kafkaHeaders(hs []transform.Header) []kgo.RecordHeader {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return out
}

func (s *encodeStage) add(b *batch, topic string, key, value []byte, headers []kgo.RecordHeader) {
	b.recs = append(b.recs, &kgo.Record{Topic: topic, Key: key, Value: value, Headers: headers})
	b.bytes += len(key) + len(value)
}

func tableName(c *decoder.Change) string { return format.TableName(c) }
