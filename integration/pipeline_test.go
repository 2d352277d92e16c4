package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pipelineEnv names what one pipeline test uses on the real Kafka, and deletes its topics at
// the end.
type pipelineEnv struct {
	kafka        []kgo.Opt
	connector    string
	prefix       string
	offsetsTopic string
}

func newPipelineEnv(t *testing.T) pipelineEnv {
	t.Helper()
	env := pipelineEnv{
		kafka:        []kgo.Opt{kgo.SeedBrokers(StackFromEnv().KafkaAddr)},
		connector:    Name(t, "conn"),
		prefix:       Name(t, "srv"),
		offsetsTopic: Name(t, "offsets"),
	}
	admin := kadm.NewClient(NewKafkaClient(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The pipeline created both topics; deleting a missing one is not an error here.
		if _, err := admin.DeleteTopics(ctx, env.offsetsTopic, pipelinetest.Topic(env.prefix)); err != nil {
			t.Errorf("deleting the pipeline's topics: %v", err)
		}
	})
	return env
}

func (env pipelineEnv) pipeline(t *testing.T, src connectors.Source, opts ...pipeline.Option) *pipeline.Pipeline {
	t.Helper()
	all := append([]pipeline.Option{
		pipeline.ConnectorName(env.connector),
		pipeline.TopicPrefix(env.prefix),
		pipeline.KafkaOpts(env.kafka...),
		pipeline.OffsetsTopic(env.offsetsTopic),
		pipeline.MaxBatchRecords(1),
	}, opts...)
	p, err := pipeline.New(src, &pipelinetest.Encoder{Prefix: env.prefix}, all...)
	if err != nil {
		t.Fatalf("pipeline.New: %v", err)
	}
	return p
}

// runPipeline runs p in a goroutine. done is closed when Run returns; stop cancels the run,
// waits for it and returns Run's error (also after done).
func runPipeline(t *testing.T, p *pipeline.Pipeline) (done <-chan struct{}, stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan struct{})
	var err error
	go func() {
		defer close(ch)
		err = p.Run(ctx)
	}()
	stop = func() error {
		cancel()
		<-ch
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

func waitPipelineAck(t *testing.T, src *pipelinetest.Source, tx int) {
	t.Helper()
	WaitFor(t, 60*time.Second, fmt.Sprintf("the ack of transaction %d", tx), func() error {
		if err := src.Violation(); err != nil {
			t.Fatal(err)
		}
		got, skip, ok := src.LastAck()
		if !ok || got != tx || skip != 0 {
			return fmt.Errorf("last ack %d+%d (any: %v)", got, skip, ok)
		}
		return nil
	})
}

func checkPipelineTopic(t *testing.T, env pipelineEnv, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	rs, err := pipelinetest.ReadCommitted(ctx, env.kafka, pipelinetest.Topic(env.prefix))
	if err != nil {
		t.Fatalf("reading the data topic: %v", err)
	}
	if err := pipelinetest.Diff(pipelinetest.Values(rs), want); err != nil {
		t.Fatalf("read_committed consumer: %v", err)
	}
}

// The records and the offset record commit together; each Ack follows its commit, in order.
func TestPipelineCommitWithOffsetThenAck(t *testing.T) {
	env := newPipelineEnv(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(1), pipelinetest.Inserts(3), pipelinetest.Inserts(2)}
	src := &pipelinetest.Source{Txns: txns}
	p := env.pipeline(t, src)
	src.OnAck = func(pos offsets.Position) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got, err := p.ReadCommitted(ctx)
		if err != nil || got.String() != pos.String() {
			t.Errorf("Ack(%s) while the committed position is %s (%v)", pos, got, err)
		}
		return nil
	}
	_, stop := runPipeline(t, p)
	waitPipelineAck(t, src, len(txns))
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
	if n := len(src.Acks()); n != len(txns) {
		t.Fatalf("%d acks, want %d (one Kafka transaction per source transaction)", n, len(txns))
	}
	checkPipelineTopic(t, env, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}

// A second process running the same connector fences the first; nothing is duplicated.
func TestPipelineSecondFencesFirst(t *testing.T) {
	env := newPipelineEnv(t)
	txns := make([]pipelinetest.Txn, 5)
	for i := range txns {
		txns[i] = pipelinetest.Inserts(2)
	}
	gate := pipelinetest.NewGate()
	srcA := &pipelinetest.Source{Txns: txns, Before: gate.At(2, 1)}
	doneA, stopA := runPipeline(t, env.pipeline(t, srcA))
	select {
	case <-gate.Reached:
	case <-doneA:
		t.Fatalf("pipeline A stopped early: %v", stopA())
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline A did not reach transaction 2")
	}

	srcB := &pipelinetest.Source{Txns: txns}
	_, stopB := runPipeline(t, env.pipeline(t, srcB))
	waitPipelineAck(t, srcB, len(txns))

	gate.Release()
	select {
	case <-doneA:
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline A was not stopped by the fencing")
	}
	errA := stopA()
	if !errors.Is(errA, pipeline.ErrFenced) || pipeline.IsRetryable(errA) {
		t.Fatalf("pipeline A: Run = %v, want ErrFenced, not retryable", errA)
	}
	if tx, _, _ := srcA.LastAck(); tx > 2 {
		t.Fatalf("pipeline A acked transaction %d after being fenced", tx)
	}
	if err := stopB(); !errors.Is(err, context.Canceled) {
		t.Fatalf("pipeline B: Run after cancel = %v, want context.Canceled", err)
	}
	checkPipelineTopic(t, env, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}
