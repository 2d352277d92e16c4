package group

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// board is the test's oracle: which member runs each connector. A start while another member
// runs the connector fails the test.
type board struct {
	t       *testing.T
	mu      sync.Mutex
	conns   []string
	running map[string]string
	starts  map[string]int
}

func newBoard(t *testing.T, conns ...string) *board {
	return &board{t: t, conns: conns, running: make(map[string]string), starts: make(map[string]int)}
}

func (b *board) owners() map[string][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string][]string)
	for c, m := range b.running {
		out[m] = append(out[m], c)
	}
	return out
}

func (b *board) startCount(c string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.starts[c]
}

// runner is one member's fake worker.
type runner struct {
	b    *board
	name string
}

func (r *runner) StoredConnectors(context.Context) ([]string, error) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return slices.Clone(r.b.conns), nil
}

func (r *runner) Assign(_ context.Context, conns []string) error {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	for c, m := range r.b.running {
		if m == r.name && !slices.Contains(conns, c) {
			delete(r.b.running, c)
		}
	}
	for _, c := range conns {
		switch m := r.b.running[c]; m {
		case r.name:
		case "":
			r.b.running[c] = r.name
			r.b.starts[c]++
		default:
			r.b.t.Errorf("connector %s started on %s while %s runs it", c, r.name, m)
		}
	}
	return nil
}

// cuttable is a dialer whose connections the test can cut, as a network partition would.
type cuttable struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (d *cuttable) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cut {
		return nil, fmt.Errorf("cut")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cuttable) setCut(cut bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = cut
	if cut {
		for _, c := range d.conns {
			_ = c.Close()
		}
		d.conns = nil
	}
}

type testMember struct {
	m      *Member
	cancel context.CancelFunc
	done   chan struct{}
	dialer *cuttable
}

func startMember(t *testing.T, cluster *kfake.Cluster, b *board, worker string) *testMember {
	t.Helper()
	return startMemberDelay(t, cluster, b, worker, 0)
}

func startMemberDelay(t *testing.T, cluster *kfake.Cluster, b *board, worker string, delay time.Duration) *testMember {
	t.Helper()
	d := &cuttable{}
	client, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.Dialer(d.dial),
		kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Group: "g", Worker: worker, SessionTimeout: 3 * time.Second, HeartbeatInterval: 300 * time.Millisecond,
		RebalanceTimeout: 10 * time.Second, RebalanceDelay: delay, Log: zerolog.New(zerolog.NewTestWriter(t)).With().Str("worker", worker).Logger()},
		client, &runner{b: b, name: worker})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tm := &testMember{m: m, cancel: cancel, done: make(chan struct{}), dialer: d}
	go func() {
		defer close(tm.done)
		defer client.Close()
		_ = m.Run(ctx)
	}()
	t.Cleanup(tm.stop)
	return tm
}

func (tm *testMember) stop() {
	tm.cancel()
	<-tm.done
}

// waitFor polls cond until it holds or a minute has passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// balanced says whether every connector runs, on the given workers only, n each (±1).
func balanced(b *board, workers ...string) bool {
	owners := b.owners()
	total, lo, hi := 0, 1<<30, 0
	for _, w := range workers {
		n := len(owners[w])
		total, lo, hi = total+n, min(lo, n), max(hi, n)
	}
	return total == len(b.conns) && len(owners) == len(workers) && hi-lo <= 1
}

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestMembersShareAndMoveCooperatively(t *testing.T) {
	cluster := newCluster(t)
	b := newBoard(t, "c0", "c1", "c2", "c3", "c4", "c5")
	a := startMember(t, cluster, b, "a")
	waitFor(t, "a runs all", func() bool { return balanced(b, "a") })
	startMember(t, cluster, b, "b")
	startMember(t, cluster, b, "c")
	waitFor(t, "two each", func() bool { return balanced(b, "a", "b", "c") })

	// A fourth joins: the connectors that do not move are never restarted.
	starts := make(map[string]int)
	for _, c := range b.conns {
		starts[c] = b.startCount(c)
	}
	startMember(t, cluster, b, "d")
	waitFor(t, "four members share", func() bool { return balanced(b, "a", "b", "c", "d") })
	moved := 0
	for _, c := range b.conns {
		if n := b.startCount(c) - starts[c]; n > 1 {
			t.Errorf("connector %s started %d times", c, n)
		} else if n == 1 {
			moved++
		}
	}
	if moved != 1 { // shares 2, 2, 1, 1
		t.Errorf("%d connectors moved to the new member, want 1", moved)
	}
	v := a.m.View()
	if len(v.Members) != 4 || v.Generation == 0 || v.Leader == "" {
		t.Errorf("view %+v", v)
	}

	// A member that leaves: the others take its connectors.
	a.stop()
	waitFor(t, "three members share", func() bool { return balanced(b, "b", "c", "d") })
}

