package pipeline_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// mixedTxns returns n transactions of 1 to 30 creates, updates and deletes, the same for a
// seed.
func mixedTxns(n int, seed uint64) []pipelinetest.Txn {
	rng := rand.New(rand.NewPCG(seed, seed))
	ops := []decoder.Op{decoder.OpCreate, decoder.OpUpdate, decoder.OpDelete}
	txns := make([]pipelinetest.Txn, n)
	for i := range txns {
		txns[i] = make(pipelinetest.Txn, 1+rng.IntN(30))
		for j := range txns[i] {
			txns[i][j] = ops[rng.IntN(len(ops))]
		}
	}
	return txns
}

// TestOrderThroughTheEncodeQueue checks that every record arrives once, in the source's order,
// whatever the encode queue's bounds: one event, a few events, a few bytes (each batch closes
// at its first record), the default. It asserts no run boundary, so a run ended by a Kafka
// hiccup is followed by one resumed from the committed position, as in production.
func TestOrderThroughTheEncodeQueue(t *testing.T) {
	txns := mixedTxns(200, 1)
	queues := []struct {
		name          string
		events, bytes int
	}{
		{"one event", 1, 1},
		{"seven events", 7, 1 << 20},
		{"few bytes", 1024, 16},
		{"default", pipeline.DefaultEncodeQueueEvents, pipeline.DefaultEncodeQueueBytes},
	}
	for _, q := range queues {
		t.Run(q.name, func(t *testing.T) {
			kafka := newKafka(t)
			src := &pipelinetest.Source{Txns: txns}
			p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
				pipeline.MaxBatchRecords(50), pipeline.EncodeQueue(q.events, q.bytes))
			r := startRestarting(t, p)
			r.waitAck(t, src, len(txns), 0)
			r.stop(t)
			checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
		})
	}
}

// TestEncodeErrorAbortsTheWholeKafkaTransaction checks that an encode error aborts the Kafka
// transaction it falls in, with the whole source transactions it already held: nothing of it
// is visible or acknowledged, and the next run writes it all once.
func TestEncodeErrorAbortsTheWholeKafkaTransaction(t *testing.T) {
	kafka := newKafka(t)
	txns := mixedTxns(6, 2)
	src := &pipelinetest.Source{Txns: txns}
	boom := errors.New("registry unreachable")
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: failOnce(4, 0, boom)}
	var clock fakeClock // frozen, and a linger no timer reaches: one Kafka transaction for all
	p := newPipeline(t, kafka, src, enc, clock.option(), pipeline.MaxBatchRecords(1_000_000),
		pipeline.MaxLinger(time.Minute), pipeline.TransactionTimeout(5*time.Minute))

	err := start(t, p).result(t)
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != pipeline.StageEncode || !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want an encode StageError wrapping %v", err, boom)
	}
	if acks := src.Acks(); len(acks) != 0 {
		t.Fatalf("acks %v: nothing was committed", acks)
	}
	checkTopic(t, kafka, nil)
	checkCommitted(t, p, offsets.Position{})
	if n := p.Metrics().Stats().Aborts; n != 1 {
		t.Fatalf("aborts = %d, want 1", n)
	}

	// The same connector with the default bounds, so that its transactions close.
	r := startRestarting(t, newPipeline(t, kafka, src, enc))
	r.waitAck(t, src, len(txns), 0)
	r.stop(t)
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}

