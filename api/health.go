package api

import (
	"context"
	"errors"
	"net/http"
)

// Liveness is what a [Backend] implements when its liveness means more than "the process
// answers HTTP": GET /healthz answers 503 while Live fails (the worker's heartbeat is stale,
// say), so that a supervisor restarts a wedged process. Live must not block: it is called
// by probes, possibly while the backend is wedged. A Backend without it is alive while the
// server answers.
type Liveness interface {
	Live(ctx context.Context) error
}

// Live implements [Liveness]: a closed Gate is alive (the daemon is starting, waiting for the
// servers its backend needs: a restart would not bring them); an open one is as alive as its
// backend.
func (g *Gate) Live(ctx context.Context) error {
	b, err := g.get()
	if err != nil {
		return nil
	}
	return live(ctx, b)
}

// live returns b's Live, nil when b does not implement [Liveness].
func live(ctx context.Context, b Backend) error {
	if l, ok := b.(Liveness); ok {
		return l.Live(ctx)
	}
	return nil
}

// HealthHandler serves GET /healthz (b's [Liveness]) and GET /readyz (b's Ready) alone, for
// a listener of their own that Kubernetes probes and load balancers reach without a token:
// the answers say "ok", "ready" or "not ready" and nothing else (the reasons, which may name
// servers, are in the daemon's log and on the API's own /readyz, behind its token). Any
// other path is 404, any other method 405.
func HealthHandler(b Backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := live(r.Context(), b); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, Health{Status: "not alive"})
			return
		}
		writeJSON(w, http.StatusOK, Health{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, Health{Status: "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, Health{Status: "ready"})
	})
	return mux
}

// healthz answers 200 while the Backend is alive ([Liveness]), 503 with the reason when it
// wraps ErrUnavailable (else a generic one, the error logged).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	err := live(r.Context(), s.backend)
	if err == nil {
		writeJSON(w, http.StatusOK, Health{Status: "ok"})
		return
	}
	if errors.Is(err, ErrUnavailable) {
		writeErrorStatus(w, http.StatusServiceUnavailable, "not alive: "+err.Error())
		return
	}
	s.log.Warn().Err(err).Str("request_id", requestID(r.Context())).Msg("not alive")
	writeErrorStatus(w, http.StatusServiceUnavailable, "not alive; see the daemon's log")
}
