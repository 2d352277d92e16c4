package kafkalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newCluster(t *testing.T) []kgo.Opt {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

func newClient(t *testing.T, opts []kgo.Opt, more ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...), more...)...)
	if err != nil {
		t.Fatalf("creating client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pos(s string, skip int64) offsets.Position {
	return offsets.Position{Source: json.RawMessage(s), Skip: skip}
}

// writeTxn writes records in one Kafka transaction and commits or aborts it.
func writeTxn(ctx context.Context, t *testing.T, cl *kgo.Client, commit kgo.TransactionEndTry, rs ...*kgo.Record) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := cl.EndTransaction(ctx, commit); err != nil {
		t.Fatalf("end transaction: %v", err)
	}
}

func mustRecord(t *testing.T, topic string, k offsets.Key, p offsets.Position) *kgo.Record {
	t.Helper()
	v, err := offsets.Value(p)
	if err != nil {
		t.Fatalf("Value: %v", err)
	}
	return &kgo.Record{Topic: topic, Key: k.Bytes(), Value: v}
}

func TestEnsureTopic(t *testing.T) {
	ctx := testCtx(t)
	opts := newCluster(t)
	cl := newClient(t, opts)
	for range 2 { // the second call finds the topic and succeeds
		if err := kafkalog.EnsureTopic(ctx, cl, kafkalog.CompactedTopic(offsets.DefaultTopic)); err != nil {
			t.Fatalf("EnsureTopic: %v", err)
		}
	}
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, offsets.DefaultTopic)
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	if d := details[offsets.DefaultTopic]; d.Err != nil || len(d.Partitions) != 1 {
		t.Fatalf("topic details: err %v, %d partitions, want 1", d.Err, len(d.Partitions))
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, offsets.DefaultTopic)
	if err != nil {
		t.Fatalf("DescribeTopicConfigs: %v", err)
	}
	rc, err := cfgs.On(offsets.DefaultTopic, nil)
	if err != nil {
		t.Fatalf("configs: %v", err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" {
			found = true
			if c.MaybeValue() != "compact" {
				t.Fatalf("cleanup.policy = %q, want compact", c.MaybeValue())
			}
		}
	}
	if !found {
		t.Fatal("cleanup.policy not described")
	}
}

func TestReadOffsetMissingTopic(t *testing.T) {
	ctx := testCtx(t)
	opts := newCluster(t)
	p, err := kafkalog.ReadOffset(ctx, opts, "nope", offsets.Key{Connector: "c", Server: "s"})
	if err != nil || !p.IsZero() {
		t.Fatalf("ReadOffset = %v, %v; want zero, nil", p, err)
	}
}

func TestReadOffset(t *testing.T) {
	ctx := testCtx(t)
	opts := newCluster(t)
	const topic = "offs"
	admin := newClient(t, opts)
	if err := kafkalog.EnsureTopic(ctx, admin, kafkalog.CompactedTopic(topic)); err != nil {
		t.Fatal(err)
	}
	mine := offsets.Key{Connector: "c1", Server: "srv"}
	other := offsets.Key{Connector: "c2", Server: "srv"}
	otherServer := offsets.Key{Connector: "c1", Server: "srv2"}

	if p, err := kafkalog.ReadOffset(ctx, opts, topic, mine); err != nil || !p.IsZero() {
		t.Fatalf("empty topic: ReadOffset = %v, %v; want zero", p, err)
	}

	txn := newClient(t, opts, kgo.TransactionalID("test-offsets"))
	writeTxn(ctx, t, txn, kgo.TryCommit, mustRecord(t, topic, mine, pos(`{"n":1}`, 0)))
	writeTxn(ctx, t, txn, kgo.TryCommit,
		mustRecord(t, topic, mine, pos(`{"n":2}`, 5)),
		mustRecord(t, topic, other, pos(`{"n":99}`, 0)))
	writeTxn(ctx, t, txn, kgo.TryCommit, mustRecord(t, topic, otherServer, pos(`{"n":98}`, 0)))
	// An aborted transaction's offset must not count, even as the last one in the log.
	writeTxn(ctx, t, txn, kgo.TryAbort, mustRecord(t, topic, mine, pos(`{"n":3}`, 0)))

	p, err := kafkalog.ReadOffset(ctx, opts, topic, mine)
	if err != nil {
		t.Fatalf("ReadOffset: %v", err)
	}
	if string(p.Source) != `{"n":2}` || p.Skip != 5 {
		t.Fatalf("ReadOffset = %v, want {\"n\":2}+5", p)
	}
	if p, err := kafkalog.ReadOffset(ctx, opts, topic, other); err != nil || string(p.Source) != `{"n":99}` {
		t.Fatalf("other connector: %v, %v", p, err)
	}

	// A tombstone resets the connector's offset.
	writeTxn(ctx, t, txn, kgo.TryCommit, &kgo.Record{Topic: topic, Key: mine.Bytes()})
	if p, err := kafkalog.ReadOffset(ctx, opts, topic, mine); err != nil || !p.IsZero() {
		t.Fatalf("after tombstone: ReadOffset = %v, %v; want zero", p, err)
	}

	// A corrupt value is an error, never a silent restart from scratch.
	writeTxn(ctx, t, txn, kgo.TryCommit, &kgo.Record{Topic: topic, Key: mine.Bytes(), Value: []byte("{")})
	if _, err := kafkalog.ReadOffset(ctx, opts, topic, mine); !errors.Is(err, offsets.ErrCorrupt) {
		t.Fatalf("corrupt value: err = %v, want ErrCorrupt", err)
	}
}

// TestReadOffsetNeverReturnsAStalePosition: connectors share the offsets partition, so
// another connector's open transaction (a killed process's, until its successor fences it) can
// sit before this connector's latest commit. Reading only up to the stable offset would return
// this connector's older position and its changes would be written twice; the read must wait
// for that transaction instead, then return the latest position.
func TestReadOffsetNeverReturnsAStalePosition(t *testing.T) {
	ctx := testCtx(t)
	opts := newCluster(t)
	const topic = "offsets"
	if err := kafkalog.EnsureTopic(ctx, newClient(t, opts), kafkalog.CompactedTopic(topic)); err != nil {
		t.Fatal(err)
	}
	mine := offsets.Key{Connector: "a", Server: "s"}
	other := offsets.Key{Connector: "b", Server: "s"}
	a := newClient(t, opts, kgo.TransactionalID("cdcd-a"))
	b := newClient(t, opts, kgo.TransactionalID("cdcd-b"))
	writeTxn(ctx, t, a, kgo.TryCommit, mustRecord(t, topic, mine, pos(`{"lsn":"0/1"}`, 0)))
	if err := b.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := b.ProduceSync(ctx, mustRecord(t, topic, other, pos(`{"lsn":"9/9"}`, 0))).FirstErr(); err != nil {
		t.Fatal(err)
	}
	writeTxn(ctx, t, a, kgo.TryCommit, mustRecord(t, topic, mine, pos(`{"lsn":"0/2"}`, 0)))

	waiting, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if got, err := kafkalog.ReadOffset(waiting, opts, topic, mine); err == nil {
		t.Fatalf("ReadOffset with the other connector's transaction open = %s, want it to wait", got)
	}
	if err := b.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	got, err := kafkalog.ReadOffset(ctx, opts, topic, mine)
	if err != nil {
		t.Fatalf("ReadOffset: %v", err)
	}
	if string(got.Source) != `{"lsn":"0/2"}` {
		t.Errorf("ReadOffset = %s, want the latest commit {\"lsn\":\"0/2\"}", got)
	}
}
