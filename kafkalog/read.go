package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ReadToEnd reads partition 0 of topic from its start to its end as it is when the call begins,
// and calls apply with each record codec decodes (not those it skips with [ErrSkip]), in order.
// It stops at apply's first error and returns it. A missing topic, or one whose records are all
// deleted, reads as empty. kafka configures the client it opens for the read (seed brokers,
// TLS...); it must not set a group or a transactional id.
//
// It lists the partition's end (high watermark) first, waits until every transaction below it
// is decided (the last stable offset has reached it), then reads with isolation read_committed
// from the start up to it, so it does not wait for records written after the call. The waiting
// matters when writers share the partition: reading only up to the current stable offset would
// stop at another writer's open transaction and miss later commits (for the offsets topic,
// resuming from an older offset would write changes twice). A writer's open transaction ends
// within its linger when it is alive, and by its transaction timeout or its successor's fencing
// when it is not. Control records (commit and abort markers) and the log start are followed, so
// that a log ending with a marker, with aborted records or with a compacted gap is read to its
// end.
func ReadToEnd[E any](ctx context.Context, kafka []kgo.Opt, topic string, codec Codec[E], apply func(Entry[E]) error) error {
	all := make([]kgo.Opt, 0, len(kafka)+3)
	all = append(all, kafka...)
	all = append(all,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
	)
	client, err := kgo.NewClient(all...)
	if err != nil {
		return &OptionsError{Err: err}
	}
	defer client.Close()

	adm := kadm.NewClient(client)
	end, err := endOffset(ctx, adm, topic)
	if err != nil || end == 0 {
		return err
	}
	if err := waitStable(ctx, adm, topic, end); err != nil {
		return err
	}
	next := int64(0)
	for next < end {
		fetches := client.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			return fmt.Errorf("kafkalog: reading topic %s: %w", topic, err)
		}
		for _, fe := range fetches.Errors() {
			return fmt.Errorf("kafkalog: reading topic %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			// Compaction leaves gaps: the log start and the records tell how far the read got.
			next = max(next, p.LogStartOffset)
		})
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			next = max(next, r.Offset+1)
			if r.Offset >= end || r.Attrs.IsControl() {
				continue // written after the read began, or a transaction marker
			}
			v, err := codec.Decode(r.Key, r.Value)
			if errors.Is(err, ErrSkip) {
				continue
			}
			if err := apply(Entry[E]{Offset: r.Offset, Value: v, Err: err}); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitStable polls the last stable offset of partition 0 of topic until it reaches end, that is
// until no transaction below end is still open.
func waitStable(ctx context.Context, adm *kadm.Client, topic string, end int64) error {
	pause := 10 * time.Millisecond
	for {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("kafkalog: listing the stable end of topic %s: %w", topic, err)
		}
		if o, ok := stable.Lookup(topic, 0); ok && o.Err == nil && o.Offset >= end {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkalog: waiting for the open transactions of topic %s to end: %w", topic, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// endOffset returns the high watermark of partition 0 of topic, 0 when the topic does not
// exist or holds nothing any more.
func endOffset(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("kafkalog: listing the end of topic %s: %w", topic, err)
	}
	if _, ok := ends.Lookup(topic, -1); ok {
		return 0, nil // the topic does not exist: nothing stored yet
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok {
		return 0, fmt.Errorf("kafkalog: topic %s has no partition 0", topic)
	}
	if end.Err != nil {
		return 0, fmt.Errorf("kafkalog: listing the end of topic %s: %w", topic, end.Err)
	}
	if end.Offset <= 0 {
		return 0, nil
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("kafkalog: listing the start of topic %s: %w", topic, err)
	}
	if start, ok := starts.Lookup(topic, 0); ok && start.Err == nil && start.Offset >= end.Offset {
		return 0, nil // everything was deleted
	}
	return end.Offset, nil
}
