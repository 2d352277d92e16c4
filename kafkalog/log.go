package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/offsets"
)

// ErrSkip is returned by [Codec.Decode] for a record its user does not read (another kind of
// record sharing the topic, another connector's): it is passed over without a word.
var ErrSkip = errors.New("kafkalog: record skipped")

// ErrLogClosed is returned by [Log.Follow] when the log was closed under it.
var ErrLogClosed = errors.New("kafkalog: log closed")

// OptionsError is a Kafka client that cannot be built from the caller's options: the same
// options fail the same way at every restart, so it says it is not retryable (the engine's
// IsRetryable asks), and the connector stops with it instead of retrying forever.
type OptionsError struct {
	// Err is franz-go's error.
	Err error
}

func (e *OptionsError) Error() string {
	return "kafkalog: invalid Kafka client options: " + e.Err.Error()
}

// Unwrap returns Err.
func (e *OptionsError) Unwrap() error { return e.Err }

// Retryable is false: see OptionsError.
func (e *OptionsError) Retryable() bool { return false }

// ErrInvalidLog means the options given to [Open] are missing or contradictory.
var ErrInvalidLog = errors.New("kafkalog: invalid log options")

// Codec turns a user's entries into the keys and values of a log's records and back. It does
// no I/O and is called from one goroutine at a time per read or write.
type Codec[E any] interface {
	// Encode returns the key and value of the record that stores e; a nil value is a tombstone.
	// Its error is returned by [Log.Write] as it is.
	Encode(e E) (key, value []byte, err error)
	// Decode returns the entry a record stores; value is nil for a tombstone. It returns
	// [ErrSkip] for a record its user does not read. Another error means the record is
	// unreadable: it reaches the reader as [Entry.Err], with what Decode could read (its key,
	// say) as the entry, for the user to judge (fail, skip, or mark what it names as broken).
	// The slices belong to the record and may be kept.
	Decode(key, value []byte) (E, error)
}

// Entry is one record of a log, decoded.
type Entry[E any] struct {
	// Offset is the record's offset in partition 0.
	Offset int64
	// Value is what the codec decoded, or what it could read when Err is set.
	Value E
	// Err is the codec's error when the record is unreadable, nil otherwise.
	Err error
}

// Options configure a [Log].
type Options struct {
	// Topic is the log's topic, created by [Open] when missing and checked as it says.
	Topic Topic
	// TransactionalID, when set, makes [Log.Write] commit each call's records in one Kafka
	// transaction of a producer with this id, which [Open] initialises: that fences the id's
	// earlier producers and aborts what they left open. Empty, writes go through an idempotent
	// producer (acks=all).
	TransactionalID string
}

// Log is one topic read and written as a log through its partition 0, its records decoded and
// encoded by a [Codec]. [Open] makes it (the zero Log is a closed one); its methods are safe for
// concurrent use; Close releases it.
type Log[E any] struct {
	kafka  []kgo.Opt
	opts   Options
	codec  Codec[E]
	client *kgo.Client
	// txMu makes the transactions of a transactional log one at a time.
	txMu      sync.Mutex
	following atomic.Bool
}

