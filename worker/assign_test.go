package worker

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
)

// TestGroupModeRunsOnlyAssigned plays two members of a group on one config topic, their
// assignments given by hand: each runs only what it is assigned, sees the other's writes at its
// next assignment, and stops what is taken from it.
func TestGroupModeRunsOnlyAssigned(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	f1, f2 := newFakeFactory(), newFakeFactory()
	var changes atomic.Int32
	m1 := newManager(ctx, t, kafka, f1, GroupMode(), OnChange(func() { changes.Add(1) }))
	m2 := newManager(ctx, t, kafka, f2, GroupMode(), WorkerID("w2"))

	mustPut(ctx, t, m1, "a", fakeConfig("pa"))
	mustPut(ctx, t, m1, "b", fakeConfig("pb"))
	if changes.Load() != 2 {
		t.Fatalf("OnChange called %d times, want 2", changes.Load())
	}
	if st, _ := m1.Status(ctx, "a"); st.Connector.State != api.StateUnassigned || f1.buildCount("a") != 0 {
		t.Fatalf("an unassigned connector runs: %+v, builds %d", st.Connector, f1.buildCount("a"))
	}
	if names, err := m2.StoredConnectors(ctx); err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("StoredConnectors = %v, %v", names, err)
	}

	if err := m1.Assign(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := m2.Assign(ctx, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m1, "a", api.StateRunning)
	waitState(ctx, t, m2, "b", api.StateRunning)
	if f1.buildCount("b") != 0 || f2.buildCount("a") != 0 {
		t.Fatal("a connector runs on a member it is not assigned to")
	}

	// A pause written by the member that does not own a reaches its owner at the next
	// assignment; an assignment that does not change a connector leaves it running.
	if err := m2.Pause(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := m1.Assign(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if !f1.conn("a").isEnded() {
		t.Fatal("a paused elsewhere still runs on its owner")
	}
	waitState(ctx, t, m1, "a", api.StatePaused)
	runB := f2.conn("b")
	if err := m2.Assign(ctx, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if runB.isEnded() || f2.buildCount("b") != 1 {
		t.Fatal("an unchanged assignment restarted b")
	}

	// b moves from m2 to m1: revoked first (Assign returns once it has stopped), then given.
	if err := m2.Assign(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if !runB.isEnded() {
		t.Fatal("b still runs on the member it was revoked from")
	}
	if st, _ := m2.Status(ctx, "b"); st.Connector.State != api.StateUnassigned {
		t.Fatalf("b on m2: %+v", st.Connector)
	}
	if err := m1.Assign(ctx, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m1, "b", api.StateRunning)

	// A deletion by the other member reaches the owner, which stops and forgets it.
	if _, err := m2.DeleteConnector(ctx, "b", api.DeleteKeep); err != nil {
		t.Fatal(err)
	}
	if err := m1.Assign(ctx, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if !f1.conn("b").isEnded() {
		t.Fatal("b deleted elsewhere still runs")
	}
	if names, _ := m1.Connectors(ctx); !slices.Equal(names, []string{"a"}) {
		t.Fatalf("m1 connectors %v", names)
	}
}

func TestAssignNeedsGroupMode(t *testing.T) {
	ctx := testCtx(t)
	m := newManager(ctx, t, newCluster(t), newFakeFactory())
	wantErr(t, "Assign without group mode", m.Assign(ctx, nil), ErrInvalidOption)
}

// TestGroupStatusTopic: a member answers the status of a connector another member runs from
// the status topic, with the owner's worker id, and forgets it once it is deleted.
func TestGroupStatusTopic(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	f1, f2 := newFakeFactory(), newFakeFactory()
	m1 := newManager(ctx, t, kafka, f1, GroupMode(), StatusTopic("_status"))
	m2 := newManager(ctx, t, kafka, f2, GroupMode(), StatusTopic("_status"), WorkerID("w2"))
	mustPut(ctx, t, m2, "a", fakeConfig("pa"))
	if err := m1.Assign(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := m2.Assign(ctx, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "m2 to show a RUNNING on w1", func() bool {
		st, err := m2.Status(ctx, "a")
		return err == nil && st.Connector.State == api.StateRunning && st.Connector.WorkerID == "w1" && st.Tasks[0].WorkerID == "w1"
	})
	// A restart is for the owner: the other member says which member that is.
	err := m2.Restart(ctx, "a")
	wantErr(t, "a restart on a member that does not run the connector", err, api.ErrConflict)
	if !strings.Contains(err.Error(), "w1") {
		t.Fatalf("the error does not name the owner: %v", err)
	}
	if err := m1.Restart(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the owner's restart to build a again", func() bool { return f1.buildCount("a") == 2 })
	if _, err := m2.DeleteConnector(ctx, "a", api.DeleteKeep); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the status record deleted", func() bool {
		_, ok := m1.status.get("a")
		return !ok
	})
}

func TestStatusCodec(t *testing.T) {
	r := statusRecord{State: api.StateFailed, WorkerID: "w", Trace: "boom"}
	k, v, err := statusCodec{}.Encode(statusEntry{name: "x", record: &r})
	if err != nil || string(k) != "status-x" {
		t.Fatalf("%s %v", k, err)
	}
	e, err := statusCodec{}.Decode(k, v)
	if err != nil || e.name != "x" || e.record.State != api.StateFailed || e.record.Trace != "boom" {
		t.Fatalf("%+v %v", e, err)
	}
	if e, err := (statusCodec{}).Decode(k, nil); err != nil || e.record != nil {
		t.Fatalf("tombstone %+v %v", e, err)
	}
	if _, err := (statusCodec{}).Decode([]byte("connector-x"), v); err == nil {
		t.Fatal("another record read")
	}
	if _, err := (statusCodec{}).Decode(k, []byte("{")); err == nil {
		t.Fatal("garbage read")
	}
}

// TestGroupStatusTakenBack: a connector that comes back to a member after another ran it
// shows the member again, though the member's own last write said the same.
func TestGroupStatusTakenBack(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	m1 := newManager(ctx, t, kafka, newFakeFactory(), GroupMode(), StatusTopic("_status"))
	m2 := newManager(ctx, t, kafka, newFakeFactory(), GroupMode(), StatusTopic("_status"), WorkerID("w2"))
	mustPut(ctx, t, m1, "a", fakeConfig("pa"))
	runsOn := func(m *Manager, worker string) func() bool {
		return func() bool {
			r, ok := m.status.get("a")
			return ok && r.WorkerID == worker && r.State == api.StateRunning
		}
	}
	for _, step := range []struct {
		owner, other *Manager
		worker       string
	}{{m1, m2, "w1"}, {m2, m1, "w2"}, {m1, m2, "w1"}} {
		if err := step.other.Assign(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := step.owner.Assign(ctx, []string{"a"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the status topic to name "+step.worker, runsOn(m1, step.worker))
		waitFor(t, "the status topic to name "+step.worker+" on m2", runsOn(m2, step.worker))
	}
}
