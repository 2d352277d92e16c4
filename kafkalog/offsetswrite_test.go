package kafkalog_test

import (
	"testing"

	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestWriteOffset(t *testing.T) {
	ctx := testCtx(t)
	opts := newCluster(t)
	const topic = "offs" // missing: Write creates it
	const txnID = "cdcd-c1"
	mine := offsets.Key{Connector: "c1", Server: "srv"}

	if err := kafkalog.WriteOffset(ctx, opts, topic, txnID, mine, pos(`{"lsn":"0/10"}`, 2)); err != nil {
		t.Fatalf("WriteOffset: %v", err)
	}
	p, err := kafkalog.ReadOffset(ctx, opts, topic, mine)
	if err != nil || string(p.Source) != `{"lsn":"0/10"}` || p.Skip != 2 {
		t.Fatalf("ReadOffset = %v, %v; want {\"lsn\":\"0/10\"}+2", p, err)
	}

	// A zero position is a reset: a tombstone, read back as the zero Position.
	if err := kafkalog.WriteOffset(ctx, opts, topic, txnID, mine, offsets.Position{}); err != nil {
		t.Fatalf("WriteOffset zero: %v", err)
	}
	if p, err := kafkalog.ReadOffset(ctx, opts, topic, mine); err != nil || !p.IsZero() {
		t.Fatalf("after reset: ReadOffset = %v, %v; want zero", p, err)
	}
}

// TestWriteFencesTheConnector: a pipeline of the connector with a transaction open when the
// offset is written is fenced: its open transaction is aborted and it cannot commit after.
func TestWriteOffsetFencesTheConnector(t *testing.T) {
	ctx := testCtx(t)
	opts := newCluster(t)
	const topic = "offs"
	const txnID = "cdcd-c1"
	mine := offsets.Key{Connector: "c1", Server: "srv"}
	if err := kafkalog.EnsureTopic(ctx, newClient(t, opts), kafkalog.CompactedTopic(topic)); err != nil {
		t.Fatal(err)
	}

	zombie := newClient(t, opts, kgo.TransactionalID(txnID))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, mustRecord(t, topic, mine, pos(`{"n":9}`, 0))).FirstErr(); err != nil {
		t.Fatal(err)
	}

	if err := kafkalog.WriteOffset(ctx, opts, topic, txnID, mine, pos(`{"n":1}`, 0)); err != nil {
		t.Fatalf("WriteOffset: %v", err)
	}
	if err := zombie.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the fenced producer committed")
	}
	p, err := kafkalog.ReadOffset(ctx, opts, topic, mine)
	if err != nil || string(p.Source) != `{"n":1}` {
		t.Fatalf("ReadOffset = %v, %v; want {\"n\":1}", p, err)
	}
}
