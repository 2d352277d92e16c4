package schemaregistry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/kafkalog"
)

// Registry is a Confluent-compatible schema registry whose state lives in a compacted Kafka
// topic. Open loads the topic before returning; Handler serves the HTTP API; Close stops it.
// All methods are safe for concurrent use.
type Registry struct {
	cfg config
	log *kafkalog.Log[record]

	// writeMu makes the writes of this process one at a time, each from computing the record
	// to reading it back, so that two requests never pick the same id or version.
	writeMu sync.Mutex

	// mu guards the fields below it, which the topic reader changes.
	mu sync.RWMutex
	st *state
	// next is the offset of the next record the reader will apply: every record below it is
	// in st.
	next int64
	// changed is closed and replaced each time the reader advances.
	changed chan struct{}
	// readErr is set when the reader has stopped.
	readErr error
	// denied is Kafka's refusal of the reader's fetches (a missing READ ACL), nil once a fetch
	// succeeds again: a wait for the reader fails with it rather than waiting for an operator.
	denied error

	stopReader context.CancelFunc
	readerDone chan struct{}
	closeOnce  sync.Once
}

// Open connects to Kafka, creates the schemas topic if it is missing (one partition,
// cleanup.policy=compact) or checks that an existing one is so, reads it up to its end, and
// returns a Registry ready to serve. ctx bounds this start; the reader that keeps following the
// topic afterwards (so that schemas registered by another process sharing the topic are seen)
// runs until Close.
func Open(ctx context.Context, opts ...Option) (*Registry, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	topic := kafkalog.CompactedTopic(cfg.topic)
	topic.Replication = cfg.replicationFactor
	topic.Check = kafkalog.TopicMustMatch
	kopts := slices.Clone(cfg.clientOpts)
	if len(cfg.brokers) > 0 {
		kopts = append(kopts, kgo.SeedBrokers(cfg.brokers...))
	}
	log, err := kafkalog.Open(ctx, kopts, recordCodec{}, kafkalog.Options{Topic: topic})
	if err != nil {
		if errors.Is(err, kafkalog.ErrTopicMismatch) {
			return nil, fmt.Errorf("%w: %w", ErrBadTopic, err)
		}
		return nil, fmt.Errorf("embedded registry: %w", err)
	}
	r := &Registry{
		cfg:        cfg,
		log:        log,
		st:         newState(),
		changed:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	// The registry is ready once every record before the end is applied.
	end, err := log.End(ctx)
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("embedded registry: %w", err)
	}
	readCtx, stop := context.WithCancel(context.Background())
	r.stopReader = stop
	go r.read(readCtx)
	if err := r.waitApplied(ctx, end); err != nil {
		r.Close()
		return nil, fmt.Errorf("embedded registry: loading topic %s up to offset %d: %w", cfg.topic, end, err)
	}
	return r, nil
}

// Close stops the topic reader and closes the Kafka client. Writes served after Close fail with
// a store error (50001); reads answer the state as it was.
func (r *Registry) Close() {
	r.closeOnce.Do(func() {
		if r.stopReader != nil {
			r.stopReader()
			<-r.readerDone
		}
		r.log.Close()
	})
}

// read applies the records of the topic, in order, until ctx ends.
func (r *Registry) read(ctx context.Context) {
	defer close(r.readerDone)
	_ = r.log.Follow(ctx, func(entries []kafkalog.Entry[record], next int64) {
		r.mu.Lock()
		for _, e := range entries {
			r.applyLocked(e)
		}
		r.next = next
		r.denied = nil
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}, func(err error) {
		// franz-go retries what can be retried; what reaches here is worth a look, but
		// the reader goes on: the next poll resumes from the same offset.
		r.cfg.logger.Warn("embedded registry: fetching schemas topic",
			"topic", r.cfg.topic, "partition", 0, "error", err)
		if errors.Is(err, kerr.TopicAuthorizationFailed) {
			r.mu.Lock()
			r.denied = fmt.Errorf("reading topic %s: %w", r.cfg.topic, err)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
	})
	r.mu.Lock()
	r.readErr = ErrClosed
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// applyLocked applies one record of the topic; r.mu is held. A record that cannot be applied is
// skipped, as Confluent's reader does: the rest of the registry stays usable.
func (r *Registry) applyLocked(e kafkalog.Entry[record]) {
	err := e.Err
	if err == nil {
		err = r.st.apply(e.Value)
	}
	if err != nil {
		r.cfg.logger.Warn("embedded registry: skipping record", "topic", r.cfg.topic, "offset", e.Offset, "error", err)
	}
}

// waitApplied returns once every record before offset end has been applied.
func (r *Registry) waitApplied(ctx context.Context, end int64) error {
	for {
		r.mu.RLock()
		next, changed, readErr, denied := r.next, r.changed, r.readErr, r.denied
		r.mu.RUnlock()
		if next >= end {
			return nil
		}
		if readErr != nil {
			return readErr
		}
		if denied != nil {
			return denied
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the schemas topic reader: %w", ctx.Err())
		}
	}
}

// write produces recs, waits for the broker's acknowledgement (acks=all) and then for the reader
// to apply them, so that the state answered afterwards is the topic's. The caller holds
// writeMu.
func (r *Registry) write(ctx context.Context, recs ...record) error {
	next, err := r.log.Write(ctx, recs...)
	if err != nil {
		return fmt.Errorf("producing to %s: %w", r.cfg.topic, err)
	}
	return r.waitApplied(ctx, next)
}
