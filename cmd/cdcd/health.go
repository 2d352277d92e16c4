package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/api"
)

// HealthConfig sets the health listener: GET /healthz, GET /readyz and GET /metrics alone,
// without a token, for Kubernetes probes, load balancers and Prometheus, in both modes (the API
// on or off). The API serves the same endpoints, but behind its token when it has one, which a
// kubelet's probe cannot send, and on loopback in the sidecar examples, which Prometheus cannot
// reach; with the API off, the health listener is the only place the metrics are served.
type HealthConfig struct {
	// Listen is the listener's host:port; empty (the default): no listener.
	Listen string `json:"listen"`
}

// problems lists what is wrong with the health section.
func (h HealthConfig) problems() []string {
	if h.Listen == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		return []string{fmt.Sprintf("health.listen: %q is not host:port", h.Listen)}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return []string{fmt.Sprintf("health.listen: %q: the port is not 0 to 65535", h.Listen)}
	}
	return nil
}

// healthShutdown bounds the health listener's graceful shutdown.
const healthShutdown = 5 * time.Second

// newMetrics returns the daemon's metrics registry, with the Go runtime's and the process's
// collectors; the caller adds the manager's collector once the worker runs. One registry serves
// both the API's /metrics and the health listener's, so the two never disagree.
func newMetrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// serveHealth serves the probes of b ([api.HealthHandler]) and the metrics of g on
// cfg.Health.Listen, when set, until the returned function is called. It fails when it cannot
// listen.
func serveHealth(ctx context.Context, cfg *Config, b api.Backend, g prometheus.Gatherer, log zerolog.Logger) (func(), error) {
	stop, _, err := listenHealth(ctx, cfg, b, g, log)
	return stop, err
}

// healthHandler is the health listener's handler: the probes of b and GET /metrics of g.
func healthHandler(b api.Backend, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api.HealthHandler(b))
	// ContinueOnError as the API does: a failing collector costs its series, not the scrape.
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}

// listenHealth is serveHealth, which also returns the address it listens on (nil: none).
func listenHealth(ctx context.Context, cfg *Config, b api.Backend, g prometheus.Gatherer, log zerolog.Logger) (func(), net.Addr, error) {
	if cfg.Health.Listen == "" {
		return func() {}, nil, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Health.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: health listener on %s (health.listen): %w", ErrConfig, cfg.Health.Listen, err)
	}
	srv := &http.Server{
		Handler:           healthHandler(b, g),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       5 * time.Second,
		// Ready waits for at most one Kafka request of 5 s.
		WriteTimeout: 10 * time.Second,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("health listener stopped serving")
		}
	}()
	log.Info().Str("listen", ln.Addr().String()).Msg("health listener serving /healthz, /readyz and /metrics")
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthShutdown)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, ln.Addr(), nil
}
