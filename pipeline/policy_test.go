package pipeline_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
)

const dlqTopic = "srv.dlq"

// poisonAt is a transform failing change i of transaction tx as a real one does: with a
// *transform.ChangeError.
type poisonAt struct{ tx, i int }

func (p poisonAt) Apply(c *decoder.Change) (*decoder.Change, error) {
	if int(pipelinetest.TxID(&c.Source)) == p.tx && int(pipelinetest.Row(&c.Source)) == p.i {
		return nil, &transform.ChangeError{Transform: "filter", Table: "public.t", Err: errors.New("no such key: amount")}
	}
	return c, nil
}

// badRowAt is an Encoder.Fail hook failing change i of transaction tx as the encoder fails a
// row it cannot hold.
func badRowAt(tx, i int) func(*decoder.Change) error {
	return func(c *decoder.Change) error {
		if int(pipelinetest.TxID(&c.Source)) == tx && int(pipelinetest.Row(&c.Source)) == i {
			return &avro.EncodeError{Table: "public.t", Column: "id", SourceType: "int8", Err: avro.ErrNullValue}
		}
		return nil
	}
}

// both runs several Fail hooks, the first error wins.
func both(hooks ...func(*decoder.Change) error) func(*decoder.Change) error {
	return func(c *decoder.Change) error {
		for _, h := range hooks {
			if err := h(c); err != nil {
				return err
			}
		}
		return nil
	}
}

// without returns the expected values of txns minus the listed changes (tx, i pairs).
func without(txns []pipelinetest.Txn, drop ...[2]int) []string {
	var out []string
	for tx, t := range txns {
	next:
		for i, op := range t {
			for _, d := range drop {
				if d[0] == tx && d[1] == i {
					continue next
				}
			}
			out = append(out, pipelinetest.Value(tx, i, op))
		}
	}
	return out
}

// TestPolicyDLQ checks that poison changes (a transform's and an encoder's) go to the
// dead-letter topic with their headers, in the same Kafka transaction as the changes around
// them and the offset: a failure after them aborts them with the rest, and the next run writes
// everything exactly once.
func TestPolicyDLQ(t *testing.T) {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(3), pipelinetest.Inserts(2), pipelinetest.Inserts(2)}
	src := &pipelinetest.Source{Txns: txns}
	boom := errors.New("kafka hiccup")
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: both(badRowAt(1, 0), failOnce(2, 1, boom))}
	chain := pipeline.Transforms(transform.Chain{poisonAt{0, 1}})
	policy := pipeline.ErrorPolicy(pipeline.PolicyDLQ, dlqTopic)

	// One Kafka transaction for everything, which the transient failure at (2, 1) aborts.
	var clock fakeClock
	p := newPipeline(t, kafka, src, enc, chain, policy, clock.option(), pipeline.MaxBatchRecords(1_000_000),
		pipeline.MaxLinger(time.Minute), pipeline.TransactionTimeout(5*time.Minute))
	err := start(t, p).result(t)
	if !errors.Is(err, boom) {
		t.Fatalf("first run = %v, want the transient failure", err)
	}
	if rs := readTopic(t, kafka, dlqTopic); len(rs) != 0 {
		t.Fatalf("dead-letter records of an aborted transaction are visible: %v", pipelinetest.Values(rs))
	}
	if s := p.Metrics().Stats(); s.DeadLettered != 0 {
		t.Fatalf("dead-lettered = %d before any commit", s.DeadLettered)
	}

	// The next run, with bounds that close its transactions, writes everything once.
	p = newPipeline(t, kafka, src, enc, chain, policy)
	r := startRestarting(t, p)
	r.waitAck(t, src, len(txns), 0)
	r.stop(t)

	checkTopic(t, kafka, without(txns, [2]int{0, 1}, [2]int{1, 0}))
	checkCommitted(t, p, pipelinetest.Pos(len(txns), 0))
	rs := readTopic(t, kafka, dlqTopic)
	if len(rs) != 2 {
		t.Fatalf("dead-letter topic holds %d records, want 2: %v", len(rs), pipelinetest.Values(rs))
	}
	checkDeadLetter(t, rs[0], "transform", `{"source":{"tx":0},"skip":1}`, pipelinetest.RowID(0, 1), "no such key: amount")
	checkDeadLetter(t, rs[1], "encode", `{"source":{"tx":1}}`, pipelinetest.RowID(1, 0), "NULL in a non-optional column")
	if s := p.Metrics().Stats(); s.DeadLettered != 2 || s.Skipped != 0 {
		t.Fatalf("stats %+v, want 2 dead-lettered", s)
	}
}

