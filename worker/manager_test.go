package worker

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCreateGetPutDelete(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	if err := m.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}

	info, created, err := m.PutConnector(ctx, "a", fakeConfig("pa"))
	if err != nil || !created {
		t.Fatalf("PutConnector = %v, %v; want created", created, err)
	}
	if info.Name != "a" || info.Config["name"] != "a" || info.Config["topic_prefix"] != "pa" || len(info.Tasks) != 1 {
		t.Fatalf("info = %+v", info)
	}
	st := waitState(ctx, t, m, "a", api.StateRunning)
	if st.Tasks[0].State != api.StateRunning || st.Connector.WorkerID != "w1" || st.Tasks[0].WorkerID != "w1" {
		t.Fatalf("status = %+v", st)
	}
	if len(st.Snapshot) != 1 || st.Snapshot[0].Rows != 7 {
		t.Fatalf("snapshot progress = %+v", st.Snapshot)
	}
	if names, err := m.Connectors(ctx); err != nil || !slices.Equal(names, []string{"a"}) {
		t.Fatalf("Connectors = %v, %v", names, err)
	}

	// The same configuration again (as read back, "name" included) changes nothing.
	first := f.conn("a")
	if _, created, err := m.PutConnector(ctx, "a", info.Config); err != nil || created {
		t.Fatalf("PutConnector again = %v, %v", created, err)
	}
	if f.buildCount("a") != 1 || first.isEnded() {
		t.Fatalf("an unchanged configuration restarted the connector (builds %d)", f.buildCount("a"))
	}

	// A new configuration restarts it with the new one.
	cfg := fakeConfig("pa")
	cfg["extra"] = "1"
	mustPut(ctx, t, m, "a", cfg)
	if !first.isEnded() {
		t.Fatal("the old run goes on after a new configuration")
	}
	waitState(ctx, t, m, "a", api.StateRunning)
	if got := f.conn("a").cfg["extra"]; got != "1" {
		t.Fatalf("rebuilt with extra = %q, want 1", got)
	}

	// Invalid configurations are refused and create nothing.
	_, _, err = m.PutConnector(ctx, "b", api.Config{"type": "nope"})
	wantErr(t, "invalid config", err, api.ErrInvalid)
	// Every problem is named, not the first and a count of the others.
	if !strings.Contains(err.Error(), "type: unknown type") || !strings.Contains(err.Error(), "topic_prefix: required") {
		t.Fatalf("invalid config message: %v", err)
	}
	_, err = m.Connector(ctx, "b")
	wantErr(t, "Connector after a refused creation", err, api.ErrNotFound)
	_, _, err = m.PutConnector(ctx, "b", api.Config{"name": "c", "type": "fake", "topic_prefix": "p"})
	wantErr(t, "name mismatch", err, api.ErrInvalid)
	_, _, err = m.PutConnector(ctx, "a/b", fakeConfig("p"))
	wantErr(t, "bad name", err, api.ErrInvalid)

	// Delete stops it and forgets it, then says what it left on its source.
	last := f.conn("a")
	d, err := m.DeleteConnector(ctx, "a", api.DeleteKeep)
	if err != nil {
		t.Fatalf("DeleteConnector: %v", err)
	}
	if !last.isEnded() {
		t.Fatal("the run goes on after Delete")
	}
	if d.Name != "a" || len(d.Kept) != 1 || len(d.Dropped) != 0 || !strings.Contains(d.Message, "deleted") {
		t.Fatalf("Delete answer %+v, want the kept slot", d)
	}
	_, err = m.Status(ctx, "a")
	wantErr(t, "Status after Delete", err, api.ErrNotFound)
	_, err = m.DeleteConnector(ctx, "a", api.DeleteKeep)
	wantErr(t, "Delete again", err, api.ErrNotFound)
	wantErr(t, "Pause unknown", m.Pause(ctx, "zz"), api.ErrNotFound)
	if names, _ := m.Connectors(ctx); len(names) != 0 {
		t.Fatalf("Connectors after Delete = %v", names)
	}
}

