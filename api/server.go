package api

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/internal/httpguard"
)

// Server is cdcd's REST API server. It holds no connector state: each request becomes calls of
// its Backend. Build it with New; it is safe for concurrent use.
type Server struct {
	cfg       config
	backend   Backend
	log       zerolog.Logger
	tlsConfig *tls.Config
	token     httpguard.Token
	handler   http.Handler
	mux       *http.ServeMux
	metrics   http.Handler
	csrf      *http.CrossOriginProtection

	mu    sync.Mutex
	bound net.Addr // set once Serve listens
}

// New builds a server answering with backend. It fails with ErrInvalidOption when the options
// are contradictory (for instance a non-loopback address without a token) or the TLS files
// cannot be loaded.
func New(backend Backend, opts ...Option) (*Server, error) {
	if backend == nil {
		return nil, fmt.Errorf("%w: nil backend", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, backend: backend, log: cfg.logger, csrf: http.NewCrossOriginProtection()}
	s.token = httpguard.NewToken(cfg.token)
	if cfg.certFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.certFile, cfg.keyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS certificate and key: %w", ErrInvalidOption, err)
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	gatherer := cfg.gatherer
	if gatherer == nil {
		// A registry of our own rather than prometheus.DefaultGatherer: no global state.
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		gatherer = reg
	}
	s.metrics = promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	s.mux = http.NewServeMux()
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern(), rt.handler)
	}
	s.handler = s.middleware(s.mux)
	return s, nil
}

// Handler returns the server's whole HTTP handler (authentication, limits, routes), for tests
// and for embedding in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the address the server listens on: the bound one (with the real port when :0
// was asked) once Serve listens, the configured one before.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound != nil {
		return s.bound.String()
	}
	return s.cfg.addr
}

// Serve listens on the configured address and serves until ctx ends, then shuts down
// gracefully: it stops accepting, lets running requests finish for up to the shutdown timeout,
// and returns nil. It returns an error when it cannot listen or serving fails.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := s.Listen(ctx)
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, ln)
}

// Listen binds the configured address, so that a caller can tell at once whether the API can
// serve, before starting [Server.ServeListener] in the background.
func (s *Server) Listen(ctx context.Context) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", s.cfg.addr, err)
	}
	s.setBound(ln.Addr())
	return ln, nil
}

// ServeListener is [Server.Serve] on ln, which [Server.Listen] returned; it closes ln.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln)
}

func (s *Server) setBound(a net.Addr) {
	s.mu.Lock()
	s.bound = a
	s.mu.Unlock()
}

// serve serves on ln (closed when it returns) until ctx ends.
func (s *Server) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: min(s.cfg.readTimeout, 10*time.Second),
		ReadTimeout:       s.cfg.readTimeout,
		// The handler's own deadline is writeTimeout; give the write itself a little more so a
		// late answer is still sent rather than the connection cut.
		WriteTimeout:   s.cfg.writeTimeout + 5*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: s.cfg.maxHeaderBytes,
		TLSConfig:      s.tlsConfig,
		// net/http's own complaints (TLS handshakes of port scanners, ...) go to our log at
		// debug level rather than to stderr.
		ErrorLog:    log.New(debugWriter{s.log}, "", 0),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() {
		if s.tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	s.log.Info().Str("addr", ln.Addr().String()).Bool("tls", s.tlsConfig != nil).
		Bool("token", s.cfg.token != "").Msg("REST API listening")
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-errc
		return fmt.Errorf("api: graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// debugWriter writes each line it is given as a debug log message.
type debugWriter struct{ l zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.l.Debug().Str("component", "http.Server").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

type ctxKey int

const requestIDKey ctxKey = 0

// requestID returns the id middleware gave the request.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// statusWriter remembers the status written, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware wraps the routes with, in order: request id and access log, panic recovery,
// canonical paths, the Host check, authentication, cross-origin protection, a deadline, and
// JSON answers for the mux's own 404 and 405.
func (s *Server) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error().Str("request_id", id).Str("method", r.Method).Str("path", r.URL.Path).
					Interface("panic", v).Msg("request handler panicked")
				if sw.status == 0 {
					writeErrorStatus(sw, http.StatusInternalServerError,
						fmt.Sprintf("internal error (request id %s); see the daemon's log", id))
				}
			}
			s.log.Debug().Str("request_id", id).Str("method", r.Method).Str("path", r.URL.Path).
				Int("status", sw.status).Stringer("took", time.Since(start)).Msg("request")
		}()
		s.serveChecked(sw, r, mux)
	})
}

func (s *Server) serveChecked(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	// ServeMux would answer a non-canonical path ("/connectors/a/../b", "//x") with a redirect
	// to the cleaned one; refuse it instead: a client sending such paths is confused or probing.
	p := r.URL.Path
	if c := path.Clean(p); p == "" || p[0] != '/' || c != p && c+"/" != p {
		writeErrorStatus(w, http.StatusBadRequest, "the request path is not canonical (no '.', '..' or empty segments)")
		return
	}
	if s.cfg.token == "" && !httpguard.LoopbackRequest(r) {
		// Without a token the API trusts whoever reaches loopback. A browser tricked by DNS
		// rebinding reaches it too, under a foreign Host name: refuse those.
		writeErrorStatus(w, http.StatusForbidden,
			"the Host header must name the loopback interface (localhost, 127.0.0.1, [::1]) when no token is configured")
		return
	}
	// /healthz stays open so that liveness probes need no secret; it tells nothing but "alive".
	if s.cfg.token != "" && p != "/healthz" && !s.token.Bearer(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cdcd"`)
		writeErrorStatus(w, http.StatusUnauthorized, "missing or invalid bearer token (Authorization: Bearer <token>)")
		return
	}
	if err := s.csrf.Check(r); err != nil {
		writeErrorStatus(w, http.StatusForbidden, "cross-origin browser requests are refused")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.writeTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	h, pattern := mux.Handler(r)
	if pattern == "" {
		// The mux's own 404 or 405 (with Allow): keep the status and headers, answer in JSON.
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		switch rec.status {
		case http.StatusMethodNotAllowed:
			writeErrorStatus(w, rec.status, fmt.Sprintf("method %s is not allowed on %s (allowed: %s)",
				r.Method, r.URL.Path, rec.header.Get("Allow")))
		default:
			writeErrorStatus(w, http.StatusNotFound, "no such endpoint: see /openapi.json")
		}
		return
	}
	// mux.Handler does not set the path values: let the mux route again to set them.
	mux.ServeHTTP(w, r)
}

// headerRecorder catches what the mux's built-in not-found and method-not-allowed handlers
// write, so the server can answer them in JSON.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return len(b), nil
}
