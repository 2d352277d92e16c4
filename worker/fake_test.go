package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const secretKey = "postgres.password"

// fakeFactory builds fakeConns; its Build fails for the names in buildErr.
type fakeFactory struct {
	mu       sync.Mutex
	buildErr map[string]error
	// leftovers are the calls of Leftovers.
	leftovers []leftoverCall
	builds    map[string]int
	conns     map[string]*fakeConn // the last built, per name
	signals   map[string][]string
}

func newFakeFactory() *fakeFactory {
	return &fakeFactory{
		buildErr: make(map[string]error),
		builds:   make(map[string]int),
		conns:    make(map[string]*fakeConn),
		signals:  make(map[string][]string),
	}
}

// Conflicts refuses a connector whose "slot" another connector has.
func (f *fakeFactory) Conflicts(_ string, cfg api.Config, others map[string]api.Config) []api.FieldError {
	for name, o := range others {
		if cfg["slot"] != "" && o["slot"] == cfg["slot"] {
			return []api.FieldError{{Name: "slot", Message: "connector " + name + " has it"}}
		}
	}
	return nil
}

func (f *fakeFactory) Validate(_ context.Context, _ string, cfg api.Config) []api.FieldError {
	var out []api.FieldError
	if cfg["type"] != "fake" {
		out = append(out, api.FieldError{Name: "type", Message: fmt.Sprintf("unknown type %q", cfg["type"])})
	}
	if cfg["topic_prefix"] == "" {
		out = append(out, api.FieldError{Name: "topic_prefix", Message: "required"})
	}
	return out
}

func (f *fakeFactory) Build(ctx context.Context, name string, cfg api.Config) (Connector, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.builds[name]++
	if err := f.buildErr[name]; err != nil {
		return nil, err
	}
	c := &fakeConn{cfg: cfg, started: make(chan struct{}), ended: make(chan struct{}), fail: make(chan error, 1),
		report: make(chan func(Health))}
	f.conns[name] = c
	return c, nil
}

func (f *fakeFactory) OffsetKey(name string, cfg api.Config) offsets.Key {
	return offsets.Key{Connector: name, Server: cfg["topic_prefix"]}
}

func (f *fakeFactory) TransactionalID(name string) string { return "cdcd-" + name }

func (f *fakeFactory) CheckOffset(_ context.Context, _ string, _ api.Config, pos offsets.Position) error {
	if strings.Contains(string(pos.Source), "purged") {
		return fmt.Errorf("%w: the source no longer has %s", api.ErrInvalid, pos)
	}
	return nil
}

func (f *fakeFactory) Signal(_ context.Context, name string, _ api.Config, tables []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals[name] = append(f.signals[name], tables...)
	return nil
}

func (f *fakeFactory) Secret(key string) bool { return key == secretKey }

// Leftovers records each call, with whether the connector's run had ended, and answers with
// a slot kept or dropped.
func (f *fakeFactory) Leftovers(_ context.Context, name string, _ api.Config, mode api.DeleteMode) (api.Deleted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conns[name]
	f.leftovers = append(f.leftovers, leftoverCall{name: name, mode: mode, runEnded: c == nil || c.isEnded()})
	if mode == api.DeletePurge {
		return api.Deleted{Dropped: []string{"slot " + name}}, nil
	}
	return api.Deleted{Kept: []string{"slot " + name + " keeps WAL"}}, nil
}

// leftoverCall is one call of fakeFactory.Leftovers.
type leftoverCall struct {
	name     string
	mode     api.DeleteMode
	runEnded bool
}

func (f *fakeFactory) setBuildErr(name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buildErr[name] = err
}

func (f *fakeFactory) buildCount(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.builds[name]
}

func (f *fakeFactory) conn(name string) *fakeConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns[name]
}

// fakeConn runs until its context ends or a value is sent on fail; a function sent on report
// is called with the run's Health.
type fakeConn struct {
	cfg     api.Config
	started chan struct{}
	ended   chan struct{}
	fail    chan error
	report  chan func(Health)
	once    sync.Once
}

func (c *fakeConn) Run(ctx context.Context, health Health) error {
	c.once.Do(func() { close(c.started) })
	defer close(c.ended)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-c.fail:
			return err
		case f := <-c.report:
			f(health)
		}
	}
}

func (c *fakeConn) Stats() pipeline.Stats {
	return pipeline.Stats{Records: 3, Transactions: 2, Bytes: 100, Aborts: 1, HangingAborted: 1,
		DeadLettered: 4, Skipped: 5, Restarts: 6, SourceEvents: 7, SourceBytes: 800,
		LastSourceCommit: time.Now().Add(-90 * time.Second), OldestUncommitted: time.Now().Add(-30 * time.Second),
		Backlog: connectors.Backlog{Bytes: 4096}, HasBacklog: true,
		QueueEvents: 11, QueueBytes: 1100, EncodeQueueEvents: 12, EncodeQueueBytes: 1200,
		Latency: pipeline.HistogramSnapshot{Buckets: map[float64]uint64{0.1: 1, 1: 2}, Count: 3, Sum: 2.5}}
}

func (c *fakeConn) Progress() []api.TableProgress {
	return []api.TableProgress{{Table: "public.t", Rows: 7, EstimatedTotal: 10}}
}

// isEnded tells whether the connector's Run returned.
func (c *fakeConn) isEnded() bool {
	select {
	case <-c.ended:
		return true
	default:
		return false
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newCluster(t *testing.T) []kgo.Opt {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

// newManager starts a Manager on the cluster, closed at the end of the test.
func newManager(ctx context.Context, t *testing.T, kafka []kgo.Opt, f Factory, opts ...Option) *Manager {
	t.Helper()
	all := append([]Option{KafkaOpts(kafka...), WorkerID("w1"), BuildRetry(5*time.Millisecond, 20*time.Millisecond)}, opts...)
	m, err := New(ctx, f, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

func fakeConfig(prefix string) api.Config {
	return api.Config{"type": "fake", "topic_prefix": prefix, secretKey: "s3cret"}
}

// waitFor waits until cond holds, failing the test at the deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitState waits until the connector's status is state.
func waitState(ctx context.Context, t *testing.T, m *Manager, name string, state api.State) api.ConnectorStatus {
	t.Helper()
	var st api.ConnectorStatus
	waitFor(t, fmt.Sprintf("%s %s", name, state), func() bool {
		var err error
		st, err = m.Status(ctx, name)
		return err == nil && st.Connector.State == state
	})
	return st
}

func mustPut(ctx context.Context, t *testing.T, m *Manager, name string, cfg api.Config) {
	t.Helper()
	if _, _, err := m.PutConnector(ctx, name, cfg); err != nil {
		t.Fatalf("PutConnector %s: %v", name, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}
