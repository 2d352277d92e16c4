package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func decodeInto[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

func wantStatus(t *testing.T, w interface{ Result() *http.Response }, code int) {
	t.Helper()
	if got := w.Result().StatusCode; got != code {
		t.Fatalf("status %d, want %d", got, code)
	}
}

func TestConnectorLifecycle(t *testing.T) {
	s, f := newTestServer(t, WithWorkerID("host-a:8083"))
	h := s.Handler()

	w := do(t, h, req{method: "GET", target: "/connectors"})
	wantStatus(t, w, 200)
	if got := decodeInto[[]string](t, w.Body.String()); fmt.Sprint(got) != "[inv]" {
		t.Fatalf("list %v", got)
	}

	w = do(t, h, req{method: "POST", target: "/connectors",
		body: `{"name":"orders","config":{"type":"mysql","mysql.password":"secret"}}`})
	wantStatus(t, w, 201)
	if loc := w.Header().Get("Location"); loc != "/connectors/orders" {
		t.Fatalf("Location %q", loc)
	}
	info := decodeInto[ConnectorInfo](t, w.Body.String())
	if info.Name != "orders" || info.Config["mysql.password"] != "********" || len(info.Tasks) != 1 {
		t.Fatalf("created %+v", info)
	}
	if f.lastConfig["name"] != "orders" {
		t.Fatalf("the name key was not set in the config given to the backend: %v", f.lastConfig)
	}
	if strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("secret echoed: %s", w.Body.String())
	}

	w = do(t, h, req{method: "POST", target: "/connectors", body: `{"name":"orders","config":{"type":"mysql"}}`})
	wantStatus(t, w, 409)
	errorBody(t, w)

	w = do(t, h, req{method: "GET", target: "/connectors/orders"})
	wantStatus(t, w, 200)
	if got := decodeInto[ConnectorInfo](t, w.Body.String()); got.Name != "orders" || got.Type != "source" {
		t.Fatalf("get %+v", got)
	}

	w = do(t, h, req{method: "GET", target: "/connectors/orders/config"})
	wantStatus(t, w, 200)
	if got := decodeInto[Config](t, w.Body.String()); got["type"] != "mysql" {
		t.Fatalf("config %v", got)
	}

	w = do(t, h, req{method: "PUT", target: "/connectors/orders/config", body: `{"type":"mysql","mysql.host":"h"}`})
	wantStatus(t, w, 200)
	w = do(t, h, req{method: "PUT", target: "/connectors/fresh/config", body: `{"type":"postgres"}`})
	wantStatus(t, w, 201)
	w = do(t, h, req{method: "PUT", target: "/connectors/fresh2", body: `{"config":{"type":"postgres"}}`})
	wantStatus(t, w, 201)
	w = do(t, h, req{method: "PUT", target: "/connectors/fresh2", body: `{"name":"fresh2","config":{"type":"postgres","x":"y"}}`})
	wantStatus(t, w, 200)

	w = do(t, h, req{method: "GET", target: "/connectors/orders/status"})
	wantStatus(t, w, 200)
	st := decodeInto[ConnectorStatus](t, w.Body.String())
	if st.Connector.State != StateRunning || st.Connector.WorkerID != "host-a:8083" || st.Tasks[0].WorkerID != "host-a:8083" || st.Type != "source" {
		t.Fatalf("status %+v", st)
	}
	if len(st.Snapshot) != 1 || st.Snapshot[0].Table != "public.t" {
		t.Fatalf("snapshot progress %+v", st.Snapshot)
	}

	for _, c := range []struct {
		verb  string
		code  int
		state State
	}{{"pause", 202, StatePaused}, {"resume", 202, StateRunning}, {"stop", 204, StateStopped}} {
		w = do(t, h, req{method: "PUT", target: "/connectors/orders/" + c.verb})
		wantStatus(t, w, c.code)
		if w.Body.Len() != 0 {
			t.Fatalf("%s: body %q", c.verb, w.Body.String())
		}
		if f.states["orders"] != c.state {
			t.Fatalf("%s: state %s", c.verb, f.states["orders"])
		}
	}

	w = do(t, h, req{method: "GET", target: "/connectors/orders/offsets"})
	wantStatus(t, w, 200)
	if got := decodeInto[Offsets](t, w.Body.String()); got.Offsets == nil || len(got.Offsets) != 0 {
		t.Fatalf("offsets of a new connector %+v (want an empty list)", got)
	}
	w = do(t, h, req{method: "GET", target: "/connectors/inv/offsets"})
	wantStatus(t, w, 200)
	if got := decodeInto[Offsets](t, w.Body.String()); len(got.Offsets) != 1 || string(got.Offsets[0].Offset) != `{"lsn":"0/16B3748"}` {
		t.Fatalf("offsets %+v", got)
	}

	patch := `{"offsets":[{"partition":{"server":"orders"},"offset":{"gtids":"a:1-5"}}]}`
	w = do(t, h, req{method: "PATCH", target: "/connectors/orders/offsets", body: patch})
	wantStatus(t, w, 200)
	if m := decodeInto[Message](t, w.Body.String()); !strings.Contains(m.Message, "altered") {
		t.Fatalf("message %q", m.Message)
	}
	if got := string(f.offsets["orders"].Offsets[0].Offset); got != `{"gtids":"a:1-5"}` {
		t.Fatalf("backend offsets %s", got)
	}
	// Not stopped: the backend's ErrConflict is a 409 with its message.
	w = do(t, h, req{method: "PATCH", target: "/connectors/inv/offsets", body: patch})
	wantStatus(t, w, 409)
	if e := errorBody(t, w); !strings.Contains(e.Message, "not STOPPED") {
		t.Fatalf("conflict message %q", e.Message)
	}

	w = do(t, h, req{method: "DELETE", target: "/connectors/orders/offsets"})
	wantStatus(t, w, 200)
	if m := decodeInto[Message](t, w.Body.String()); !strings.Contains(m.Message, "reset") {
		t.Fatalf("message %q", m.Message)
	}

	w = do(t, h, req{method: "POST", target: "/connectors/orders/restart"})
	wantStatus(t, w, 204)
	if f.restarts["orders"] != 1 {
		t.Fatalf("restarts %d", f.restarts["orders"])
	}

	w = do(t, h, req{method: "POST", target: "/connectors/orders/snapshots", body: `{"tables":["db.a","db.b"]}`})
	wantStatus(t, w, 202)
	if got := fmt.Sprint(f.snapshots["orders"]); got != "[db.a db.b]" {
		t.Fatalf("snapshot tables %s", got)
	}

	// A delete says what the connector leaves on its source; ?purge=true drops it.
	w = do(t, h, req{method: "DELETE", target: "/connectors/orders"})
	wantStatus(t, w, 200)
	if d := decodeInto[Deleted](t, w.Body.String()); d.Name != "orders" || len(d.Kept) != 1 || len(d.Dropped) != 0 {
		t.Fatalf("delete answer %+v, want the kept slot", d)
	}
	w = do(t, h, req{method: "DELETE", target: "/connectors/inv?purge=true"})
	wantStatus(t, w, 200)
	if d := decodeInto[Deleted](t, w.Body.String()); d.Name != "inv" || len(d.Dropped) != 1 || len(d.Kept) != 0 {
		t.Fatalf("purge answer %+v, want the dropped slot", d)
	}
	w = do(t, h, req{method: "DELETE", target: "/connectors/orders"})
	wantStatus(t, w, 404)
	w = do(t, h, req{method: "GET", target: "/connectors/orders"})
	wantStatus(t, w, 404)
	errorBody(t, w)
}

