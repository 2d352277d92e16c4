package api

import (
	"net/http"
	"strings"
	"testing"
)

// A closed Gate answers not ready, with its reason, and 503 on the connector endpoints; an open
// one passes everything to the backend.
func TestGate(t *testing.T) {
	g := NewGate("waiting for Kafka at 127.0.0.1:9092")
	s, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	w := do(t, h, req{method: "GET", target: "/readyz"})
	wantStatus(t, w, http.StatusServiceUnavailable)
	if msg := errorBody(t, w).Message; !strings.Contains(msg, "not ready") || !strings.Contains(msg, "waiting for Kafka at 127.0.0.1:9092") {
		t.Fatalf("readyz message %q, want not ready and the reason", msg)
	}
	wantStatus(t, do(t, h, req{method: "GET", target: "/healthz"}), http.StatusOK)
	for _, rq := range []req{
		{method: "GET", target: "/connectors"},
		{method: "GET", target: "/connectors/inv/status"},
		{method: "PUT", target: "/connectors/inv/config", body: `{"type":"postgres"}`},
		{method: "DELETE", target: "/connectors/inv"},
	} {
		w := do(t, h, rq)
		wantStatus(t, w, http.StatusServiceUnavailable)
		if msg := errorBody(t, w).Message; !strings.Contains(msg, "waiting for Kafka") {
			t.Errorf("%s %s: message %q, want the reason", rq.method, rq.target, msg)
		}
	}

	g.SetReason("waiting for Kafka at 127.0.0.1:9092: i/o timeout")
	if msg := errorBody(t, do(t, h, req{method: "GET", target: "/readyz"})).Message; !strings.Contains(msg, "i/o timeout") {
		t.Fatalf("readyz message %q after SetReason", msg)
	}

	f := newFake()
	f.add("inv", Config{"type": "postgres"}, StateRunning)
	g.Open(f)
	wantStatus(t, do(t, h, req{method: "GET", target: "/readyz"}), http.StatusOK)
	wantStatus(t, do(t, h, req{method: "GET", target: "/connectors/inv/status"}), http.StatusOK)
}