// TestKafkaStageFailureStopsEncoding checks that a failure of the Kafka stage (here the Ack)
// ends the run, encode stage included: no change is encoded once Run has returned.
func TestKafkaStageFailureStopsEncoding(t *testing.T) {
	kafka := newKafka(t)
	txns := make([]pipelinetest.Txn, 5000)
	for i := range txns {
		txns[i] = pipelinetest.Inserts(2)
	}
	src := &pipelinetest.Source{Txns: txns}
	ackErr := errors.New("slot gone")
	src.OnAck = func(offsets.Position) error { return ackErr }
	var returned atomic.Bool
	var late atomic.Int64
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: func(*decoder.Change) error {
		if returned.Load() {
			late.Add(1)
		}
		return nil
	}}
	p := newPipeline(t, kafka, src, enc, pipeline.MaxBatchRecords(1))
	err := start(t, p).result(t)
	returned.Store(true)
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != pipeline.StageAck || !errors.Is(err, ackErr) {
		t.Fatalf("Run = %v, want an ack StageError wrapping %v", err, ackErr)
	}
	// A second run proves the first one's stages are gone: it encodes from the committed
	// position (tx 1) on, and its changes are not counted as late.
	src.OnAck = nil
	returned.Store(false)
	r := startRestarting(t, p)
	r.waitAck(t, src, len(txns), 0)
	r.stop(t)
	if n := late.Load(); n != 0 {
		t.Fatalf("%d changes encoded after Run returned", n)
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
}

// tickingClock moves one second each time it is read: the Kafka stage reads it when it opens a
// Kafka transaction and after each change, so a long source transaction is cut every few
// changes however far ahead the encode stage is.
type tickingClock struct{ ns atomic.Int64 }

func (c *tickingClock) now() time.Time { return time.Unix(0, c.ns.Add(int64(time.Second))) }

// TestCutsWithEncodeQueue checks the cut bookkeeping with the encode stage running ahead:
// whenever the source hears of a position, a read_committed consumer sees exactly the records
// before it (for a cut: the Begin's transaction's first Skip changes), and a run resumed from
// it, after a failure, writes the rest once.
func TestCutsWithEncodeQueue(t *testing.T) {
	withoutHiccups(t, func() error { return cutsWithEncodeQueue(t) })
}

func cutsWithEncodeQueue(t *testing.T) error {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(40), pipelinetest.Inserts(2)}
	want := pipelinetest.Expected(txns, pipeline.TombstonesOn)
	src := &pipelinetest.Source{Txns: txns}
	src.OnAck = func(pos offsets.Position) error {
		tx, skip, err := pipelinetest.ParsePos(pos)
		if err != nil {
			return err
		}
		n := len(pipelinetest.Expected(txns[:tx], pipeline.TombstonesOn)) + int(skip) // inserts only
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		rs, err := pipelinetest.ReadCommitted(ctx, kafka, pipelinetest.Topic(prefix))
		if err != nil {
			return err
		}
		if err := pipelinetest.Diff(pipelinetest.Values(rs), want[:n]); err != nil {
			t.Errorf("at the ack of %s: %v", pos, err)
		}
		return nil
	}
	var clock tickingClock
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: failOnce(1, 31, errors.New("registry unreachable"))}
	p := newPipeline(t, kafka, src, enc, pipeline.MaxBatchRecords(1),
		pipeline.TransactionTimeout(10*time.Second), pipeline.WithClock(clock.now))

	runErr := start(t, p).result(t)
	if err := isHiccup(t, runErr); err != nil {
		return err
	}
	if !pipeline.IsRetryable(runErr) {
		t.Fatalf("Run = %v, want a retryable error", runErr)
	}
	acks := src.Acks()
	cuts := 0
	for _, a := range acks {
		tx, skip, _ := pipelinetest.ParsePos(a)
		if tx == 1 && skip > 0 {
			cuts++
			if skip > 31 {
				t.Fatalf("cut at %s: past the change that failed", a)
			}
		}
	}
	if cuts < 2 {
		t.Fatalf("acks %v: want several cuts inside tx 1", acks)
	}
	last := acks[len(acks)-1]
	checkCommitted(t, p, last)

	r := start(t, p)
	if err := r.ackOrHiccup(t, src, len(txns), 0); err != nil {
		return err
	}
	r.stop(t)
	if err := samePositions(src.Starts(), offsets.Position{}, last); err != nil {
		t.Fatalf("stream starts: %v", err)
	}
	checkTopic(t, kafka, want)
	if err := src.Violation(); err != nil {
		t.Fatal(err)
	}
	return nil
}
