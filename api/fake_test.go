package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeBackend is an in-memory Backend. fail, when set for a method name, is returned by it.
type fakeBackend struct {
	mu         sync.Mutex
	configs    map[string]Config
	states     map[string]State
	offsets    map[string]Offsets
	snapshots  map[string][]string
	restarts   map[string]int
	fail       map[string]error
	lastConfig Config
	// cluster is GET /cluster's answer; nil: the daemon is in no group.
	cluster *Cluster
}

var _ Backend = (*fakeBackend)(nil)

func newFake() *fakeBackend {
	return &fakeBackend{
		configs:   map[string]Config{},
		states:    map[string]State{},
		offsets:   map[string]Offsets{},
		snapshots: map[string][]string{},
		restarts:  map[string]int{},
		fail:      map[string]error{},
	}
}

// add creates a connector directly.
func (f *fakeBackend) add(name string, cfg Config, st State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configs[name] = cfg
	f.states[name] = st
	f.offsets[name] = Offsets{Offsets: []Offset{{
		Partition: map[string]any{"server": name},
		Offset:    json.RawMessage(`{"lsn":"0/16B3748"}`),
	}}}
}

func (f *fakeBackend) failing(method string) error {
	return f.fail[method]
}

func (f *fakeBackend) lookup(method, name string) error {
	if err := f.failing(method); err != nil {
		return err
	}
	if _, ok := f.configs[name]; !ok {
		return fmt.Errorf("%w: connector %s", ErrNotFound, name)
	}
	return nil
}

func (f *fakeBackend) info(name string) ConnectorInfo {
	masked := Config{}
	for k, v := range f.configs[name] {
		if strings.Contains(k, "password") {
			v = "********"
		}
		masked[k] = v
	}
	return ConnectorInfo{Name: name, Config: masked, Tasks: []TaskID{{Connector: name, Task: 0}}, Type: "source"}
}

func (f *fakeBackend) Connectors(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("Connectors"); err != nil {
		return nil, err
	}
	var out []string
	for n := range f.configs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (f *fakeBackend) Connector(_ context.Context, name string) (ConnectorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup("Connector", name); err != nil {
		return ConnectorInfo{}, err
	}
	return f.info(name), nil
}

func (f *fakeBackend) PutConnector(_ context.Context, name string, cfg Config) (ConnectorInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("PutConnector"); err != nil {
		return ConnectorInfo{}, false, err
	}
	if cfg["type"] == "" {
		return ConnectorInfo{}, false, fmt.Errorf("%w: type: missing", ErrInvalid)
	}
	f.lastConfig = cfg
	_, existed := f.configs[name]
	f.configs[name] = cfg
	if !existed {
		f.states[name] = StateRunning
	}
	return f.info(name), !existed, nil
}

func (f *fakeBackend) DeleteConnector(_ context.Context, name string, mode DeleteMode) (Deleted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup("DeleteConnector", name); err != nil {
		return Deleted{}, err
	}
	delete(f.configs, name)
	delete(f.states, name)
	if mode == DeletePurge {
		return Deleted{Name: name, Dropped: []string{"replication slot " + name}, Message: "dropped"}, nil
	}
	return Deleted{Name: name, Kept: []string{"replication slot " + name + " keeps WAL"}, Message: "kept"}, nil
}

func (f *fakeBackend) Status(_ context.Context, name string) (ConnectorStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup("Status", name); err != nil {
		return ConnectorStatus{}, err
	}
	st := f.states[name]
	cs := ConnectorStatus{Name: name, Connector: ConnectorState{State: st},
		Tasks: []TaskStatus{{ID: 0, State: st}}}
	if st == StateFailed {
		cs.Tasks[0].Trace = "boom"
	}
	if st == StateRunning {
		cs.Snapshot = []TableProgress{{Table: "public.t", Rows: 10, EstimatedTotal: 100, RowsPerSecond: 5}}
	}
	return cs, nil
}

func (f *fakeBackend) setState(method, name string, st State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup(method, name); err != nil {
		return err
	}
	f.states[name] = st
	return nil
}

func (f *fakeBackend) Pause(_ context.Context, name string) error {
	return f.setState("Pause", name, StatePaused)
}

func (f *fakeBackend) Resume(_ context.Context, name string) error {
	return f.setState("Resume", name, StateRunning)
}

func (f *fakeBackend) Stop(_ context.Context, name string) error {
	return f.setState("Stop", name, StateStopped)
}

func (f *fakeBackend) Restart(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup("Restart", name); err != nil {
		return err
	}
	f.restarts[name]++
	f.states[name] = StateRunning
	return nil
}

func (f *fakeBackend) Offsets(_ context.Context, name string) (Offsets, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup("Offsets", name); err != nil {
		return Offsets{}, err
	}
	return f.offsets[name], nil
}

func (f *fakeBackend) AlterOffsets(_ context.Context, name string, offs Offsets) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup("AlterOffsets", name); err != nil {
		return err
	}
	if f.states[name] != StateStopped {
		return fmt.Errorf("%w: connector %s is %s, not STOPPED", ErrConflict, name, f.states[name])
	}
	f.offsets[name] = offs
	return nil
}

