package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	connector = "inventory"
	prefix    = "srv"
)

// patience bounds every wait on a pipeline or kfake in these tests: far above what it takes
// (well under a second), so that CI's go test -race on a loaded, shared machine does not fail a
// test that is only slow, and under go test's default timeout of ten minutes.
const patience = 2 * time.Minute

// newKafka starts an in-process Kafka and returns the options to reach it.
func newKafka(t *testing.T) []kgo.Opt {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

func newPipeline(t *testing.T, kafka []kgo.Opt, src connectors.Source, enc pipeline.Encoder, opts ...pipeline.Option) *pipeline.Pipeline {
	t.Helper()
	all := append([]pipeline.Option{
		pipeline.ConnectorName(connector),
		pipeline.TopicPrefix(prefix),
		pipeline.KafkaOpts(kafka...),
	}, opts...)
	p, err := pipeline.New(src, enc, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// running is a Run in a goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, p *pipeline.Pipeline) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	t.Cleanup(func() { r.cancel(); <-r.done })
	return r
}

// waitAck is waitAck for a pipeline that must keep running meanwhile: a Run that ends first
// fails the test with its error rather than with a missing ack.
func (r *running) waitAck(t *testing.T, src *pipelinetest.Source, tx int, skip int64) {
	t.Helper()
	if err := r.ackOrHiccup(t, src, tx, skip); err != nil {
		t.Fatalf("Run ended before the ack of tx %d+%d: %v", tx, skip, err)
	}
}

// ackOrHiccup is waitAck inside a scenario run by withoutHiccups: a Run that ends first with a
// Kafka hiccup returns its error, for the scenario to return; any other end fails the test.
func (r *running) ackOrHiccup(t *testing.T, src *pipelinetest.Source, tx int, skip int64) error {
	t.Helper()
	return r.waitOrHiccup(t, fmt.Sprintf("the ack of tx %d+%d", tx, skip), func() error { return ackedAt(t, src, tx, skip) })
}

// waitOrHiccup waits for cond while the Run goes on. A Run that ends first returns its error
// if it is a Kafka hiccup (see kafkaHiccup), and fails the test otherwise.
func (r *running) waitOrHiccup(t *testing.T, what string, cond func() error) error {
	t.Helper()
	var hiccup error
	waitFor(t, patience, what, func() error {
		select {
		case err := <-r.done:
			r.done <- err // for the cleanup
			if hiccup = isHiccup(t, err); hiccup != nil {
				return nil
			}
			t.Fatalf("Run ended while waiting for %s: %v", what, err)
		default:
		}
		return cond()
	})
	return hiccup
}

// result waits for the Run to end by itself and returns its error.
func (r *running) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(patience):
		t.Fatal("the pipeline did not stop")
		return nil
	}
}

// kafkaHiccup tells whether err, the end of a Run, is one of the produce errors that franz-go's
// transactional producer gets now and then from kfake, more often on a loaded machine, when a
// Kafka transaction follows another: OUT_OF_ORDER_SEQUENCE_NUMBER when the client sends a
// partition's first record under the epoch that EndTxn v5 bumped (KIP-890) with the sequence of
// the previous epoch (franz-go v1.22.2 misses that reset for a partition now and then; a Kafka 4
// broker would refuse it the same way), and INVALID_TXN_STATE, seen when kfake emulated Kafka
// 3.9. The pipeline ends the run with a retryable error and aborts; RunWithRestarts resumes from
// the committed position. A test that asserts what one Run does cannot go on from there: it
// runs its scenario again, on a new cluster, with withoutHiccups.
func kafkaHiccup(err error) bool {
	return errors.Is(err, kerr.OutOfOrderSequenceNumber) || errors.Is(err, kerr.InvalidTxnState)
}

// isHiccup returns err if it is a Kafka hiccup, after checking that the pipeline reports it as
// retryable, and nil otherwise.
func isHiccup(t *testing.T, err error) error {
	t.Helper()
	if !kafkaHiccup(err) {
		return nil
	}
	if !pipeline.IsRetryable(err) {
		t.Fatalf("Run = %v: a Kafka hiccup must be retryable", err)
	}
	return err
}

// maxHiccups is how many attempts of a scenario withoutHiccups makes. A hiccup disturbs a few
// scenarios in a hundred on a loaded machine, so five in a row mean something else is wrong.
const maxHiccups = 5

