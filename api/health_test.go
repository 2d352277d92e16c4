package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// liveFake is a fake Backend with a Liveness whose answer the test sets.
type liveFake struct {
	*fakeBackend
	mu   sync.Mutex
	dead error
}

func (l *liveFake) Live(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dead
}

func (l *liveFake) setDead(err error) {
	l.mu.Lock()
	l.dead = err
	l.mu.Unlock()
}

var _ Liveness = (*liveFake)(nil)

// GET /healthz follows the Backend's Liveness: 503 with the reason while it fails, through a
// Gate too (a closed Gate is alive: the daemon is starting).
func TestHealthzFollowsLiveness(t *testing.T) {
	b := &liveFake{fakeBackend: newFake()}
	g := NewGate("waiting for Kafka at 127.0.0.1:9092")
	s, err := New(g)
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	wantStatus(t, do(t, h, req{method: "GET", target: "/healthz"}), http.StatusOK)
	b.setDead(errors.New("never shown"))
	wantStatus(t, do(t, h, req{method: "GET", target: "/healthz"}), http.StatusOK)

	g.Open(b)
	w := do(t, h, req{method: "GET", target: "/healthz"})
	wantStatus(t, w, http.StatusServiceUnavailable)
	if msg := errorBody(t, w).Message; strings.Contains(msg, "never shown") {
		t.Fatalf("healthz message %q: an error not meant for users is shown", msg)
	}
	b.setDead(errors.Join(ErrUnavailable, errors.New("the worker's heartbeat is 40s old")))
	w = do(t, h, req{method: "GET", target: "/healthz"})
	wantStatus(t, w, http.StatusServiceUnavailable)
	if msg := errorBody(t, w).Message; !strings.Contains(msg, "not alive") || !strings.Contains(msg, "heartbeat") {
		t.Fatalf("healthz message %q, want not alive and the reason", msg)
	}
	b.setDead(nil)
	wantStatus(t, do(t, h, req{method: "GET", target: "/healthz"}), http.StatusOK)
}

// HealthHandler answers the probes with no token and no reason, and nothing else.
func TestHealthHandler(t *testing.T) {
	b := &liveFake{fakeBackend: newFake()}
	g := NewGate("waiting for Kafka at 10.0.0.7:9092")
	h := HealthHandler(g)
	check := func(target string, code int, status string) {
		t.Helper()
		w := do(t, h, req{method: "GET", target: target, header: map[string]string{"Host": "10.1.2.3:8081"}})
		wantStatus(t, w, code)
		if got := w.Body.String(); !strings.Contains(got, `"status":"`+status+`"`) || strings.Contains(got, "10.0.0.7") {
			t.Fatalf("%s: body %q, want status %q and no reason", target, got, status)
		}
	}
	check("/healthz", 200, "ok")
	check("/readyz", 503, "not ready")
	g.Open(b)
	check("/readyz", 200, "ready")
	b.fail["Ready"] = errors.Join(ErrUnavailable, errors.New("no Kafka broker answers: dial 10.0.0.7:9092"))
	check("/readyz", 503, "not ready")
	b.setDead(errors.Join(ErrUnavailable, errors.New("wedged")))
	check("/healthz", 503, "not alive")
	wantStatus(t, do(t, h, req{method: "GET", target: "/connectors"}), http.StatusNotFound)
	wantStatus(t, do(t, h, req{method: "POST", target: "/readyz"}), http.StatusMethodNotAllowed)
}