func checkDeadLetter(t *testing.T, r *kgo.Record, stage, position string, id int64, errText string) {
	t.Helper()
	h := map[string]string{}
	for _, kv := range r.Headers {
		h[kv.Key] = string(kv.Value)
	}
	if h[pipeline.HeaderStage] != stage || h[pipeline.HeaderPosition] != position ||
		h[pipeline.HeaderTable] != "public.t" || h[pipeline.HeaderOp] != "c" {
		t.Errorf("dead-letter headers %v, want stage %s, position %s", h, stage, position)
	}
	if !contains(h[pipeline.HeaderError], errText) {
		t.Errorf("error header %q, want it to say %q", h[pipeline.HeaderError], errText)
	}
	var dl pipeline.DeadLetter
	if err := json.Unmarshal(r.Value, &dl); err != nil {
		t.Fatalf("dead-letter value %s: %v", r.Value, err)
	}
	want := pipeline.DeadLetter{Table: "public.t", Op: "c", After: map[string]any{"id": jsonInt(id)}}
	if !reflect.DeepEqual(dl, want) {
		t.Errorf("dead-letter value %+v, want %+v", dl, want)
	}
	if string(r.Key) != `{"id":"`+jsonInt(id)+`"}` {
		t.Errorf("dead-letter key %s", r.Key)
	}
}

func jsonInt(id int64) string { return strconv.FormatInt(id, 10) }

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestPolicySkip checks that skipped poison changes are counted when their transaction
// commits, and that the changes after them continue.
func TestPolicySkip(t *testing.T) {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(3), pipelinetest.Inserts(2)}
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: badRowAt(1, 1)}
	p := runAll(t, kafka, txns, enc, pipeline.Transforms(transform.Chain{poisonAt{0, 0}}),
		pipeline.ErrorPolicy(pipeline.PolicySkip, ""))
	checkTopic(t, kafka, without(txns, [2]int{0, 0}, [2]int{1, 1}))
	checkCommitted(t, p, pipelinetest.Pos(len(txns), 0))
	if s := p.Metrics().Stats(); s.Skipped != 2 || s.DeadLettered != 0 || s.Records != 3 {
		t.Fatalf("stats %+v, want 2 skipped and 3 records", s)
	}
}