func TestSecretsMasked(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	info, _, err := m.PutConnector(ctx, "a", fakeConfig("pa"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Config[secretKey] != mask {
		t.Fatalf("PutConnector answered the secret: %q", info.Config[secretKey])
	}
	got, err := m.Connector(ctx, "a")
	if err != nil || got.Config[secretKey] != mask {
		t.Fatalf("Connector: %q, %v; want the secret masked", got.Config[secretKey], err)
	}
	// Putting back what was read (the mask) keeps the stored secret.
	got.Config["extra"] = "x"
	mustPut(ctx, t, m, "a", got.Config)
	waitState(ctx, t, m, "a", api.StateRunning)
	if c := f.conn("a"); c.cfg[secretKey] != "s3cret" || c.cfg["extra"] != "x" {
		t.Fatalf("rebuilt with %v, want the stored secret kept", c.cfg)
	}
	// The mask is never stored as a secret's value.
	masked := maps.Clone(got.Config)
	masked["name"] = "b"
	_, _, err = m.PutConnector(ctx, "b", masked)
	wantErr(t, "a new connector with a masked secret", err, api.ErrInvalid)
	_, err = m.Connector(ctx, "b")
	wantErr(t, "Connector after a refused creation", err, api.ErrNotFound)
}

// A secret given by reference alone is shown as it is (a reference is no secret); a value
// mixing literal text with a reference is masked, the text being part of the secret.
func TestSecretReferencesShown(t *testing.T) {
	ctx := testCtx(t)
	m := newManager(ctx, t, newCluster(t), newFakeFactory())
	for name, c := range map[string]struct{ value, want string }{
		"ref":   {"${file:/etc/cdcd/pg.properties:password}", "${file:/etc/cdcd/pg.properties:password}"},
		"refs":  {"${env:A}${dir:/run/secrets:pw}", "${env:A}${dir:/run/secrets:pw}"},
		"mixed": {"lit${env:A}", mask},
		"lit":   {"s3cret", mask},
	} {
		cfg := fakeConfig("p" + name)
		cfg[secretKey] = c.value
		info, _, err := m.PutConnector(ctx, name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Connector(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Config[secretKey] != c.want || got.Config[secretKey] != c.want {
			t.Errorf("%s: answered %q and %q, want %q", name, info.Config[secretKey], got.Config[secretKey], c.want)
		}
	}
}

func TestTargetStatesPersistedAndRestored(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	f := newFakeFactory()
	m := newManager(ctx, t, kafka, f)
	for _, name := range []string{"run", "paused", "stopped", "gone", "static"} {
		mustPut(ctx, t, m, name, fakeConfig("p-"+name))
	}
	waitState(ctx, t, m, "paused", api.StateRunning)
	if err := m.Pause(ctx, "paused"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if !f.conn("paused").isEnded() {
		t.Fatal("a paused connector still runs")
	}
	if st, _ := m.Status(ctx, "paused"); st.Connector.State != api.StatePaused {
		t.Fatalf("after Pause: %s", st.Connector.State)
	}
	if err := m.Stop(ctx, "stopped"); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st, _ := m.Status(ctx, "stopped"); st.Connector.State != api.StateStopped {
		t.Fatalf("after Stop: %s", st.Connector.State)
	}
	if _, err := m.DeleteConnector(ctx, "gone", api.DeleteKeep); err != nil {
		t.Fatal(err)
	}
	// Restart keeps the target state of a connector that is not started.
	if err := m.Restart(ctx, "paused"); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Status(ctx, "paused"); st.Connector.State != api.StatePaused {
		t.Fatalf("after Restart of a paused connector: %s", st.Connector.State)
	}
	m.Close()
	_, err := m.Status(ctx, "run")
	wantErr(t, "Status after Close", err, api.ErrUnavailable)

	// A new manager on the same topic finds them, in their target states, and applies its
	// static connectors over them.
	changed := fakeConfig("p-static")
	changed["extra"] = "2"
	f2 := newFakeFactory()
	m2 := newManager(ctx, t, kafka, f2, StaticConnectors(map[string]api.Config{
		"static": changed,
		"new":    fakeConfig("p-new"),
	}))
	names, err := m2.Connectors(ctx)
	if want := []string{"new", "paused", "run", "static", "stopped"}; err != nil || !slices.Equal(names, want) {
		t.Fatalf("restored %v, %v; want %v", names, err, want)
	}
	waitState(ctx, t, m2, "run", api.StateRunning)
	waitState(ctx, t, m2, "new", api.StateRunning)
	waitState(ctx, t, m2, "static", api.StateRunning)
	if c := f2.conn("static"); c.cfg["extra"] != "2" || f2.buildCount("static") != 1 {
		t.Fatalf("static connector built %d times with %v", f2.buildCount("static"), c.cfg)
	}
	for name, want := range map[string]api.State{"paused": api.StatePaused, "stopped": api.StateStopped} {
		if st, err := m2.Status(ctx, name); err != nil || st.Connector.State != want {
			t.Fatalf("%s restored as %s, %v; want %s", name, st.Connector.State, err, want)
		}
		if f2.buildCount(name) != 0 {
			t.Fatalf("%s was built though not started", name)
		}
	}
	got, err := m2.Connector(ctx, "run")
	if err != nil {
		t.Fatal(err)
	}
	want := fakeConfig("p-run")
	want[secretKey] = mask
	want["name"] = "run"
	if !maps.Equal(got.Config, want) {
		t.Fatalf("restored config %v, want %v", got.Config, want)
	}
	if c := f2.conn("run"); c.cfg[secretKey] != "s3cret" {
		t.Fatalf("restored connector built with secret %q", c.cfg[secretKey])
	}

	// Resume starts a restored paused connector.
	if err := m2.Resume(ctx, "paused"); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m2, "paused", api.StateRunning)
}

func TestStoredRecords(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	m := newManager(ctx, t, kafka, newFakeFactory(), ConfigTopic("cfgs"))
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	if err := m.Stop(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mustPut(ctx, t, m, "b", fakeConfig("pb"))
	if _, err := m.DeleteConnector(ctx, "b", api.DeleteKeep); err != nil {
		t.Fatal(err)
	}

	cl, err := kgo.NewClient(append(kafka, kgo.ConsumeTopics("cfgs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	for len(got) < 4 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("polling: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			v := "<tombstone>"
			if r.Value != nil {
				v = string(r.Value)
			}
			got = append(got, string(r.Key)+" "+v)
		})
	}
	cfgJSON := `{"postgres.password":"s3cret","topic_prefix":"pa","type":"fake"}`
	want := []string{
		`connector-a {"config":` + cfgJSON + `,"target_state":"STARTED"}`,
		`connector-a {"config":` + cfgJSON + `,"target_state":"STOPPED"}`,
		`connector-b {"config":{"postgres.password":"s3cret","topic_prefix":"pb","type":"fake"},"target_state":"STARTED"}`,
		`connector-b <tombstone>`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("config topic:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestCorruptRecordIsAFailedConnector(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	m := newManager(ctx, t, kafka, newFakeFactory())
	m.Close()
	cl, err := kgo.NewClient(kafka...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: DefaultConfigTopic, Key: []byte("connector-x"), Value: []byte("{")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	f := newFakeFactory()
	m2 := newManager(ctx, t, kafka, f)
	st, err := m2.Status(ctx, "x")
	if err != nil || st.Connector.State != api.StateFailed || !strings.Contains(st.Connector.Trace, "unreadable") {
		t.Fatalf("status = %+v, %v; want FAILED, unreadable", st, err)
	}
	wantErr(t, "Resume", m2.Resume(ctx, "x"), api.ErrConflict)
	// A new configuration repairs it.
	mustPut(ctx, t, m2, "x", fakeConfig("px"))
	waitState(ctx, t, m2, "x", api.StateRunning)
}

func TestFailureIsolated(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	f.setBuildErr("broken", errors.New("database unreachable"))
	m := newManager(ctx, t, newCluster(t), f)
	for _, name := range []string{"a", "b", "broken"} {
		mustPut(ctx, t, m, name, fakeConfig("p-"+name))
	}
	waitState(ctx, t, m, "a", api.StateRunning)
	waitState(ctx, t, m, "b", api.StateRunning)

	// A failed run: FAILED with the error as trace, the others untouched.
	f.conn("a").fail <- errors.New("schema incompatible: table t")
	st := waitState(ctx, t, m, "a", api.StateFailed)
	if st.Connector.Trace != "schema incompatible: table t" || st.Tasks[0].Trace != st.Connector.Trace {
		t.Fatalf("trace = %q / %q", st.Connector.Trace, st.Tasks[0].Trace)
	}
	if st, _ := m.Status(ctx, "b"); st.Connector.State != api.StateRunning || f.conn("b").isEnded() {
		t.Fatalf("b is %s after a failed", st.Connector.State)
	}
	// It stays FAILED (no retry of a failed run) until restarted.
	if n := f.buildCount("a"); n != 1 {
		t.Fatalf("a built %d times", n)
	}
	if err := m.Restart(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	st = waitState(ctx, t, m, "a", api.StateRunning)
	if st.Connector.Trace != "" {
		t.Fatalf("trace after restart: %q", st.Connector.Trace)
	}

	// A failed run ending with no error is a failure too.
	f.conn("b").fail <- nil
	st = waitState(ctx, t, m, "b", api.StateFailed)
	if st.Connector.Trace == "" {
		t.Fatal("no trace for a run that ended by itself")
	}
	// Resume starts a FAILED connector again.
	if err := m.Resume(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m, "b", api.StateRunning)

	// A Build failing with a retryable error: RESTARTING with its error and the next attempt,
	// tried again until it works.
	st = waitState(ctx, t, m, "broken", api.StateRestarting)
	if st.Connector.Trace != "database unreachable" || st.Connector.NextAttempt == nil || st.Tasks[0].NextAttempt == nil {
		t.Fatalf("build status = %+v, want the error and the next attempt", st.Connector)
	}
	waitFor(t, "a second build", func() bool { return f.buildCount("broken") >= 2 })
	f.setBuildErr("broken", nil)
	st = waitState(ctx, t, m, "broken", api.StateRunning)
	if st.Connector.Trace != "" || st.Connector.NextAttempt != nil {
		t.Fatalf("RUNNING status = %+v, want no trace nor next attempt", st.Connector)
	}
}

// permanent is an error the pipeline does not retry.
type permanent struct{}

func (permanent) Error() string   { return "wal_level is replica, want logical" }
func (permanent) Retryable() bool { return false }

// A Build failing with a permanent error is FAILED and not tried again until restarted.
func TestBuildPermanentErrorFails(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	f.setBuildErr("a", permanent{})
	m := newManager(ctx, t, newCluster(t), f)
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	st := waitState(ctx, t, m, "a", api.StateFailed)
	if st.Connector.Trace != (permanent{}).Error() || st.Connector.NextAttempt != nil {
		t.Fatalf("status = %+v, want the error and no next attempt", st.Connector)
	}
	// Its run ends: nothing tries the build again.
	e, err := m.lookup("a")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed run to end", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return !e.running()
	})
	f.setBuildErr("a", nil)
	if n := f.buildCount("a"); n != 1 {
		t.Fatalf("a permanent build error was tried %d times", n)
	}
	if err := m.Restart(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	waitState(ctx, t, m, "a", api.StateRunning)
}

// A run's retries show as RESTARTING with the error and the next attempt, and RUNNING once
// the run is healthy again.
func TestRunRetriesShowAsRestarting(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	waitState(ctx, t, m, "a", api.StateRunning)
	next := time.Now().Add(30 * time.Second).Truncate(time.Second)
	f.conn("a").report <- func(h Health) { h.Retrying(errors.New("dial tcp 127.0.0.1:5432: connection refused"), next) }
	st := waitState(ctx, t, m, "a", api.StateRestarting)
	if st.Connector.Trace != "dial tcp 127.0.0.1:5432: connection refused" ||
		st.Connector.NextAttempt == nil || !st.Connector.NextAttempt.Equal(next) ||
		st.Tasks[0].State != api.StateRestarting || st.Tasks[0].Trace != st.Connector.Trace {
		t.Fatalf("status = %+v, want RESTARTING with the error and the next attempt %v", st, next)
	}
	// The state gauge says it too, for alerts.
	reg := prometheus.NewRegistry()
	if err := reg.Register(m.Collector()); err != nil {
		t.Fatal(err)
	}
	if v := gather(t, reg)["cdcd_connector_state{connector=a,state=RESTARTING}"]; v != 1 {
		t.Errorf("state RESTARTING gauge = %v, want 1", v)
	}
	f.conn("a").report <- func(h Health) { h.Healthy() }
	st = waitState(ctx, t, m, "a", api.StateRunning)
	if st.Connector.Trace != "" || st.Connector.NextAttempt != nil {
		t.Fatalf("status = %+v after the healthy report", st.Connector)
	}
}

func TestStalledRunShowsDegraded(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	waitState(ctx, t, m, "a", api.StateRunning)
	f.conn("a").report <- func(h Health) { h.Stalled(errors.New("pipeline: no progress for 10s")) }
	st := waitState(ctx, t, m, "a", api.StateDegraded)
	if st.Connector.Trace != "pipeline: no progress for 10s" || st.Connector.NextAttempt != nil ||
		st.Tasks[0].State != api.StateDegraded {
		t.Fatalf("status = %+v, want DEGRADED with the reason and no next attempt", st)
	}
	f.conn("a").report <- func(h Health) { h.Healthy() }
	if st = waitState(ctx, t, m, "a", api.StateRunning); st.Connector.Trace != "" {
		t.Fatalf("status = %+v after the healthy report", st.Connector)
	}
}

// TestPutRefusesAConflictWithAnotherConnector: a connector whose slot another connector has is
// refused at creation (the factory says what conflicts), and so is a change that makes one.
func TestPutRefusesAConflictWithAnotherConnector(t *testing.T) {
	ctx := testCtx(t)
	m := newManager(ctx, t, newCluster(t), newFakeFactory())
	withSlot := func(prefix, slot string) api.Config {
		c := fakeConfig(prefix)
		c["slot"] = slot
		return c
	}
	mustPut(ctx, t, m, "a", withSlot("pa", "s1"))
	_, _, err := m.PutConnector(ctx, "b", withSlot("pb", "s1"))
	wantErr(t, "a second connector on slot s1", err, api.ErrInvalid)
	if err == nil || !strings.Contains(err.Error(), "connector a has it") {
		t.Errorf("err = %v, want the conflict named", err)
	}
	if _, err := m.Connector(ctx, "b"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("the refused connector exists: status err = %v", err)
	}
	mustPut(ctx, t, m, "b", withSlot("pb", "s2"))
	_, _, err = m.PutConnector(ctx, "b", withSlot("pb", "s1"))
	wantErr(t, "b moved onto a's slot", err, api.ErrInvalid)
	// A connector does not conflict with itself.
	mustPut(ctx, t, m, "a", withSlot("pa2", "s1"))
}

func TestCloseWaits(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	for _, name := range []string{"a", "b"} {
		mustPut(ctx, t, m, name, fakeConfig("p-"+name))
		waitState(ctx, t, m, name, api.StateRunning)
	}
	m.Close()
	for _, name := range []string{"a", "b"} {
		if !f.conn(name).isEnded() {
			t.Fatalf("%s still runs after Close", name)
		}
	}
	wantErr(t, "Ready after Close", m.Ready(ctx), api.ErrUnavailable)
	_, _, err := m.PutConnector(ctx, "c", fakeConfig("pc"))
	wantErr(t, "Put after Close", err, api.ErrUnavailable)
}

func TestValidate(t *testing.T) {
	ctx := testCtx(t)
	m := newManager(ctx, t, newCluster(t), newFakeFactory())
	v, err := m.Validate(ctx, "fake", api.Config{"topic_prefix": "p", "name": "x"})
	if err != nil || v.ErrorCount != 0 || v.Name != "fake" || v.Errors == nil {
		t.Fatalf("Validate = %+v, %v; want no errors", v, err)
	}
	v, err = m.Validate(ctx, "other", api.Config{"name": "a/b"})
	if err != nil || v.ErrorCount != 3 || len(v.Errors) != 3 {
		t.Fatalf("Validate = %+v, %v; want 3 errors (name, type, topic_prefix)", v, err)
	}
	_, err = m.Validate(ctx, "fake", api.Config{"type": "other"})
	wantErr(t, "type mismatch", err, api.ErrInvalid)
}

func TestSnapshot(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	if err := m.Snapshot(ctx, "a", []string{"public.t", "public.u"}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	got := f.signals["a"]
	f.mu.Unlock()
	if !slices.Equal(got, []string{"public.t", "public.u"}) {
		t.Fatalf("signalled %v", got)
	}
	wantErr(t, "no tables", m.Snapshot(ctx, "a", nil), api.ErrInvalid)
	wantErr(t, "unknown", m.Snapshot(ctx, "zz", []string{"t"}), api.ErrNotFound)
}

// A purge runs once the connector's run has ended, and the answer says what it dropped.
func TestDeletePurge(t *testing.T) {
	ctx := testCtx(t)
	f := newFakeFactory()
	m := newManager(ctx, t, newCluster(t), f)
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	waitState(ctx, t, m, "a", api.StateRunning)
	d, err := m.DeleteConnector(ctx, "a", api.DeletePurge)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Dropped) != 1 || len(d.Kept) != 0 {
		t.Fatalf("purge answer %+v", d)
	}
	f.mu.Lock()
	calls := slices.Clone(f.leftovers)
	f.mu.Unlock()
	if len(calls) != 1 || calls[0].mode != api.DeletePurge || !calls[0].runEnded {
		t.Fatalf("Leftovers calls %+v, want one purge after the run ended", calls)
	}
}