// withoutHiccups runs scenario, each time with everything new (cluster, source, pipeline),
// until one attempt ends without a Kafka hiccup. The scenario asserts everything itself and
// returns nil, or returns the error of a Run that ended with a hiccup (see isHiccup and
// ackOrHiccup): the attempt proves nothing, and is logged and made again.
func withoutHiccups(t *testing.T, scenario func() error) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		err := scenario()
		if err == nil {
			return
		}
		if attempt == maxHiccups {
			t.Fatalf("%d attempts all ended by a Kafka hiccup, the last: %v", attempt, err)
		}
		t.Logf("attempt %d ended by a Kafka hiccup, starting over on a new cluster: %v", attempt, err)
	}
}

// startRestarting is start with RunWithRestarts, for a test that asserts no run boundary: a
// run ended by a Kafka hiccup is followed by one resumed from the committed position, as in
// production; a retry for any other error fails the test.
func startRestarting(t *testing.T, p *pipeline.Pipeline) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	retry := pipeline.OnRetry(func(err error, _ time.Time) {
		if !kafkaHiccup(err) {
			t.Errorf("Run = %v, retried", err)
			return
		}
		t.Logf("Run ended by a Kafka hiccup, restarting from the committed position: %v", err)
	})
	go func() { r.done <- p.RunWithRestarts(ctx, retry) }()
	t.Cleanup(func() { r.cancel(); <-r.done })
	return r
}

// stop cancels the Run and checks it ends with the context's error.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	err := r.result(t)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v, want context.Canceled", err)
	}
}

// waitFor polls cond until it returns nil, failing the test after timeout. The pause only
// spaces the polls.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitAck(t *testing.T, src *pipelinetest.Source, tx int, skip int64) {
	t.Helper()
	waitFor(t, patience, fmt.Sprintf("the ack of tx %d+%d", tx, skip), func() error { return ackedAt(t, src, tx, skip) })
}

// ackedAt tells whether src's last ack is tx+skip, failing the test on an ack out of order.
func ackedAt(t *testing.T, src *pipelinetest.Source, tx int, skip int64) error {
	t.Helper()
	if err := src.Violation(); err != nil {
		t.Fatal(err)
	}
	gotTx, gotSkip, ok := src.LastAck()
	if !ok || gotTx != tx || gotSkip != skip {
		return fmt.Errorf("last ack %d+%d (any: %v)", gotTx, gotSkip, ok)
	}
	return nil
}

// checkTopic asserts what a read_committed consumer sees in the data topic.
func checkTopic(t *testing.T, kafka []kgo.Opt, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	rs, err := pipelinetest.ReadCommitted(ctx, kafka, pipelinetest.Topic(prefix))
	if err != nil {
		t.Fatalf("reading the data topic: %v", err)
	}
	if err := pipelinetest.Diff(pipelinetest.Values(rs), want); err != nil {
		t.Fatalf("read_committed consumer: %v", err)
	}
}

func checkCommitted(t *testing.T, p *pipeline.Pipeline, want offsets.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	got, err := p.ReadCommitted(ctx)
	if err != nil {
		t.Fatalf("ReadCommitted: %v", err)
	}
	if string(got.Source) != string(want.Source) || got.Skip != want.Skip {
		t.Fatalf("committed position %s, want %s", got, want)
	}
}

func samePositions(got []offsets.Position, want ...offsets.Position) error {
	if len(got) != len(want) {
		return fmt.Errorf("positions %v, want %v", got, want)
	}
	for i := range got {
		if string(got[i].Source) != string(want[i].Source) || got[i].Skip != want[i].Skip {
			return fmt.Errorf("positions %v, want %v", got, want)
		}
	}
	return nil
}

// failOnce returns an Encoder.Fail hook that fails change i of transaction tx the first time.
func failOnce(tx, i int, err error) func(*decoder.Change) error {
	var armed atomic.Bool
	armed.Store(true)
	return func(c *decoder.Change) error {
		if int(pipelinetest.TxID(&c.Source)) == tx && int(pipelinetest.Row(&c.Source)) == i && armed.CompareAndSwap(true, false) {
			return err
		}
		return nil
	}
}