func TestMemberCutOffStopsBeforeOthersTakeOver(t *testing.T) {
	cluster := newCluster(t)
	b := newBoard(t, "c0", "c1", "c2", "c3")
	a := startMember(t, cluster, b, "a")
	startMember(t, cluster, b, "b")
	waitFor(t, "two each", func() bool { return balanced(b, "a", "b") })

	var stoppedAt, takenAt atomic.Int64
	a.dialer.setCut(true)
	cut := time.Now()
	waitFor(t, "a stops its connectors", func() bool {
		if len(b.owners()["a"]) == 0 {
			stoppedAt.CompareAndSwap(0, time.Since(cut).Milliseconds())
			return true
		}
		return false
	})
	waitFor(t, "b runs all", func() bool {
		if balanced(b, "b") {
			takenAt.Store(time.Since(cut).Milliseconds())
			return true
		}
		return false
	})
	t.Logf("cut-off member stopped its connectors after %d ms, the other ran them after %d ms", stoppedAt.Load(), takenAt.Load())

	a.dialer.setCut(false)
	waitFor(t, "a back", func() bool { return balanced(b, "a", "b") })
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Worker: "w"},
		{Group: "g"},
		{Group: "g", Worker: "w", SessionTimeout: time.Second, HeartbeatInterval: time.Second},
		{Group: "g", Worker: "w", RebalanceDelay: -1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v valid", c)
		}
	}
	if err := (Config{Group: "g", Worker: "w"}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestRebalanceDelay: the connectors of a member that left are held unassigned for the delay;
// the same worker back within it gets them back, and after it the others take them.
func TestRebalanceDelay(t *testing.T) {
	cluster := newCluster(t)
	b := newBoard(t, "c0", "c1", "c2", "c3")
	const delay = 3 * time.Second
	startMemberDelay(t, cluster, b, "a", delay)
	waitFor(t, "a runs all", func() bool { return balanced(b, "a") })
	bm := startMemberDelay(t, cluster, b, "b", delay)
	waitFor(t, "two each", func() bool { return balanced(b, "a", "b") })
	held := slices.Sorted(slices.Values(b.owners()["b"]))

	// b restarts within the delay: its connectors wait for it, and come back to it.
	bm.stop()
	waitFor(t, "b's connectors stopped", func() bool { return len(b.owners()["b"]) == 0 })
	if got := len(b.owners()["a"]); got != 2 {
		t.Fatalf("a took b's connectors during the delay: %v", b.owners())
	}
	bm = startMemberDelay(t, cluster, b, "b", delay)
	waitFor(t, "b back with its own", func() bool { return balanced(b, "a", "b") })
	if got := slices.Sorted(slices.Values(b.owners()["b"])); !slices.Equal(got, held) {
		t.Fatalf("b got %v back, had %v", got, held)
	}

	// b does not come back: once the delay is over, a takes them.
	bm.stop()
	left := time.Now()
	waitFor(t, "a runs all", func() bool { return balanced(b, "a") })
	if waited := time.Since(left); waited < delay-500*time.Millisecond {
		t.Fatalf("a took b's connectors after %s, before the delay %s", waited, delay)
	}
}

// TestRejoinOnChange: a new connector is assigned once any member, the leader or not, asks for
// a new generation (as a member does after a write to the config topic).
func TestRejoinOnChange(t *testing.T) {
	cluster := newCluster(t)
	b := newBoard(t, "c0", "c1")
	a := startMember(t, cluster, b, "a")
	bm := startMember(t, cluster, b, "b")
	waitFor(t, "one each", func() bool { return balanced(b, "a", "b") })
	for i, m := range []*testMember{a, bm} {
		name := fmt.Sprintf("new%d", i)
		b.mu.Lock()
		b.conns = append(b.conns, name)
		b.mu.Unlock()
		m.m.Rejoin()
		waitFor(t, name+" assigned after "+m.m.cfg.Worker+" asked", func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.running[name] != ""
		})
	}
}

// TestMemberUnknownAtJoinStopsFirst: a member whose JoinGroup is answered UNKNOWN_MEMBER_ID
// (it was frozen, say, past its session while between generations, so its watchdog never ran)
// has been dropped and its connectors may already run elsewhere: it stops them before joining
// again, and joins again owning nothing.
func TestMemberUnknownAtJoinStopsFirst(t *testing.T) {
	cluster := newCluster(t)
	b := newBoard(t, "c0", "c1")
	a := startMember(t, cluster, b, "a")
	startMember(t, cluster, b, "b")
	waitFor(t, "one each", func() bool { return balanced(b, "a", "b") })
	oldID := a.m.View().MemberID
	if oldID == "" {
		t.Fatal("a has no member id")
	}

	var mu sync.Mutex
	var answered, rejoined bool
	var rejoinOwned, rejoinRunning []string
	cluster.ControlKey(kmsg.JoinGroup.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		join := req.(*kmsg.JoinGroupRequest)
		var md Metadata
		if len(join.Protocols) > 0 {
			md, _ = DecodeMetadata(join.Protocols[0].Metadata)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case md.Worker != "a":
		case !answered && join.MemberID == oldID:
			// As the coordinator answers a member whose session expired.
			answered = true
			resp := join.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode = kerr.UnknownMemberID.Code
			resp.Generation = -1
			cluster.KeepControl()
			return resp, nil, true
		case answered && !rejoined:
			rejoined = true
			rejoinOwned = md.Owned
			rejoinRunning = b.owners()["a"]
		}
		cluster.KeepControl()
		return nil, nil, false
	})
	a.m.Rejoin()
	waitFor(t, "a to join again after UNKNOWN_MEMBER_ID", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return rejoined
	})
	mu.Lock()
	if len(rejoinOwned) != 0 || len(rejoinRunning) != 0 {
		t.Errorf("a joined again claiming %v and running %v after the coordinator no longer knew it", rejoinOwned, rejoinRunning)
	}
	mu.Unlock()
	waitFor(t, "one each again", func() bool { return balanced(b, "a", "b") })
}