func TestRestartWithQueryParameters(t *testing.T) {
	s, f := newTestServer(t)
	h := s.Handler()
	w := do(t, h, req{method: "POST", target: "/connectors/inv/restart?includeTasks=true"})
	wantStatus(t, w, 202)
	if st := decodeInto[ConnectorStatus](t, w.Body.String()); st.Name != "inv" || f.restarts["inv"] != 1 {
		t.Fatalf("status %+v restarts %d", st, f.restarts["inv"])
	}
	// onlyFailed on a RUNNING connector restarts nothing.
	w = do(t, h, req{method: "POST", target: "/connectors/inv/restart?onlyFailed=true"})
	wantStatus(t, w, 202)
	if f.restarts["inv"] != 1 {
		t.Fatalf("onlyFailed restarted a running connector")
	}
	f.states["inv"] = StateFailed
	w = do(t, h, req{method: "POST", target: "/connectors/inv/restart?onlyFailed=true&includeTasks=true"})
	wantStatus(t, w, 202)
	if f.restarts["inv"] != 2 {
		t.Fatalf("onlyFailed did not restart a failed connector")
	}
	w = do(t, h, req{method: "POST", target: "/connectors/inv/restart?onlyFailed=yes"})
	wantStatus(t, w, 400)
	errorBody(t, w)
}

func TestListExpand(t *testing.T) {
	s, _ := newTestServer(t)
	w := do(t, s.Handler(), req{method: "GET", target: "/connectors?expand=status&expand=info"})
	wantStatus(t, w, 200)
	got := decodeInto[map[string]struct {
		Status ConnectorStatus `json:"status"`
		Info   ConnectorInfo   `json:"info"`
	}](t, w.Body.String())
	if got["inv"].Status.Connector.State != StateRunning || got["inv"].Info.Name != "inv" {
		t.Fatalf("expanded %+v", got)
	}
	if strings.Contains(w.Body.String(), "hunter2") {
		t.Fatalf("secret in %s", w.Body.String())
	}
}

