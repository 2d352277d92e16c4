package pipeline_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
)

// bigAt encodes as pipelinetest.Encoder does, but makes the value of change i of transaction
// tx size bytes longer: random bytes, or zeros when compressible.
type bigAt struct {
	pipelinetest.Encoder
	tx, i, size  int
	compressible bool
}

func (e *bigAt) EncodeRecord(ctx context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	topic, key, value, err := e.Encoder.EncodeRecord(ctx, rec)
	if err == nil && int(pipelinetest.TxID(&rec.Change.Source)) == e.tx && int(pipelinetest.Row(&rec.Change.Source)) == e.i {
		more := make([]byte, e.size)
		if !e.compressible {
			_, _ = rand.Read(more)
		}
		value = append(value, more...)
	}
	return topic, key, value, err
}

// createTopic creates topic with max.message.bytes set to maxBytes.
func createTopic(t *testing.T, kafka []kgo.Opt, topic string, maxBytes int) {
	t.Helper()
	cl, err := kgo.NewClient(kafka...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v := strconv.Itoa(maxBytes)
	if _, err := kadm.NewClient(cl).CreateTopic(t.Context(), 1, 1, map[string]*string{"max.message.bytes": &v}, topic); err != nil {
		t.Fatalf("creating %s: %v", topic, err)
	}
}

// TestRecordTooLarge checks that a record over its topic's max.message.bytes, or over the
// producer's own max record batch bytes, is a poison change: dead-lettered with its key,
// position and the reason, skipped and counted, or the connector stopped for good naming the
// table, key and size; and that the changes after it continue, exactly once.
func TestRecordTooLarge(t *testing.T) {
	const limit = 64 << 10
	txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(3), pipelinetest.Inserts(2)}
	for _, tt := range []struct {
		name     string
		policy   pipeline.Policy
		topicMax int       // the data topic's max.message.bytes; 0 leaves the broker's default
		opts     []kgo.Opt // the producer's options
		why      string    // the limit the error names
	}{
		{"dlq topic limit", pipeline.PolicyDLQ, limit, nil, "max.message.bytes"},
		{"skip topic limit", pipeline.PolicySkip, limit, nil, "max.message.bytes"},
		{"fail topic limit", pipeline.PolicyFail, limit, nil, "max.message.bytes"},
		{"dlq producer limit", pipeline.PolicyDLQ, 0, []kgo.Opt{kgo.ProducerBatchMaxBytes(limit)}, "max record batch bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kafka := newKafka(t)
			if tt.topicMax > 0 {
				createTopic(t, kafka, pipelinetest.Topic(prefix), tt.topicMax)
			}
			enc := &bigAt{Encoder: pipelinetest.Encoder{Prefix: prefix}, tx: 1, i: 1, size: limit}
			dlq := ""
			if tt.policy == pipeline.PolicyDLQ {
				dlq = dlqTopic
			}
			src := &pipelinetest.Source{Txns: txns}
			p := newPipeline(t, append(kafka, tt.opts...), src, enc, pipeline.ErrorPolicy(tt.policy, dlq))
			r := start(t, p)
			if tt.policy == pipeline.PolicyFail {
				err := r.result(t)
				var tooLarge *pipeline.RecordTooLargeError
				if !errors.As(err, &tooLarge) || pipeline.IsRetryable(err) {
					t.Fatalf("Run = %v, want a RecordTooLargeError, not retryable", err)
				}
				for _, s := range []string{"public.t", `{"id":"1000001"}`, strconv.Itoa(tooLarge.Size), tt.why} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if tooLarge.Size <= limit {
					t.Errorf("size %d, want over %d", tooLarge.Size, limit)
				}
				// Nothing of the transaction holding the record is written; the one before may be.
				got := pipelinetest.Values(readTopic(t, kafka, pipelinetest.Topic(prefix)))
				if len(got) != 0 && strings.Join(got, " ") != strings.Join(without(txns[:1]), " ") {
					t.Fatalf("data topic %v after the failure", got)
				}
				return
			}
			r.waitAck(t, src, len(txns), 0)
			r.stop(t)
			checkTopic(t, kafka, without(txns, [2]int{1, 1}))
			checkCommitted(t, p, pipelinetest.Pos(len(txns), 0))
			s := p.Metrics().Stats()
			if tt.policy == pipeline.PolicySkip {
				if s.Skipped != 1 || s.DeadLettered != 0 {
					t.Fatalf("stats %+v, want 1 skipped", s)
				}
				return
			}
			if s.DeadLettered != 1 || s.Skipped != 0 {
				t.Fatalf("stats %+v, want 1 dead-lettered", s)
			}
			rs := readTopic(t, kafka, dlqTopic)
			if len(rs) != 1 {
				t.Fatalf("dead-letter topic holds %d records, want 1", len(rs))
			}
			checkDeadLetter(t, rs[0], "produce", `{"source":{"tx":1},"skip":1}`, pipelinetest.RowID(1, 1), tt.why)
			if len(rs[0].Value) > 1024 {
				t.Errorf("dead letter of %d bytes", len(rs[0].Value))
			}
		})
	}
}