// (a) The records and the offset record commit together; the Ack follows the commit, in order.
func TestCommitWithOffsetThenAck(t *testing.T) {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(1), pipelinetest.Inserts(3), pipelinetest.Inserts(2),
		pipelinetest.Inserts(1), pipelinetest.Inserts(2)}
	src := &pipelinetest.Source{Txns: txns}
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}, pipeline.MaxBatchRecords(2))
	src.OnAck = func(pos offsets.Position) error {
		// When the source hears of a position, it must already be committed.
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		got, err := p.ReadCommitted(ctx)
		if err != nil || got.String() != pos.String() {
			t.Errorf("Ack(%s) while the committed position is %s (%v)", pos, got, err)
		}
		return nil
	}
	r := startRestarting(t, p) // a run ended by a hiccup commits nothing more: the counts hold
	r.waitAck(t, src, len(txns), 0)
	r.stop(t)

	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
	checkCommitted(t, p, pipelinetest.Pos(len(txns), 0))
	acks := src.Acks()
	if len(acks) < 2 {
		t.Fatalf("acks %v: MaxBatchRecords(2) should have made several Kafka transactions", acks)
	}
	s := p.Metrics().Stats()
	if s.Records != 9 || s.Transactions != int64(len(acks)) || s.LastCommitted.String() != pipelinetest.Pos(5, 0).String() {
		t.Fatalf("stats %+v with %d acks", s, len(acks))
	}
}

// (b) An Encode error mid-transaction aborts it: nothing of it is visible, it is not acked, and
// the next run resumes from the last commit.
func TestEncodeErrorAbortsAndResumes(t *testing.T) {
	withoutHiccups(t, func() error { return encodeErrorAbortsAndResumes(t) })
}

func encodeErrorAbortsAndResumes(t *testing.T) error {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(3), pipelinetest.Inserts(3), pipelinetest.Inserts(3), pipelinetest.Inserts(3)}
	src := &pipelinetest.Source{Txns: txns}
	boom := errors.New("registry unreachable")
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: failOnce(2, 1, boom)}
	p := newPipeline(t, kafka, src, enc, pipeline.MaxBatchRecords(1))

	err := start(t, p).result(t)
	if err := isHiccup(t, err); err != nil {
		return err
	}
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != pipeline.StageEncode || !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want an encode StageError wrapping %v", err, boom)
	}
	if !pipeline.IsRetryable(err) {
		t.Fatalf("IsRetryable(%v) = false", err)
	}
	if err := samePositions(src.Acks(), pipelinetest.Pos(1, 0), pipelinetest.Pos(2, 0)); err != nil {
		t.Fatalf("acks: %v", err)
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns[:2], pipeline.TombstonesOn))
	checkCommitted(t, p, pipelinetest.Pos(2, 0))
	if p.Metrics().Stats().Aborts != 1 {
		t.Fatalf("aborts = %d, want 1", p.Metrics().Stats().Aborts)
	}

	r := start(t, p)
	if err := r.ackOrHiccup(t, src, len(txns), 0); err != nil {
		return err
	}
	r.stop(t)
	if err := samePositions(src.Starts(), offsets.Position{}, pipelinetest.Pos(2, 0)); err != nil {
		t.Fatalf("stream starts: %v", err)
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
	return nil
}

// fakeClock is a clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) option() pipeline.Option { return pipeline.WithClock(c.now) }
func (c *fakeClock) tick(time.Duration) func(*decoder.Change) error {
	return func(*decoder.Change) error { c.advance(time.Second); return nil }
}

// (c) A source transaction longer than the budget is cut with a Skip position and resumes
// exactly: no duplicate, no gap.
func TestHugeTransactionCutAndResume(t *testing.T) {
	withoutHiccups(t, func() error { return hugeTransactionCutAndResume(t) })
}

