package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestPipelineAbortsATransactionLeftOpenOnItsTopic: a transactional producer of another
// application writes one record into the connector's data topic and never ends its transaction
// (its timeout is 10 minutes). On the real broker that holds the partition's last stable offset
// back: a read_committed consumer sees none of what the connector commits after it, for as long
// as the transaction stays open, and a restart of the connector changes nothing. The pipeline's
// check finds the transaction open past its limit and aborts it; every change becomes visible,
// exactly once. It failed before (HangingTransactionCheck(0, 0) gives the old behaviour): the
// consumer saw only the changes written before the intruder's record.
func TestPipelineAbortsATransactionLeftOpenOnItsTopic(t *testing.T) {
	env := newPipelineEnv(t)
	txns := make([]pipelinetest.Txn, 6)
	for i := range txns {
		txns[i] = pipelinetest.Inserts(2)
	}
	src := &pipelinetest.Source{Txns: txns}
	// The transactions after the first wait for the intruder's open transaction.
	var intruded atomic.Bool
	src.Before = func(ctx context.Context, tx, _ int) error {
		for tx >= 1 && !intruded.Load() {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
		return nil
	}
	p := env.pipeline(t, src, pipeline.HangingTransactionCheck(500*time.Millisecond, 5*time.Second))
	runPipeline(t, p)
	waitPipelineAck(t, src, 1)

	topic := pipelinetest.Topic(env.prefix)
	intruder := NewKafkaClient(t, kgo.TransactionalID(Name(t, "intruder")), kgo.TransactionTimeout(10*time.Minute))
	if err := intruder.BeginTransaction(); err != nil {
		t.Fatalf("the intruder's BeginTransaction: %v", err)
	}
	if err := intruder.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Value: []byte("intruder")}).FirstErr(); err != nil {
		t.Fatalf("the intruder's produce: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = intruder.EndTransaction(ctx, kgo.TryAbort)
	})
	stable := func() (lso, hwm int64) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		adm := kadm.NewClient(NewKafkaClient(t))
		c, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("listing the stable offset of %s: %v", topic, err)
		}
		e, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatalf("listing the end offset of %s: %v", topic, err)
		}
		lo, _ := c.Lookup(topic, 0)
		he, _ := e.Lookup(topic, 0)
		return lo.Offset, he.Offset
	}
	if lso, hwm := stable(); lso >= hwm {
		t.Fatalf("the intruder's open transaction does not hold the stable offset back (LSO %d, HWM %d): the scenario did not happen", lso, hwm)
	}
	intruded.Store(true)
	waitPipelineAck(t, src, len(txns))

	// Everything the connector committed becomes visible: the stable offset reaches the end.
	WaitFor(t, 90*time.Second, "the last stable offset to reach the end of the data topic", func() error {
		if lso, hwm := stable(); lso < hwm {
			return fmt.Errorf("LSO %d, HWM %d (hanging transactions aborted: %d)", lso, hwm, p.Metrics().Stats().HangingAborted)
		}
		return nil
	})
	if n := p.Metrics().Stats().HangingAborted; n < 1 {
		t.Fatalf("HangingAborted = %d, want at least 1", n)
	}
	checkPipelineTopic(t, env, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}

// TestKafkaRefusesALateProduceOfAnEndedTransaction is the test of a hypothesis about issue 12's
// stall: a produce of a transaction, held in a slow or partitioned link until after the
// transaction ended, reaching the partition late and opening a transaction that nothing ends (a
// hanging transaction). It sends what such a produce carries (the ended transaction's producer
// id, epoch and next sequence, the transactional id) after EndTxn, with the Produce versions of a
// client that uses KIP-890 part 2 (v12) and of one that does not (v11). The broker of the stack
// (Kafka 4, transaction.version 2, partition verification on by default) must refuse both and
// leave no transaction open: the stall cannot come from there on it.
func TestKafkaRefusesALateProduceOfAnEndedTransaction(t *testing.T) {
	for _, version := range []int16{11, 12} {
		t.Run(fmt.Sprintf("produce v%d", version), func(t *testing.T) {
			topic := NewKafkaTopic(t, 1)
			txnID := Name(t, "late")
			producer := NewKafkaClient(t, kgo.TransactionalID(txnID))
			if err := producer.BeginTransaction(); err != nil {
				t.Fatalf("BeginTransaction: %v", err)
			}
			if err := producer.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Partition: 0, Value: []byte("in time")}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			id, epoch, err := producer.ProducerID(t.Context())
			if err != nil {
				t.Fatalf("ProducerID: %v", err)
			}
			if err := producer.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
				t.Fatalf("commit: %v", err)
			}

			versions := kversion.Stable()
			versions.SetMaxKeyVersion(int16(kmsg.Produce), version)
			raw := NewKafkaClient(t, kgo.MaxVersions(versions))
			req := kmsg.NewPtrProduceRequest()
			req.TransactionID = &txnID
			req.Acks = -1
			req.TimeoutMillis = 10_000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = 0
			rp.Records = lateBatch(id, epoch, 1, []byte("late"))
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(t.Context(), raw)
			if err != nil {
				t.Fatalf("the late produce: %v", err)
			}
			code := resp.Topics[0].Partitions[0].ErrorCode
			t.Logf("the late produce (v%d, producer %d epoch %d, after the commit): %v", resp.Version, id, epoch, kerr.ErrorForCode(code))
			if code == 0 {
				t.Errorf("the broker took a produce of an ended transaction")
			}
			adm := kadm.NewClient(raw)
			described, err := adm.DescribeProducers(t.Context(), kadm.TopicsSet{topic: {0: {}}})
			if err != nil {
				t.Fatalf("DescribeProducers: %v", err)
			}
			described.EachPartition(func(p kadm.DescribedProducersPartition) {
				for _, pr := range p.ActiveProducers {
					if pr.CurrentTxnStartOffset >= 0 {
						t.Errorf("a transaction is left open on %s[%d]: producer %d epoch %d from offset %d",
							p.Topic, p.Partition, pr.ProducerID, pr.ProducerEpoch, pr.CurrentTxnStartOffset)
					}
				}
			})
		})
	}
}

// lateBatch encodes a transactional record batch of one record, as a producer would send it.
func lateBatch(producerID int64, epoch int16, sequence int32, value []byte) []byte {
	rec := kmsg.Record{Value: value}
	rec.Length = int32(len(rec.AppendTo(nil)) - 1) // the length itself, 0, took one byte
	now := time.Now().UnixMilli()
	batch := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: 0x10, // transactional
		FirstTimestamp: now, MaxTimestamp: now, ProducerID: producerID, ProducerEpoch: epoch,
		FirstSequence: sequence, NumRecords: 1, Records: rec.AppendTo(nil)}
	raw := batch.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))                                          // the batch's length, after the field
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))) // CRC-32C from the attributes on
	return raw
}