// TestDeadLetterTooLargeForItsTopic checks that a poison change whose dead letter, with all its
// values, would not fit the dead-letter topic is dead-lettered without its large values, rather
// than refused by Kafka on every run.
func TestDeadLetterTooLargeForItsTopic(t *testing.T) {
	const limit = 64 << 10
	kafka := newKafka(t)
	createTopic(t, kafka, dlqTopic, limit)
	tab := &decoder.Table{ID: 2, Namespace: "public", Name: "files", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true}, {Name: "data", Type: decoder.TypeBytes}}}
	c := &decoder.Change{Op: decoder.OpCreate, Table: tab, After: []decoder.Value{
		{State: decoder.ValueSet, Int: 1}, {State: decoder.ValueSet, Bytes: make([]byte, limit)}}}
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: func(*decoder.Change) error {
		return &avro.EncodeError{Table: "public.files", Column: "data", Err: avro.ErrBadValue}
	}}
	src := &scriptedSource{middle: []connectors.Event{{Kind: connectors.EventChange, Change: c}}}
	p := newPipeline(t, kafka, src, enc, pipeline.ErrorPolicy(pipeline.PolicyDLQ, dlqTopic))
	r := start(t, p)
	waitFor(t, patience, "the ack", func() error {
		if src.acks.Load() == 0 {
			return errors.New("no ack yet")
		}
		return nil
	})
	r.stop(t)
	rs := readTopic(t, kafka, dlqTopic)
	if len(rs) != 1 {
		t.Fatalf("dead-letter topic holds %d records, want 1", len(rs))
	}
	const want = `{"table":"public.files","op":"c","before":null,"after":{"id":"1"},"omitted":["data"]}`
	if string(rs[0].Value) != want || string(rs[0].Key) != `{"id":"1"}` {
		t.Fatalf("dead letter %s / %.200s, want %s", rs[0].Key, rs[0].Value, want)
	}
}

// TestCompressibleRecordOverTheTopicLimit checks that a record larger than its topic's
// max.message.bytes but not once compressed, which the broker measures compressed, is written.
func TestCompressibleRecordOverTheTopicLimit(t *testing.T) {
	const limit = 64 << 10
	kafka := newKafka(t)
	createTopic(t, kafka, pipelinetest.Topic(prefix), limit)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(2)}
	enc := &bigAt{Encoder: pipelinetest.Encoder{Prefix: prefix}, tx: 0, i: 1, size: 4 * limit, compressible: true}
	p := runAll(t, kafka, txns, enc, pipeline.ErrorPolicy(pipeline.PolicySkip, ""))
	if s := p.Metrics().Stats(); s.Skipped != 0 || s.Records != 2 {
		t.Fatalf("stats %+v, want 2 records written", s)
	}
	rs := readTopic(t, kafka, pipelinetest.Topic(prefix))
	if len(rs) != 2 || len(rs[1].Value) < 4*limit {
		t.Fatalf("data topic holds %d records, want both, the second of %d bytes", len(rs), 4*limit)
	}
}

// TestTopicLimitUnreadable checks that a broker which does not answer DescribeConfigs does not
// stop the pipeline: the producer's limits apply alone meanwhile.
func TestTopicLimitUnreadable(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	var describes atomic.Int64
	cluster.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		describes.Add(1)
		resp := req.(*kmsg.DescribeConfigsRequest).ResponseKind().(*kmsg.DescribeConfigsResponse)
		for _, r := range req.(*kmsg.DescribeConfigsRequest).Resources {
			rr := kmsg.NewDescribeConfigsResponseResource()
			rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
			rr.ErrorCode = kerr.UnknownServerError.Code
			resp.Resources = append(resp.Resources, rr)
		}
		return resp, nil, true
	})
	kafka := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}
	txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(2)}
	runAll(t, kafka, txns, &pipelinetest.Encoder{Prefix: prefix})
	checkTopic(t, kafka, without(txns))
	if describes.Load() == 0 {
		t.Fatal("the topic's configuration was never asked for")
	}
}