func hugeTransactionCutAndResume(t *testing.T) error {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(23), pipelinetest.Inserts(2)}
	src := &pipelinetest.Source{Txns: txns}
	var clock fakeClock
	tick := clock.tick(time.Second) // each change takes a second: the Kafka transaction is cut every 5
	fail := failOnce(1, 17, errors.New("registry unreachable"))
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: func(c *decoder.Change) error {
		_ = tick(c)
		return fail(c)
	}}
	// With a queue of one event, the encode stage takes the next change only once the Kafka
	// stage has handled the last one, so the cuts fall at fixed points; TestCutsWithEncodeQueue
	// covers the default queue. The first Kafka transaction of tx 1 opens at its Begin, five
	// changes before the cut; a later one opens at its first change, already encoded (one tick
	// gone), so it is cut six changes later: at 5, 11 and 17, where change 17 fails.
	p := newPipeline(t, kafka, src, enc, pipeline.MaxBatchRecords(1),
		pipeline.TransactionTimeout(10*time.Second), clock.option(), pipeline.EncodeQueue(1, 1))

	runErr := start(t, p).result(t)
	if err := isHiccup(t, runErr); err != nil {
		return err
	}
	if !pipeline.IsRetryable(runErr) {
		t.Fatalf("Run = %v, want a retryable error", runErr)
	}
	if err := samePositions(src.Acks(), pipelinetest.Pos(1, 0), pipelinetest.Pos(1, 5),
		pipelinetest.Pos(1, 11), pipelinetest.Pos(1, 17)); err != nil {
		t.Fatalf("acks: %v (Run ended with %v)", err, runErr)
	}
	checkCommitted(t, p, pipelinetest.Pos(1, 17))
	want := pipelinetest.Expected(txns, pipeline.TombstonesOn)
	checkTopic(t, kafka, want[:2+17])

	r := start(t, p)
	if err := r.ackOrHiccup(t, src, len(txns), 0); err != nil {
		return err
	}
	r.stop(t)
	if err := samePositions(src.Starts(), offsets.Position{}, pipelinetest.Pos(1, 17)); err != nil {
		t.Fatalf("stream starts: %v", err)
	}
	acks := src.Acks()
	// Resumed at its Begin (Skip 17), tx 1 is cut five changes later, at 22.
	if err := samePositions(acks[4:], pipelinetest.Pos(1, 22), pipelinetest.Pos(2, 0), pipelinetest.Pos(3, 0)); err != nil {
		t.Fatalf("acks after the restart: %v", err)
	}
	checkTopic(t, kafka, want)
	return nil
}

// (d) A second pipeline of the same connector fences the first, which stops with ErrFenced;
// nothing is duplicated.
func TestSecondPipelineFencesFirst(t *testing.T) {
	withoutHiccups(t, func() error { return secondPipelineFencesFirst(t) })
}

func secondPipelineFencesFirst(t *testing.T) error {
	kafka := newKafka(t)
	txns := make([]pipelinetest.Txn, 6)
	for i := range txns {
		txns[i] = pipelinetest.Inserts(2)
	}
	gate := pipelinetest.NewGate()
	srcA := &pipelinetest.Source{Txns: txns, Before: gate.At(3, 1)}
	a := newPipeline(t, kafka, srcA, &pipelinetest.Encoder{Prefix: prefix}, pipeline.MaxBatchRecords(1))
	runA := start(t, a)
	if err := runA.waitOrHiccup(t, "pipeline A to reach transaction 3", func() error {
		select {
		case <-gate.Reached:
			return nil
		default:
			return errors.New("not yet")
		}
	}); err != nil {
		return err
	}

	srcB := &pipelinetest.Source{Txns: txns}
	b := newPipeline(t, kafka, srcB, &pipelinetest.Encoder{Prefix: prefix}, pipeline.MaxBatchRecords(1))
	runB := startRestarting(t, b)
	runB.waitAck(t, srcB, len(txns), 0)

	gate.Release() // A goes on with a stale producer epoch
	errA := runA.result(t)
	if !errors.Is(errA, pipeline.ErrFenced) || pipeline.IsRetryable(errA) {
		t.Fatalf("pipeline A: Run = %v, want ErrFenced, not retryable", errA)
	}
	if tx, _, _ := srcA.LastAck(); tx > 3 {
		t.Fatalf("pipeline A acked transaction %d after being fenced", tx)
	}
	runB.stop(t)
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
	return nil
}

// (e) A lone small transaction is committed within the linger, with no further event.
func TestLingerCommitsLoneTransaction(t *testing.T) {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(2)}
	src := &pipelinetest.Source{Txns: txns}
	var clock fakeClock // frozen: at the Commit the linger has not elapsed, only the timer can close
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.MaxLinger(30*time.Millisecond), clock.option())
	r := start(t, p)
	r.waitAck(t, src, 1, 0)
	r.stop(t)
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
	if n := p.Metrics().Stats().Transactions; n != 1 {
		t.Fatalf("transactions = %d, want 1", n)
	}
}

// (f) Deletes are followed by a tombstone with the same key, unless turned off.
func TestTombstones(t *testing.T) {
	txns := []pipelinetest.Txn{
		{decoder.OpCreate, decoder.OpDelete},
		{decoder.OpUpdate, decoder.OpDelete, decoder.OpCreate},
	}
	for _, mode := range []pipeline.Tombstones{pipeline.TombstonesOn, pipeline.TombstonesOff} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			kafka := newKafka(t)
			src := &pipelinetest.Source{Txns: txns}
			p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}, pipeline.WithTombstones(mode))
			r := startRestarting(t, p)
			r.waitAck(t, src, len(txns), 0)
			r.stop(t)
			want := pipelinetest.Expected(txns, mode)
			if mode == pipeline.TombstonesOn && len(want) != 7 {
				t.Fatalf("expected %d records, the oracle is wrong", len(want))
			}
			checkTopic(t, kafka, want)
		})
	}
}

