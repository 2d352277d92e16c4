package worker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
)

// waitErr waits until check returns an error (wantErr) or nil (!wantErr), for up to a minute.
func waitErr(ctx context.Context, t *testing.T, what string, wantErr bool, check func(context.Context) error) error {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := check(ctx)
		if (err != nil) == wantErr {
			return err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %v after a minute", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLiveFailsWhenWedged holds a connector's lock, as a wedged manager would, and sees Live
// fail once the heartbeat is stale, then recover once the lock is released; and the manager's
// own lock the same way.
func TestLiveFailsWhenWedged(t *testing.T) {
	ctx := testCtx(t)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer cancel()
	m := newManager(ctx, t, newCluster(t), newFakeFactory())
	if err := m.Live(ctx); err != nil {
		t.Fatalf("Live of a fresh manager: %v", err)
	}
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	waitState(ctx, t, m, "a", api.StateRunning)
	// Shortened before any concurrent Live: the heartbeat goroutine never reads it.
	m.health.staleAfter = 1500 * time.Millisecond

	e, err := m.lookup("a")
	if err != nil {
		t.Fatal(err)
	}
	for _, held := range []struct {
		what string
		mu   *sync.Mutex
	}{{"a connector's lock", &e.mu}, {"the manager's lock", &m.mu}} {
		func() {
			held.mu.Lock()
			// Released however the wait ends: Close, at the test's end, takes it.
			defer held.mu.Unlock()
			err := waitErr(ctx, t, "Live with "+held.what+" held", true, m.Live)
			wantErr(t, "Live wedged", err, api.ErrUnavailable)
		}()
		waitErr(ctx, t, "Live after "+held.what+" is released", false, m.Live)
	}

	m.Close()
	if err := m.Live(ctx); err != nil {
		t.Fatalf("Live after Close: %v", err)
	}
}

// TestReadyFollowsKafka: Ready answers nil while the broker answers and ErrUnavailable once it
// is gone.
func TestReadyFollowsKafka(t *testing.T) {
	ctx := testCtx(t)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	m := newManager(ctx, t, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, newFakeFactory())
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("Ready with Kafka up: %v", err)
	}
	c.Close()
	err = waitErr(ctx, t, "Ready with Kafka gone", true, m.Ready)
	wantErr(t, "Ready with Kafka gone", err, api.ErrUnavailable)
	if err := m.Live(ctx); err != nil {
		t.Fatalf("Live with Kafka gone: %v (a Kafka outage is not a wedged worker)", err)
	}
}