func TestPluginsAndValidate(t *testing.T) {
	s, _ := newTestServer(t, WithVersion("1.2.3"))
	h := s.Handler()
	w := do(t, h, req{method: "GET", target: "/connector-plugins"})
	wantStatus(t, w, 200)
	ps := decodeInto[[]PluginInfo](t, w.Body.String())
	if len(ps) != 2 || ps[0].Class != "mysql" || ps[1].Class != "postgres" || ps[0].Version != "1.2.3" {
		t.Fatalf("plugins %+v", ps)
	}
	for _, typ := range []string{"postgres", "PostgresConnector", "io.debezium.connector.postgresql.PostgresConnector"} {
		w = do(t, h, req{method: "PUT", target: "/connector-plugins/" + typ + "/config/validate", body: `{"type":"postgres"}`})
		wantStatus(t, w, 200)
		v := decodeInto[Validation](t, w.Body.String())
		if v.Name != "postgres" || v.ErrorCount != 1 || v.Errors[0].Name != "postgres.host" {
			t.Fatalf("%s: validation %+v", typ, v)
		}
	}
	w = do(t, h, req{method: "PUT", target: "/connector-plugins/mysql/config/validate", body: `{}`})
	wantStatus(t, w, 200)
	if v := decodeInto[Validation](t, w.Body.String()); v.ErrorCount != 0 || v.Errors == nil {
		t.Fatalf("validation %+v (want 0 errors, an empty list)", v)
	}
	w = do(t, h, req{method: "PUT", target: "/connector-plugins/oracle/config/validate", body: `{}`})
	wantStatus(t, w, 404)
	errorBody(t, w)
	w = do(t, h, req{method: "GET", target: "/"})
	wantStatus(t, w, 200)
	if si := decodeInto[ServerInfo](t, w.Body.String()); si.Version != "1.2.3" {
		t.Fatalf("root %+v", si)
	}
}

func TestHealthReadyMetricsOpenAPI(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cdcd_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	s, f := newTestServer(t, WithGatherer(reg))
	h := s.Handler()
	wantStatus(t, do(t, h, req{method: "GET", target: "/healthz"}), 200)
	wantStatus(t, do(t, h, req{method: "GET", target: "/readyz"}), 200)

	f.fail["Ready"] = fmt.Errorf("%w: restoring connector configurations", ErrUnavailable)
	w := do(t, h, req{method: "GET", target: "/readyz"})
	wantStatus(t, w, 503)
	if e := errorBody(t, w); !strings.Contains(e.Message, "restoring") {
		t.Fatalf("readyz message %q", e.Message)
	}
	f.fail["Ready"] = errors.New("dial tcp 10.0.0.7:9092: refused")
	w = do(t, h, req{method: "GET", target: "/readyz"})
	wantStatus(t, w, 503)
	if e := errorBody(t, w); strings.Contains(e.Message, "10.0.0.7") {
		t.Fatalf("internal detail leaked: %q", e.Message)
	}

	w = do(t, h, req{method: "GET", target: "/metrics"})
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), "cdcd_test_total 3") {
		t.Fatalf("metrics %q", w.Body.String())
	}
	w = do(t, h, req{method: "GET", target: "/openapi.json"})
	wantStatus(t, w, 200)
	if !json.Valid(w.Body.Bytes()) || !strings.Contains(w.Body.String(), `"openapi": "3.0.3"`) {
		t.Fatalf("openapi.json not served")
	}
}

func TestDefaultMetricsHaveGoRuntime(t *testing.T) {
	s, _ := newTestServer(t)
	w := do(t, s.Handler(), req{method: "GET", target: "/metrics"})
	wantStatus(t, w, 200)
	if !strings.Contains(w.Body.String(), "go_goroutines") {
		t.Fatalf("default metrics lack the Go collector")
	}
}

// TestBackendErrorsMapToStatuses checks the sentinel mapping, and that an unexpected error's
// text (which may hold internals) is not shown but names the request id.
func TestBackendErrorsMapToStatuses(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		show bool
	}{
		{fmt.Errorf("%w: connector x", ErrNotFound), 404, true},
		{fmt.Errorf("%w: exists", ErrConflict), 409, true},
		{fmt.Errorf("%w: postgres.host: required", ErrInvalid), 400, true},
		{fmt.Errorf("%w: kafka unreachable", ErrUnavailable), 503, true},
		{errors.New("pq: password authentication failed for user bob at 10.1.2.3"), 500, false},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), 503, false},
	} {
		s, f := newTestServer(t)
		f.fail["Status"] = c.err
		w := do(t, s.Handler(), req{method: "GET", target: "/connectors/inv/status"})
		wantStatus(t, w, c.code)
		e := errorBody(t, w)
		if c.show != strings.Contains(e.Message, c.err.Error()) {
			t.Fatalf("%v: message %q (show %v)", c.err, e.Message, c.show)
		}
		if !c.show && !strings.Contains(e.Message, w.Header().Get("X-Request-Id")) {
			t.Fatalf("%v: message %q lacks the request id", c.err, e.Message)
		}
	}
}
