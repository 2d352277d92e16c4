package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
)

// readTopic returns what a read_committed consumer sees in topic.
func readTopic(t *testing.T, kafka []kgo.Opt, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	rs, err := pipelinetest.ReadCommitted(ctx, kafka, topic)
	if err != nil {
		t.Fatalf("reading %s: %v", topic, err)
	}
	return rs
}

// runAll runs a pipeline over txns with chain until the last transaction is acknowledged,
// restarting it after a Kafka hiccup.
func runAll(t *testing.T, kafka []kgo.Opt, txns []pipelinetest.Txn, enc pipeline.Encoder, opts ...pipeline.Option) *pipeline.Pipeline {
	t.Helper()
	src := &pipelinetest.Source{Txns: txns}
	p := newPipeline(t, kafka, src, enc, opts...)
	r := startRestarting(t, p)
	r.waitAck(t, src, len(txns), 0)
	r.stop(t)
	return p
}

func headersOf(r *kgo.Record) string {
	s := ""
	for _, h := range r.Headers {
		s += h.Key + "=" + string(h.Value) + ";"
	}
	return s
}

// TestRouteAndHeaders checks that a routed record goes to its topic, which the pipeline
// creates (kfake, like our broker, creates no topic by itself), and that headers are on the
// value records and on the tombstones.
func TestRouteAndHeaders(t *testing.T) {
	kafka := newKafka(t)
	route, err := transform.NewRoute(`srv\.public\.(.*)`, "routed.${1}")
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := transform.NewHeaders([]transform.Header{{Key: "env", Value: []byte("prod")}}, transform.OpHeader("op"))
	if err != nil {
		t.Fatal(err)
	}
	txns := []pipelinetest.Txn{{decoder.OpCreate, decoder.OpDelete}}
	runAll(t, kafka, txns, &pipelinetest.Encoder{Prefix: prefix}, pipeline.Transforms(transform.Chain{route, hdr}))

	if rs := readTopic(t, kafka, pipelinetest.Topic(prefix)); len(rs) != 0 {
		t.Fatalf("the default topic holds %v", pipelinetest.Values(rs))
	}
	rs := readTopic(t, kafka, "routed.t")
	if err := pipelinetest.Diff(pipelinetest.Values(rs), []string{"0/0/c", "0/1/d", "<tombstone k1>"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"env=prod;op=c;", "env=prod;op=d;", "env=prod;op=d;"}
	for i, r := range rs {
		if got := headersOf(r); got != want[i] {
			t.Errorf("record %d headers %q, want %q", i, got, want[i])
		}
	}
}

// TestTombstoneChoices checks each tombstone choice of a record against the pipeline's
// setting: unwrap's handlings make them, the default follows WithTombstones.
func TestTombstoneChoices(t *testing.T) {
	txns := []pipelinetest.Txn{{decoder.OpCreate, decoder.OpDelete, decoder.OpUpdate}}
	unwrap := func(d transform.DeleteHandling) transform.Chain {
		u, err := transform.NewUnwrap(transform.UnwrapDeletes(d))
		if err != nil {
			t.Fatal(err)
		}
		return transform.Chain{u}
	}
	tests := []struct {
		name  string
		chain transform.Chain
		mode  pipeline.Tombstones
		want  []string
	}{
		{"default on", nil, pipeline.TombstonesOn, []string{"0/0/c", "0/1/d", "<tombstone k1>", "0/2/u"}},
		{"default off", nil, pipeline.TombstonesOff, []string{"0/0/c", "0/1/d", "0/2/u"}},
		{"only", unwrap(transform.DeleteTombstone), pipeline.TombstonesOff, []string{"0/0/c", "<tombstone k1>", "0/2/u"}},
		{"never", unwrap(transform.DeleteRewrite), pipeline.TombstonesOn, []string{"0/0/c", "0/1/d", "0/2/u"}},
		{"always", unwrap(transform.DeleteRewriteWithTombstone), pipeline.TombstonesOff, []string{"0/0/c", "0/1/d", "<tombstone k1>", "0/2/u"}},
		{"drop", unwrap(transform.DeleteDrop), pipeline.TombstonesOn, []string{"0/0/c", "0/2/u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kafka := newKafka(t)
			runAll(t, kafka, txns, &pipelinetest.Encoder{Prefix: prefix},
				pipeline.Transforms(tt.chain), pipeline.WithTombstones(tt.mode))
			checkTopic(t, kafka, tt.want)
		})
	}
}

// keylessEncoder is pipelinetest's Encoder for a table without a key.
type keylessEncoder struct{ pipelinetest.Encoder }

func (e *keylessEncoder) EncodeRecord(ctx context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	topic, _, value, err := e.Encoder.EncodeRecord(ctx, rec)
	return topic, nil, value, err
}

// TestTombstoneOnlyWithoutKey checks that a tombstone-only delete of a keyless table writes
// nothing (a tombstone needs a key), and that the tombstone modes never write a keyless one.
func TestTombstoneOnlyWithoutKey(t *testing.T) {
	u, err := transform.NewUnwrap()
	if err != nil {
		t.Fatal(err)
	}
	for _, chain := range []transform.Chain{nil, {u}} {
		t.Run(fmt.Sprint(len(chain)), func(t *testing.T) {
			kafka := newKafka(t)
			txns := []pipelinetest.Txn{{decoder.OpCreate, decoder.OpDelete}}
			p := runAll(t, kafka, txns, &keylessEncoder{pipelinetest.Encoder{Prefix: prefix}}, pipeline.Transforms(chain))
			want := []string{"0/0/c", "0/1/d"}
			if chain != nil {
				want = want[:1]
			}
			got := pipelinetest.Values(readTopic(t, kafka, pipelinetest.Topic(prefix)))
			if err := pipelinetest.Diff(got, want); err != nil {
				t.Fatal(err)
			}
			if n := p.Metrics().Stats().Records; n != int64(len(want)) {
				t.Fatalf("records = %d, want %d", n, len(want))
			}
		})
	}
}

// stamp is a record transform that sets the record's timestamp, as the outbox router does.
type stamp struct{ at time.Time }

func (s stamp) Apply(c *decoder.Change) (*decoder.Change, error) { return c, nil }
func (s stamp) ApplyRecord(r *transform.Record) (*transform.Record, error) {
	r.Timestamp = s.at
	return r, nil
}

// TestRecordTimestamp checks that a timestamp the chain chose is the Kafka records' (value
// and tombstone), and that records without one get the producer's time.
func TestRecordTimestamp(t *testing.T) {
	kafka := newKafka(t)
	at := time.Date(2021, 3, 4, 5, 6, 7, 8e6, time.UTC)
	txns := []pipelinetest.Txn{{decoder.OpCreate, decoder.OpDelete}}
	runAll(t, kafka, txns, &pipelinetest.Encoder{Prefix: prefix}, pipeline.Transforms(transform.Chain{stamp{at}}))
	rs := readTopic(t, kafka, pipelinetest.Topic(prefix))
	if len(rs) != 3 {
		t.Fatalf("records %v", pipelinetest.Values(rs))
	}
	for i, r := range rs {
		if !r.Timestamp.Equal(at) {
			t.Errorf("record %d timestamp %v, want %v", i, r.Timestamp, at)
		}
	}
	kafka = newKafka(t)
	runAll(t, kafka, txns, &pipelinetest.Encoder{Prefix: prefix})
	for i, r := range readTopic(t, kafka, pipelinetest.Topic(prefix)) {
		if r.Timestamp.Before(time.Now().Add(-time.Hour)) {
			t.Errorf("record %d without a chosen time has timestamp %v", i, r.Timestamp)
		}
	}
}
