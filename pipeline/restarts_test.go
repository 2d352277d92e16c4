package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/rs/zerolog"
)

// lockedBuffer is a log sink safe for the pipeline's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines at level warn or above.
func (b *lockedBuffer) warnings(t *testing.T) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.Lines(b.buf.String()) {
		var rec struct {
			Level string `json:"level"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec.Level == "warn" || rec.Level == "error" {
			out = append(out, line)
		}
	}
	return out
}

// A retried run is reported once, with its error and next attempt, and logged once; the run
// after it is reported healthy once it commits.
func TestRunWithRestartsReportsRetries(t *testing.T) {
	withoutHiccups(t, func() error { return runWithRestartsReportsRetries(t) })
}

func runWithRestartsReportsRetries(t *testing.T) error {
	kafka := newKafka(t)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(1), pipelinetest.Inserts(1), pipelinetest.Inserts(1)}
	src := &pipelinetest.Source{Txns: txns}
	unreachable := errors.New("registry unreachable")
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: failOnce(1, 0, unreachable)}
	var log lockedBuffer
	p := newPipeline(t, kafka, src, enc, pipeline.MaxBatchRecords(1),
		pipeline.RestartBackoff(50*time.Millisecond, 100*time.Millisecond),
		pipeline.Logger(zerolog.New(&log)))

	type retry struct {
		err  error
		next time.Time
		at   time.Time
	}
	var mu sync.Mutex
	var retries []retry
	var events []string
	onRetry := pipeline.OnRetry(func(err error, next time.Time) {
		mu.Lock()
		defer mu.Unlock()
		retries = append(retries, retry{err, next, time.Now()})
		events = append(events, "retry")
	})
	// The healthy-after period is long: only the commit can make the run healthy here.
	onHealthy := pipeline.OnHealthy(time.Hour, func() {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, "healthy")
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	started := time.Now()
	go func() { done <- p.RunWithRestarts(ctx, onRetry, onHealthy) }()
	waitAck(t, src, len(txns), 0)
	deadline := time.Now().Add(patience)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the healthy report")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunWithRestarts = %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range retries {
		if err := isHiccup(t, r.err); err != nil {
			return err // a retry more than the scenario's
		}
	}
	if strings.Join(events, ",") != "retry,healthy" {
		t.Fatalf("reports %v, want one retry then healthy", events)
	}
	r := retries[0]
	if !errors.Is(r.err, unreachable) {
		t.Errorf("retry error %v, want the encoder's", r.err)
	}
	// The next attempt is the 50 ms backoff after the failure: within a second of the report
	// even on a loaded machine, and never before the run started.
	if wait := r.next.Sub(r.at); wait < -time.Second || wait > time.Second || r.next.Before(started) {
		t.Errorf("next attempt %v after the report, want the 50 ms backoff", wait)
	}
	if w := log.warnings(t); len(w) != 1 || !strings.Contains(w[0], "registry unreachable") || !strings.Contains(w[0], "next_attempt") {
		t.Errorf("%d warning lines for one retry, want 1 with the error and the next attempt:\n%s", len(w), strings.Join(w, ""))
	}
	return nil
}

// A restarted run that commits nothing is healthy once it has run for the healthy-after
// period without failing.
func TestRunWithRestartsHealthyAfterQuietRun(t *testing.T) {
	kafka := newKafka(t)
	// The second transaction fails once; the run after it commits nothing new before the
	// healthy-after period (a long linger keeps it open).
	src := &pipelinetest.Source{Txns: []pipelinetest.Txn{pipelinetest.Inserts(1), pipelinetest.Inserts(1)}}
	enc := &pipelinetest.Encoder{Prefix: prefix, Fail: failOnce(1, 0, errors.New("registry unreachable"))}
	p := newPipeline(t, kafka, src, enc, pipeline.RestartBackoff(time.Millisecond, time.Millisecond),
		pipeline.MaxBatchRecords(1000), pipeline.MaxLinger(20*time.Second))
	healthy := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- p.RunWithRestarts(ctx, pipeline.OnHealthy(50*time.Millisecond, func() { close(healthy) }))
	}()
	select {
	case <-healthy:
	case err := <-done:
		t.Fatalf("RunWithRestarts = %v before the run was healthy", err)
	case <-time.After(patience):
		t.Fatal("timed out waiting for the healthy report")
	}
}
