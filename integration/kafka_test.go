package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaReadCommittedSeesOnlyCommittedTransactions proves the stack's Kafka serves what the
// delivery protocol stands on: one transaction committed, one aborted, one committed after it;
// a read_committed consumer sees exactly the committed records, while a read_uncommitted one
// also sees the aborted record, so the abort really reached the log.
func TestKafkaReadCommittedSeesOnlyCommittedTransactions(t *testing.T) {
	topic := NewKafkaTopic(t, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	producer := NewKafkaClient(t,
		kgo.TransactionalID(Name(t, "txn")),
		kgo.DefaultProduceTopic(topic),
	)
	transact := func(end kgo.TransactionEndTry, values ...string) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("beginning a transaction: %v", err)
		}
		records := make([]*kgo.Record, len(values))
		for i, v := range values {
			records[i] = kgo.StringRecord(v)
		}
		if err := producer.ProduceSync(ctx, records...).FirstErr(); err != nil {
			t.Fatalf("producing %v: %v", values, err)
		}
		if err := producer.EndTransaction(ctx, end); err != nil {
			t.Fatalf("ending the transaction of %v: %v", values, err)
		}
	}
	transact(kgo.TryCommit, "committed-1", "committed-2")
	transact(kgo.TryAbort, "aborted-1")
	transact(kgo.TryCommit, "committed-3")

	// committed-3 is the last record produced, so a consumer that has seen it has seen all.
	committed := consumeUntil(ctx, t, topic, kgo.ReadCommitted(), "committed-3")
	if want := []string{"committed-1", "committed-2", "committed-3"}; !slices.Equal(committed, want) {
		t.Errorf("read_committed consumer saw %q, want %q", committed, want)
	}
	uncommitted := consumeUntil(ctx, t, topic, kgo.ReadUncommitted(), "committed-3")
	if !slices.Contains(uncommitted, "aborted-1") {
		t.Errorf("read_uncommitted consumer saw %q, which lacks the aborted record", uncommitted)
	}
}

// consumeUntil reads topic from its start at the given isolation level and returns the record
// values up to and including last.
func consumeUntil(ctx context.Context, t *testing.T, topic string, isolation kgo.IsolationLevel, last string) []string {
	t.Helper()
	consumer := NewKafkaClient(t,
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(isolation),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	var values []string
	for {
		fetches := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s: saw %q before the deadline, never %q", topic, values, last)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("consuming %s: %v", topic, errs[0].Err)
		}
		for _, r := range fetches.Records() {
			values = append(values, string(r.Value))
			if string(r.Value) == last {
				return values
			}
		}
	}
}
