package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Registry is a Confluent-compatible schema registry whose state lives in a compacted Kafka
// topic. Open loads the topic before returning; Handler serves the HTTP API; Close stops it.
// All methods are safe for concurrent use.
type Registry struct {
	cfg    config
	client *kgo.Client

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

	stopReader context.CancelFunc
	readerDone chan struct{}
	closeOnce  sync.Once
}

// Open connects to Kafka, creates the schemas topic if it is missing (one partition,
// cleanup.policy=compact), reads it up to its end, and returns a Registry ready to serve. ctx
// bounds this start; the reader that keeps following the topic afterwards (so that schemas
// registered by another process sharing the topic are seen) runs until Close.
func Open(ctx context.Context, opts ...Option) (*Registry, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Ours come last so that they win: the registry's correctness rests on them.
	kopts := slices.Clone(cfg.clientOpts)
	if len(cfg.brokers) > 0 {
		kopts = append(kopts, kgo.SeedBrokers(cfg.brokers...))
	}
	kopts = append(kopts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	client, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("embedded registry: creating Kafka client: %w", err)
	}
	r := &Registry{
		cfg:        cfg,
		client:     client,
		st:         newState(),
		changed:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	end, err := r.prepareTopic(ctx)
	if err != nil {
		client.Close()
		return nil, err
	}
	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{
		cfg.topic: {0: kgo.NewOffset().AtStart()},
	})
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
		r.client.Close()
	})
}

// prepareTopic creates the topic if needed, checks that it can hold the registry, and returns
// its end offset: the registry is ready once every record before it is applied.
func (r *Registry) prepareTopic(ctx context.Context) (int64, error) {
	adm := kadm.NewClient(r.client)
	topic := r.cfg.topic
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, 1, r.cfg.replicationFactor, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("embedded registry: creating topic %s: %w", topic, err)
	}
	var end int64
	// A topic just created may not be known to every broker yet: retry what is retriable.
	err = retry(ctx, func() error {
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		td, ok := details[topic]
		if !ok {
			return kerr.UnknownTopicOrPartition
		}
		if td.Err != nil {
			return td.Err
		}
		if n := len(td.Partitions); n != 1 {
			return fmt.Errorf("%w: topic %s has %d partitions, want 1", ErrBadTopic, topic, n)
		}
		configs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return err
		}
		rc, err := configs.On(topic, nil)
		if err != nil {
			return err
		}
		if rc.Err != nil {
			return rc.Err
		}
		if policy := configValueOf(rc.Configs, "cleanup.policy"); !strings.Contains(policy, "compact") {
			return fmt.Errorf("%w: topic %s has cleanup.policy=%q, want compact", ErrBadTopic, topic, policy)
		}
		offsets, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		o, ok := offsets.Lookup(topic, 0)
		if !ok {
			return kerr.UnknownTopicOrPartition
		}
		if o.Err != nil {
			return o.Err
		}
		end = o.Offset
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("embedded registry: checking topic %s: %w", topic, err)
	}
	return end, nil
}

func configValueOf(configs []kadm.Config, key string) string {
	for _, c := range configs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// retry calls fn until it succeeds, fails with an error Kafka does not call retriable, or ctx
// ends.
func retry(ctx context.Context, fn func() error) error {
	pause := 20 * time.Millisecond
	for {
		err := fn()
		if err == nil || !kerr.IsRetriable(err) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
	}
}

// read applies the records of the topic, in order, until ctx ends.
func (r *Registry) read(ctx context.Context) {
	defer close(r.readerDone)
	for {
		fetches := r.client.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			r.mu.Lock()
			r.readErr = ErrClosed
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			// franz-go retries what can be retried; what reaches here is worth a look, but
			// the reader goes on: the next poll resumes from the same offset.
			r.cfg.logger.Warn("embedded registry: fetching schemas topic",
				"topic", topic, "partition", partition, "error", err)
		})
		r.mu.Lock()
		fetches.EachRecord(func(kr *kgo.Record) {
			r.applyLocked(kr)
			r.next = kr.Offset + 1
		})
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

// applyLocked applies one record of the topic; r.mu is held. A record that cannot be applied is
// skipped, as Confluent's reader does: the rest of the registry stays usable.
func (r *Registry) applyLocked(kr *kgo.Record) {
	rec, ok, err := decodeRecord(kr.Key, kr.Value)
	if err == nil && ok {
		err = r.st.apply(rec)
	}
	if err != nil {
		r.cfg.logger.Warn("embedded registry: skipping record", "topic", kr.Topic, "offset", kr.Offset, "error", err)
	}
}

// waitApplied returns once every record before offset end has been applied.
func (r *Registry) waitApplied(ctx context.Context, end int64) error {
	for {
		r.mu.RLock()
		next, changed, readErr := r.next, r.changed, r.readErr
		r.mu.RUnlock()
		if next >= end {
			return nil
		}
		if readErr != nil {
			return readErr
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
	krs := make([]*kgo.Record, 0, len(recs))
	for _, rec := range recs {
		key, value, err := rec.encode()
		if err != nil {
			return err
		}
		krs = append(krs, &kgo.Record{Topic: r.cfg.topic, Partition: 0, Key: key, Value: value})
	}
	results := r.client.ProduceSync(ctx, krs...)
	if err := results.FirstErr(); err != nil {
		return fmt.Errorf("producing to %s: %w", r.cfg.topic, err)
	}
	var last int64
	for _, pr := range results {
		last = max(last, pr.Record.Offset)
	}
	return r.waitApplied(ctx, last+1)
}
