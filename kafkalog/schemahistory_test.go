package kafkalog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// historyTestTxn writes records of (key, value) pairs to topic in one transaction, committed
// or aborted.
func historyTestTxn(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, commit kgo.TransactionEndTry, kv ...string) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for i := 0; i < len(kv); i += 2 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(kv[i]), Value: []byte(kv[i+1])}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	if err := cl.EndTransaction(ctx, commit); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}

// historyRead reads topic with r, returning "offset key=value" for each record.
func historyRead(ctx context.Context, r *kafkalog.SchemaHistoryReader, topic string) ([]string, error) {
	var got []string
	err := r.ReadHistory(ctx, topic, func(offset int64, key, value []byte) error {
		got = append(got, fmt.Sprintf("%d %s=%s", offset, key, value))
		return nil
	})
	return got, err
}

func TestSchemaHistoryReaderReadsCommittedRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	opts := newCluster(t)
	const topic = "conn.schema-history"
	if _, err := kadm.NewClient(newClient(t, opts)).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	r := kafkalog.NewSchemaHistoryReader(opts...)
	if got, err := historyRead(ctx, r, topic); err != nil || len(got) != 0 {
		t.Fatalf("empty topic: %v, %v; want nothing", got, err)
	}

	w := newClient(t, opts, kgo.TransactionalID("history-writer"))
	historyTestTxn(ctx, t, w, topic, kgo.TryCommit, "conn", "a", "other", "b")
	historyTestTxn(ctx, t, w, topic, kgo.TryAbort, "conn", "aborted")
	historyTestTxn(ctx, t, w, topic, kgo.TryCommit, "conn", "c")
	// Every committed record, other keys too (the source filters them), none aborted, no
	// control record; the log ends with a commit marker, which the read must get past.
	got, err := historyRead(ctx, r, topic)
	var values []string
	for _, g := range got {
		values = append(values, g[strings.Index(g, " ")+1:])
	}
	if err != nil || !slices.Equal(values, []string{"conn=a", "other=b", "conn=c"}) {
		t.Fatalf("read %v, %v; want conn=a, other=b, conn=c", got, err)
	}
	if !strings.HasPrefix(got[0], "0 ") || !strings.HasPrefix(got[1], "1 ") {
		t.Errorf("offsets of %v, want 0 and 1 first", got)
	}

	// fn's error ends the read, as it is.
	stop := errors.New("stop")
	calls := 0
	err = r.ReadHistory(ctx, topic, func(int64, []byte, []byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("fn failing: %v after %d calls, want stop after 1", err, calls)
	}
}

func TestSchemaHistoryReaderErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	opts := newCluster(t)
	// A topic that does not exist reads as empty (the pipeline creates it first; one deleted
	// since leaves the source without history, which it says).
	if got, err := historyRead(ctx, kafkalog.NewSchemaHistoryReader(opts...), "missing"); err != nil || len(got) != 0 {
		t.Errorf("missing topic: %v, %v; want nothing", got, err)
	}
	// Options no client accepts (a group besides the direct read) fail every time: the error says it is not retryable.
	_, err := historyRead(ctx, kafkalog.NewSchemaHistoryReader(kgo.SeedBrokers("a:1"), kgo.ConsumerGroup("a group")), "t")
	r, ok := errors.AsType[interface {
		error
		Retryable() bool
	}](err)
	if !ok || r.Retryable() || !strings.Contains(err.Error(), "invalid Kafka client options: ") {
		t.Errorf("invalid options: %v, want a non-retryable error", err)
	}
}
