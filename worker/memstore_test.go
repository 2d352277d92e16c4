package worker

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// failures records the calls of an OnFailed function.
type failures struct {
	mu    sync.Mutex
	calls []string
}

func (f *failures) add(name string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name+": "+err.Error())
}

func (f *failures) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// A manager keeping its configurations in memory runs the static connectors as one on the
// config topic does (states, target changes, retries), without creating the config topic.
func TestInMemoryConfigsRunStaticConnectorsWithoutTheConfigTopic(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	f := newFakeFactory()
	f.setBuildErr("retried", errors.New("database unreachable"))
	m := newManager(ctx, t, kafka, f, InMemoryConfigs(), StaticConnectors(map[string]api.Config{
		"a": fakeConfig("pa"), "b": fakeConfig("pb"), "retried": fakeConfig("pr"),
	}))
	if names, err := m.Connectors(ctx); err != nil || !slices.Equal(names, []string{"a", "b", "retried"}) {
		t.Fatalf("Connectors = %v, %v", names, err)
	}
	waitState(ctx, t, m, "a", api.StateRunning)
	waitState(ctx, t, m, "b", api.StateRunning)
	waitState(ctx, t, m, "retried", api.StateRestarting)
	f.setBuildErr("retried", nil)
	waitState(ctx, t, m, "retried", api.StateRunning)

	if err := m.Pause(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m, "b", api.StatePaused)
	if err := m.Resume(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m, "b", api.StateRunning)
	if _, err := m.DeleteConnector(ctx, "b", api.DeleteKeep); err != nil {
		t.Fatal(err)
	}
	if names, _ := m.Connectors(ctx); !slices.Equal(names, []string{"a", "retried"}) {
		t.Fatalf("Connectors after a delete = %v", names)
	}

	cl, err := kgo.NewClient(kafka...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has(DefaultConfigTopic) {
		t.Fatalf("the in-memory manager created the config topic %s", DefaultConfigTopic)
	}
}

func TestMemStore(t *testing.T) {
	ctx := testCtx(t)
	s := newMemStore()
	if stored, broken, err := s.load(ctx); err != nil || len(stored) != 0 || len(broken) != 0 {
		t.Fatalf("load of a new store = %v, %v, %v", stored, broken, err)
	}
	a := storedConnector{Config: fakeConfig("pa"), Target: targetStarted}
	for _, step := range []struct {
		name string
		s    *storedConnector
	}{{"a", &a}, {"b", &a}, {"b", nil}, {"c", nil}} {
		if err := s.put(ctx, step.name, step.s); err != nil {
			t.Fatalf("put %s: %v", step.name, err)
		}
	}
	stored, _, err := s.load(ctx)
	if err != nil || len(stored) != 1 || stored["a"].Target != targetStarted || stored["a"].Config["topic_prefix"] != "pa" {
		t.Fatalf("load = %v, %v; want a alone", stored, err)
	}
	s.close()
}

// OnFailed hears of every connector that becomes FAILED, by its build or its run, and of
// nothing else: not a retried build, a stop or a delete.
func TestOnFailed(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{{"config topic", nil}, {"in memory", []Option{InMemoryConfigs()}}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			f := newFakeFactory()
			f.setBuildErr("unbuildable", permanent{})
			f.setBuildErr("retried", errors.New("database unreachable"))
			var heard failures
			m := newManager(ctx, t, newCluster(t), f, append(tc.opts, OnFailed(heard.add))...)
			for _, name := range []string{"a", "stopped", "unbuildable", "retried"} {
				mustPut(ctx, t, m, name, fakeConfig("p-"+name))
			}
			waitState(ctx, t, m, "a", api.StateRunning)
			waitState(ctx, t, m, "stopped", api.StateRunning)
			waitState(ctx, t, m, "unbuildable", api.StateFailed)
			waitFor(t, "a second build", func() bool { return f.buildCount("retried") >= 2 })
			if err := m.Stop(ctx, "stopped"); err != nil {
				t.Fatal(err)
			}
			f.conn("a").fail <- errors.New("schema incompatible: table t")
			waitState(ctx, t, m, "a", api.StateFailed)
			want := []string{"unbuildable: " + (permanent{}).Error(), "a: schema incompatible: table t"}
			waitFor(t, "two failures heard", func() bool { return len(heard.list()) >= 2 })
			if got := heard.list(); !slices.Equal(got, want) {
				t.Fatalf("OnFailed heard %q, want %q", got, want)
			}
		})
	}
}