// TestPolicyDoesNotHideOtherErrors checks that only poison changes are passed: under dlq, a
// registry outage, an incompatible schema, an unplannable table, a transform error that is not
// a change's, and any poison under fail, stop the run as before, with nothing dead-lettered.
func TestPolicyDoesNotHideOtherErrors(t *testing.T) {
	outage := &avro.RegistryError{URL: "http://registry", Subject: "srv.public.t-value", Op: "register", Err: errors.New("connection refused")}
	incompatible := &avro.IncompatibleError{Table: "public.t", Column: "id", Level: avro.CompatBackward, Reason: "changed from long to string"}
	tests := []struct {
		name      string
		policy    pipeline.Policy
		fail      error
		transform transform.Transform
		stage     pipeline.Stage
		retryable bool
	}{
		{"registry outage", pipeline.PolicyDLQ, outage, nil, pipeline.StageEncode, true},
		{"incompatible schema", pipeline.PolicyDLQ, incompatible, nil, pipeline.StageEncode, false},
		{"unplannable table", pipeline.PolicyDLQ, errors.Join(avro.ErrSchema, &avro.EncodeError{Table: "public.t", Err: avro.ErrBadValue}), nil, pipeline.StageEncode, true},
		{"transform misconfigured", pipeline.PolicySkip, nil, reject{}, pipeline.StageTransform, false},
		{"poison under fail", pipeline.PolicyFail, nil, poisonAt{0, 1}, pipeline.StageTransform, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kafka := newKafka(t)
			src := &pipelinetest.Source{Txns: []pipelinetest.Txn{pipelinetest.Inserts(3)}}
			var calls atomic.Int64
			enc := &pipelinetest.Encoder{Prefix: prefix, Fail: func(c *decoder.Change) error {
				calls.Add(1)
				if pipelinetest.Row(&c.Source) == 1 {
					return tt.fail
				}
				return nil
			}}
			dlq := ""
			if tt.policy == pipeline.PolicyDLQ {
				dlq = dlqTopic
			}
			opts := []pipeline.Option{pipeline.ErrorPolicy(tt.policy, dlq)}
			if tt.transform != nil {
				opts = append(opts, pipeline.Transforms(transform.Chain{tt.transform}))
			}
			p := newPipeline(t, kafka, src, enc, opts...)
			err := start(t, p).result(t)
			var se *pipeline.StageError
			if !errors.As(err, &se) || se.Stage != tt.stage || pipeline.IsRetryable(err) != tt.retryable {
				t.Fatalf("Run = %v, want a %s StageError, retryable %v", err, tt.stage, tt.retryable)
			}
			if len(src.Acks()) != 0 {
				t.Fatalf("acks %v", src.Acks())
			}
			if rs := readTopic(t, kafka, dlqTopic); len(rs) != 0 {
				t.Fatalf("dead-lettered %v", pipelinetest.Values(rs))
			}
			checkCommitted(t, p, offsets.Position{})
			if s := p.Metrics().Stats(); s.DeadLettered != 0 || s.Skipped != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestKeyChangeDeadLettered checks that a key change whose second half fails is dead-lettered
// whole, as the update the source sent, with nothing of its first half written.
func TestKeyChangeDeadLettered(t *testing.T) {
	row := func(id int64) []decoder.Value { return []decoder.Value{{State: decoder.ValueSet, Int: id}} }
	update := &decoder.Change{Op: decoder.OpUpdate, Table: pipelinetest.Table, Before: row(1), After: row(2)}
	after := pipelinetest.Change(decoder.OpCreate, 0, 1)
	kafka := newKafka(t)
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: func(c *decoder.Change) error {
		if c.Op == decoder.OpCreate && c.After[0].Int == 2 {
			return &avro.EncodeError{Table: "public.t", Column: "id", Err: avro.ErrBadValue}
		}
		return nil
	}}
	src := &scriptedSource{middle: []connectors.Event{{Kind: connectors.EventChange, Change: update}, {Kind: connectors.EventChange, Change: after}}}
	p := newPipeline(t, kafka, src, enc, pipeline.ErrorPolicy(pipeline.PolicyDLQ, dlqTopic))
	r := start(t, p)
	waitFor(t, patience, "the ack", func() error {
		if src.acks.Load() == 0 {
			return errors.New("no ack yet")
		}
		return nil
	})
	r.stop(t)
	checkTopic(t, kafka, []string{"0/1/c"})
	rs := readTopic(t, kafka, dlqTopic)
	if len(rs) != 1 {
		t.Fatalf("dead-letter topic %v, want the update", pipelinetest.Values(rs))
	}
	const want = `{"table":"public.t","op":"u","before":{"id":"1"},"after":{"id":"2"}}`
	if string(rs[0].Value) != want || string(rs[0].Key) != `{"id":"2"}` {
		t.Fatalf("dead letter %s / %s, want %s", rs[0].Key, rs[0].Value, want)
	}
}
