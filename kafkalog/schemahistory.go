package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file reads the MySQL source's schema history back (the source's HistoryReader). The
// pipeline writes the history, in the Kafka transactions of the changes around it, and creates
// its topic from the source's declaration; the source decodes and checks the records.

// SchemaHistoryReader reads a schema history topic as a read_committed consumer, to the stable
// end; it implements connectors/mysql's HistoryReader. Each read uses a Kafka client of its
// own, closed when the read returns.
type SchemaHistoryReader struct {
	opts []kgo.Opt
}

// NewSchemaHistoryReader returns a reader whose Kafka clients use opts: at least the seed
// brokers, and TLS or SASL as the pipeline's. They must not set a transactional ID, a consumer
// group or topics to consume.
func NewSchemaHistoryReader(opts ...kgo.Opt) *SchemaHistoryReader {
	return &SchemaHistoryReader{opts: append([]kgo.Opt(nil), opts...)}
}

// historyOptionsError is a Kafka client that cannot be built from the reader's options: the
// same options fail the same way at every restart, so it says it is not retryable (the
// pipeline's IsRetryable asks).
type historyOptionsError struct{ err error }

func (e *historyOptionsError) Error() string {
	return "kafka: invalid Kafka client options: " + e.err.Error()
}
func (e *historyOptionsError) Unwrap() error   { return e.err }
func (e *historyOptionsError) Retryable() bool { return false }

// ReadHistory calls fn with the offset, key and value of each committed record of partition 0
// of topic, in order. Like offsets.ReadCommitted it lists the end first, waits until every
// transaction below it is decided (the last stable offset reaches it: the source reads after
// the pipeline's producer fenced the previous owner, whose open transaction is then aborted),
// and reads read_committed up to it. An error of fn ends the read and is returned as it is.
func (r *SchemaHistoryReader) ReadHistory(ctx context.Context, topic string, fn func(offset int64, key, value []byte) error) error {
	all := append(append([]kgo.Opt{}, r.opts...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records are kept so that a log ending with a commit marker or aborted
		// records still shows its last offset.
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
	)
	client, err := kgo.NewClient(all...)
	if err != nil {
		return &historyOptionsError{err: err}
	}
	defer client.Close()
	end, err := historyStableEnd(ctx, kadm.NewClient(client), topic)
	if err != nil || end <= 0 {
		return err
	}
	for {
		fetches := client.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			return fmt.Errorf("reading the schema history topic %s: %w", topic, err)
		}
		for _, fe := range fetches.Errors() {
			return fmt.Errorf("reading the schema history topic %s: %w", topic, fe.Err)
		}
		done := false
		for it := fetches.RecordIter(); !it.Done(); {
			rec := it.Next()
			if rec.Offset >= end-1 {
				done = true
			}
			if rec.Offset >= end || rec.Attrs.IsControl() {
				continue
			}
			if err := fn(rec.Offset, rec.Key, rec.Value); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// historyStableEnd returns the end offset of partition 0 of topic, once the last stable offset
// has reached it (every transaction below it decided).
func historyStableEnd(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("listing the end of the schema history topic %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok || end.Err != nil {
		return 0, fmt.Errorf("the schema history topic %s has no readable partition 0 (the pipeline creates it before the source streams): %w",
			topic, historyPartitionErr(end.Err))
	}
	if end.Offset <= 0 {
		return 0, nil
	}
	for pause := 10 * time.Millisecond; ; pause = min(2*pause, 500*time.Millisecond) {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return 0, fmt.Errorf("listing the stable end of the schema history topic %s: %w", topic, err)
		}
		if o, ok := stable.Lookup(topic, 0); ok && o.Err == nil && o.Offset >= end.Offset {
			return end.Offset, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting for the open transactions of %s to end: %w", topic, ctx.Err())
		case <-time.After(pause):
		}
	}
}

// errHistoryNoPartition stands for the cause of a partition 0 missing from the listing without
// an error of its own.
var errHistoryNoPartition = errors.New("no such partition")

func historyPartitionErr(err error) error {
	if err == nil {
		return errHistoryNoPartition
	}
	return err
}