type dropOdd struct{}

func (dropOdd) Apply(c *decoder.Change) (*decoder.Change, error) {
	if pipelinetest.Row(&c.Source)%2 == 1 {
		return nil, nil
	}
	return c, nil
}

type reject struct{}

func (reject) Apply(c *decoder.Change) (*decoder.Change, error) {
	return nil, errors.New("poison change")
}

func TestTransforms(t *testing.T) {
	t.Run("drop", func(t *testing.T) {
		kafka := newKafka(t)
		txns := []pipelinetest.Txn{pipelinetest.Inserts(4)}
		src := &pipelinetest.Source{Txns: txns}
		p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
			pipeline.Transforms(transform.Chain{dropOdd{}}))
		r := start(t, p)
		r.waitAck(t, src, 1, 0)
		r.stop(t)
		all := pipelinetest.Expected(txns, pipeline.TombstonesOn)
		checkTopic(t, kafka, []string{all[0], all[2]})
	})
	t.Run("reject", func(t *testing.T) {
		kafka := newKafka(t)
		src := &pipelinetest.Source{Txns: []pipelinetest.Txn{pipelinetest.Inserts(1)}}
		p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
			pipeline.Transforms(transform.Chain{reject{}}))
		err := start(t, p).result(t)
		var se *pipeline.StageError
		if !errors.As(err, &se) || se.Stage != pipeline.StageTransform || pipeline.IsRetryable(err) {
			t.Fatalf("Run = %v, want a transform StageError, not retryable", err)
		}
		if len(src.Acks()) != 0 {
			t.Fatalf("acks %v after a rejected change", src.Acks())
		}
	})
}

type incompatible struct{}

func (incompatible) Error() string   { return "schema incompatible: column x removed" }
func (incompatible) Retryable() bool { return false }

func TestRunWithRestarts(t *testing.T) {
	t.Run("retryable", func(t *testing.T) { withoutHiccups(t, func() error { return runWithRestartsRetryable(t) }) })
	t.Run("final", func(t *testing.T) {
		kafka := newKafka(t)
		src := &pipelinetest.Source{Txns: []pipelinetest.Txn{pipelinetest.Inserts(1)}}
		enc := &pipelinetest.Encoder{Prefix: prefix, Fail: func(*decoder.Change) error { return incompatible{} }}
		p := newPipeline(t, kafka, src, enc, pipeline.RestartBackoff(time.Millisecond, time.Millisecond))
		err := p.RunWithRestarts(t.Context())
		if !errors.As(err, new(incompatible)) {
			t.Fatalf("RunWithRestarts = %v, want the incompatibility", err)
		}
		if n := len(src.Starts()); n != 1 {
			t.Fatalf("%d runs, want 1: a final error is not retried", n)
		}
	})
}

func runWithRestartsRetryable(t *testing.T) error {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(2), pipelinetest.Inserts(2)}
	src := &pipelinetest.Source{Txns: txns}
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: failOnce(1, 1, errors.New("registry unreachable"))}
	p := newPipeline(t, kafka, src, enc, pipeline.MaxBatchRecords(1),
		pipeline.RestartBackoff(time.Millisecond, 10*time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var hiccup atomic.Pointer[error]
	onRetry := pipeline.OnRetry(func(err error, _ time.Time) {
		if kafkaHiccup(err) {
			hiccup.CompareAndSwap(nil, &err)
		}
	})
	go func() { done <- p.RunWithRestarts(ctx, onRetry) }()
	waitAck(t, src, len(txns), 0)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunWithRestarts = %v, want context.Canceled", err)
	}
	if err := hiccup.Load(); err != nil {
		return isHiccup(t, *err) // a run more than the scenario's
	}
	if err := samePositions(src.Starts(), offsets.Position{}, pipelinetest.Pos(1, 0)); err != nil {
		t.Fatalf("stream starts: %v", err)
	}
	if n := p.Metrics().Stats().Restarts; n != 1 {
		t.Errorf("Restarts = %d, want 1 (one failed run run again)", n)
	}
	checkTopic(t, kafka, pipelinetest.Expected(txns, pipeline.TombstonesOn))
	return nil
}
