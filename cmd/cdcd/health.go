package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/api"
)

// HealthConfig sets the health listener: GET /healthz and GET /readyz alone, without a token,
// for Kubernetes probes and load balancers, in both modes (the API on or off). The API serves
// the same endpoints, but behind its token when it has one, which a kubelet's probe cannot
// send.
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

// serveHealth serves the probes of b ([api.HealthHandler]) on cfg.Health.Listen, when set, until
// the returned function is called. It fails when it cannot listen.
func serveHealth(ctx context.Context, cfg *Config, b api.Backend, log zerolog.Logger) (func(), error) {
	stop, _, err := listenHealth(ctx, cfg, b, log)
	return stop, err
}

// listenHealth is serveHealth, which also returns the address it listens on (nil: none).
func listenHealth(ctx context.Context, cfg *Config, b api.Backend, log zerolog.Logger) (func(), net.Addr, error) {
	if cfg.Health.Listen == "" {
		return func() {}, nil, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Health.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: health listener on %s (health.listen): %w", ErrConfig, cfg.Health.Listen, err)
	}
	srv := &http.Server{
		Handler:           api.HealthHandler(b),
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
	log.Info().Str("listen", ln.Addr().String()).Msg("health listener serving /healthz and /readyz")
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthShutdown)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}, ln.Addr(), nil
}