func (f *fakeBackend) ResetOffsets(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup("ResetOffsets", name); err != nil {
		return err
	}
	if f.states[name] != StateStopped {
		return fmt.Errorf("%w: connector %s is not STOPPED", ErrConflict, name)
	}
	f.offsets[name] = Offsets{}
	return nil
}

func (f *fakeBackend) Validate(_ context.Context, typ string, cfg Config) (Validation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("Validate"); err != nil {
		return Validation{}, err
	}
	v := Validation{Name: typ}
	if cfg["postgres.host"] == "" && typ == "postgres" {
		v.Errors = append(v.Errors, FieldError{Name: "postgres.host", Message: "required"})
	}
	v.ErrorCount = len(v.Errors)
	return v, nil
}

func (f *fakeBackend) Snapshot(_ context.Context, name string, tables []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.lookup("Snapshot", name); err != nil {
		return err
	}
	f.snapshots[name] = append(f.snapshots[name], tables...)
	return nil
}

func (f *fakeBackend) Ready(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing("Ready")
}

// testHost is the Host header of test requests: loopback, as a local client sends it.
const testHost = "127.0.0.1:8083"

// req describes one test request.
type req struct {
	method, target, body string
	header               map[string]string // "" value deletes the header
}

// do sends rq through h and returns the answer. A body gets Content-Type application/json
// unless rq.header says otherwise.
func do(t testing.TB, h http.Handler, rq req) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	r := httptest.NewRequest(rq.method, rq.target, body)
	r.Host = testHost
	if rq.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		if k == "Host" {
			r.Host = v
			continue
		}
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// newTestServer returns a server over a fake backend holding connector "inv" (RUNNING).
// testPlugins are the daemon's connector types as cmd/cdcd passes them (WithPlugins).
var testPlugins = []Plugin{
	{"postgres", []string{"io.debezium.connector.postgresql.PostgresConnector", "PostgresConnector"}},
	{"mysql", []string{"io.debezium.connector.mysql.MySqlConnector", "MySqlConnector",
		"io.debezium.connector.mariadb.MariaDbConnector", "MariaDbConnector"}},
}

func newTestServer(t testing.TB, opts ...Option) (*Server, *fakeBackend) {
	t.Helper()
	f := newFake()
	f.add("inv", Config{"name": "inv", "type": "postgres", "postgres.host": "db", "postgres.password": "hunter2"}, StateRunning)
	f.cluster = &Cluster{Group: "g", Worker: "w1:8083", MemberID: "m1", Generation: 3, Leader: "m1", LeaderWorker: "w1:8083", Stable: true,
		Members: []ClusterMember{{MemberID: "m1", Worker: "w1:8083", Connectors: []string{"inv"}}}}
	s, err := New(f, append([]Option{WithPlugins(testPlugins...), WithCluster(f.clusterAnswer)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, f
}

// errorBody decodes an error answer and checks its shape.
func errorBody(t testing.TB, w *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, want application/json (body %q)", ct, w.Body.String())
	}
	var e ErrorBody
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q: %v", w.Body.String(), err)
	}
	if e.ErrorCode != w.Code {
		t.Fatalf("error_code %d, status %d", e.ErrorCode, w.Code)
	}
	if e.Message == "" {
		t.Fatalf("empty error message")
	}
	return e
}

func (f *fakeBackend) clusterAnswer(context.Context) (Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cluster == nil {
		return Cluster{}, fmt.Errorf("%w: in no group", ErrNotFound)
	}
	return *f.cluster, nil
}