// Open returns the log of o.Topic: it builds its Kafka client from kafka (the caller's options:
// seed brokers, TLS, SASL...; group and transactional options are not allowed) and the log's own
// (acks=all, no linger, partition 0, read_committed), initialises the transactional producer
// when o.TransactionalID is set, then creates the topic when it is missing and checks an
// existing one as o.Topic.Check says. ctx bounds these steps.
func Open[E any](ctx context.Context, kafka []kgo.Opt, codec Codec[E], o Options) (*Log[E], error) {
	switch {
	case codec == nil:
		return nil, fmt.Errorf("%w: no codec", ErrInvalidLog)
	case !offsets.ValidTopic(o.Topic.Name):
		return nil, fmt.Errorf("%w: %q is not a Kafka topic name", ErrInvalidLog, o.Topic.Name)
	case o.Topic.Partitions < 0:
		return nil, fmt.Errorf("%w: topic %s with %d partitions", ErrInvalidLog, o.Topic.Name, o.Topic.Partitions)
	case o.Topic.Replication < -1:
		return nil, fmt.Errorf("%w: topic %s with replication factor %d", ErrInvalidLog, o.Topic.Name, o.Topic.Replication)
	}
	// Ours come last so that they win: the log's correctness rests on them.
	all := append(slices.Clone(kafka),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		// A follower sees another process's writes within this.
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if o.TransactionalID != "" {
		all = append(all, kgo.TransactionalID(o.TransactionalID))
	}
	client, err := kgo.NewClient(all...)
	if err != nil {
		return nil, &OptionsError{Err: err}
	}
	if o.TransactionalID != "" {
		if _, _, err := client.ProducerID(ctx); err != nil {
			client.Close()
			return nil, fmt.Errorf("kafkalog: initialising the transactional producer %s: %w", o.TransactionalID, err)
		}
	}
	if err := EnsureTopic(ctx, client, o.Topic); err != nil {
		client.Close()
		return nil, err
	}
	return &Log[E]{kafka: slices.Clone(kafka), opts: o, codec: codec, client: client}, nil
}

// Close releases the log's Kafka client; a [Log.Follow] going on returns [ErrLogClosed], and
// later writes fail.
func (l *Log[E]) Close() {
	if l.client != nil {
		l.client.Close()
	}
}

// Topic returns the name of the log's topic.
func (l *Log[E]) Topic() string { return l.opts.Topic.Name }

// ReadToEnd reads the log from its start to its stable end, as the function [ReadToEnd] does
// (with a client of its own, so that it may run beside Write and Follow).
func (l *Log[E]) ReadToEnd(ctx context.Context, apply func(Entry[E]) error) error {
	if l.client == nil || l.codec == nil {
		return ErrLogClosed
	}
	return ReadToEnd(ctx, l.kafka, l.opts.Topic.Name, l.codec, apply)
}

// End returns the offset after the last record of the log (its high watermark), 0 when the topic
// is missing or holds nothing any more: a follower has read everything written before the call
// once its next offset reaches it.
func (l *Log[E]) End(ctx context.Context) (int64, error) {
	if l.client == nil {
		return 0, ErrLogClosed
	}
	return endOffset(ctx, kadm.NewClient(l.client), l.opts.Topic.Name)
}

// Write appends the records of entries, in order, to partition 0 and returns once the brokers
// hold them all (acks=all), with the offset after the last one: a follower has read them once
// its next offset reaches it. A transactional log writes them in one transaction, committed
// before Write returns; when it fails, the transaction is aborted and none of them is visible
// to read_committed readers.
func (l *Log[E]) Write(ctx context.Context, entries ...E) (int64, error) {
	if l.client == nil || l.codec == nil {
		return 0, ErrLogClosed
	}
	recs := make([]*kgo.Record, 0, len(entries))
	for _, e := range entries {
		key, value, err := l.codec.Encode(e)
		if err != nil {
			return 0, err
		}
		recs = append(recs, &kgo.Record{Topic: l.opts.Topic.Name, Partition: 0, Key: key, Value: value})
	}
	if len(recs) == 0 {
		return 0, nil
	}
	topic := l.opts.Topic.Name
	if l.opts.TransactionalID == "" {
		results := l.client.ProduceSync(ctx, recs...)
		if err := results.FirstErr(); err != nil {
			return 0, fmt.Errorf("kafkalog: writing to %s: %w", topic, err)
		}
		return nextOffset(results), nil
	}

	l.txMu.Lock()
	defer l.txMu.Unlock()
	if err := l.client.BeginTransaction(); err != nil {
		return 0, fmt.Errorf("kafkalog: beginning a transaction on %s: %w", topic, err)
	}
	results := l.client.ProduceSync(ctx, recs...)
	if err := results.FirstErr(); err != nil {
		// The abort is best effort: the next InitProducerID of this id aborts it anyway.
		abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = l.client.EndTransaction(abortCtx, kgo.TryAbort)
		cancel()
		return 0, fmt.Errorf("kafkalog: writing to %s: %w", topic, err)
	}
	if err := l.client.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return 0, fmt.Errorf("kafkalog: committing a transaction on %s: %w", topic, err)
	}
	return nextOffset(results), nil
}

func nextOffset(results kgo.ProduceResults) int64 {
	var last int64
	for _, pr := range results {
		last = max(last, pr.Record.Offset)
	}
	return last + 1
}

// Follow reads the log from its start and goes on reading what is written after, until ctx
// ends (it returns ctx's error) or the log is closed ([ErrLogClosed]). For each fetch it calls
// apply with its entries, in order (none when the fetch held only skipped or control records),
// and next: the offset after the last record read, control records and compacted gaps included,
// so that a caller waiting for an offset of [Log.End] or [Log.Write] knows when it is read. A
// fetch error the client goes on from (franz-go retries what it can; the next fetch resumes
// where this one stopped) goes to fetchErr, nil to ignore it. Follow may be called once per
// Log; apply runs on Follow's goroutine.
func (l *Log[E]) Follow(ctx context.Context, apply func(entries []Entry[E], next int64), fetchErr func(error)) error {
	if l.client == nil || l.codec == nil {
		return ErrLogClosed
	}
	if !l.following.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: the log of %s is already followed", ErrInvalidLog, l.opts.Topic.Name)
	}
	topic := l.opts.Topic.Name
	l.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})
	next := int64(0)
	for {
		fetches := l.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fetches.IsClientClosed() {
			return ErrLogClosed
		}
		fetches.EachError(func(_ string, _ int32, err error) {
			if fetchErr != nil {
				fetchErr(err)
			}
		})
		var entries []Entry[E]
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.Err == nil {
				next = max(next, p.LogStartOffset)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			next = max(next, r.Offset+1)
			if r.Attrs.IsControl() {
				return
			}
			v, err := l.codec.Decode(r.Key, r.Value)
			if errors.Is(err, ErrSkip) {
				return
			}
			entries = append(entries, Entry[E]{Offset: r.Offset, Value: v, Err: err})
		})
		apply(entries, next)
	}
}

// NewClient returns a Kafka client built from kafka (the caller's options: seed brokers, TLS,
// SASL...) and more, for what is not a log: an admin's checks, the tail command's consumer.
// Every client of the daemon but the pipeline's transactional producer is built in this
// package, so that a setting every client needs reaches them all from the one set of options.
func NewClient(kafka []kgo.Opt, more ...kgo.Opt) (*kgo.Client, error) {
	client, err := kgo.NewClient(append(slices.Clone(kafka), more...)...)
	if err != nil {
		return nil, &OptionsError{Err: err}
	}
	return client, nil
}
