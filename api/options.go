package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/internal/httpguard"
)

// Defaults of the options, in one place.
const (
	// DefaultAddr is where the server listens when WithAddr is not given: Kafka Connect's port,
	// on loopback only, so that an unconfigured daemon is not reachable from the network.
	DefaultAddr = "127.0.0.1:8083"
	// DefaultMaxBodyBytes bounds a request body (WithMaxBodyBytes). A connector's configuration
	// is a few kilobytes; a bigger body is a mistake or an attack.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxHeaderBytes bounds the request line and headers (WithMaxHeaderBytes); beyond it
	// the http.Server answers 431.
	DefaultMaxHeaderBytes = 64 << 10
	// DefaultReadTimeout bounds reading a whole request, headers and body (WithReadTimeout).
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds handling a request and writing its answer (WithWriteTimeout);
	// it also bounds the calls of the Backend made for the request.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultShutdownTimeout bounds the graceful shutdown of Serve once its context ends: requests
	// still running after it are cut (WithShutdownTimeout).
	DefaultShutdownTimeout = 10 * time.Second
	// MinTokenBytes is the shortest bearer token accepted: a short token can be guessed.
	MinTokenBytes = httpguard.MinTokenBytes
)

// ErrInvalidOption is returned by New when the options contradict each other or are out of range.
var ErrInvalidOption = errors.New("api: invalid option")

// Option configures New.
type Option func(*config)

type config struct {
	addr            string
	token           string
	certFile        string
	keyFile         string
	workerID        string
	gatherer        prometheus.Gatherer
	maxBodyBytes    int64
	maxHeaderBytes  int
	readTimeout     time.Duration
	writeTimeout    time.Duration
	shutdownTimeout time.Duration
	version         string
	logger          zerolog.Logger
	plugins         []Plugin
	cluster         func(ctx context.Context) (Cluster, error)
}

func defaultConfig() config {
	return config{
		addr:            DefaultAddr,
		maxBodyBytes:    DefaultMaxBodyBytes,
		maxHeaderBytes:  DefaultMaxHeaderBytes,
		readTimeout:     DefaultReadTimeout,
		writeTimeout:    DefaultWriteTimeout,
		shutdownTimeout: DefaultShutdownTimeout,
		version:         "dev",
		logger:          zerolog.Nop(),
	}
}

// WithAddr sets the host:port the server listens on, DefaultAddr by default. An address that
// is not loopback (127.0.0.0/8, ::1, localhost; an empty host means every interface) requires
// WithToken.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithToken sets the bearer token every request but GET /healthz must carry
// ("Authorization: Bearer <token>"). No token by default, which is only allowed on loopback.
// It must be at least MinTokenBytes long, without spaces or control characters.
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithTLS makes the server speak HTTPS with the certificate chain and private key in these PEM
// files; plain HTTP by default. The files are read by New.
func WithTLS(certFile, keyFile string) Option {
	return func(c *config) { c.certFile, c.keyFile = certFile, keyFile }
}

// WithWorkerID sets the worker id (Kafka Connect's advertised host:port) that the server puts
// in statuses whose worker_id the Backend left empty; the listen address by default.
func WithWorkerID(id string) Option { return func(c *config) { c.workerID = id } }

// WithGatherer sets the metrics served at GET /metrics; by default a registry of the server's
// own holding only the Go runtime and process collectors.
func WithGatherer(g prometheus.Gatherer) Option { return func(c *config) { c.gatherer = g } }

// WithMaxBodyBytes bounds request bodies, DefaultMaxBodyBytes by default; a bigger body is
// answered 413.
func WithMaxBodyBytes(n int64) Option { return func(c *config) { c.maxBodyBytes = n } }

// WithMaxHeaderBytes bounds the request line and headers, DefaultMaxHeaderBytes by default.
func WithMaxHeaderBytes(n int) Option { return func(c *config) { c.maxHeaderBytes = n } }

// WithReadTimeout bounds reading one request, DefaultReadTimeout by default.
func WithReadTimeout(d time.Duration) Option { return func(c *config) { c.readTimeout = d } }

// WithWriteTimeout bounds handling one request, DefaultWriteTimeout by default.
func WithWriteTimeout(d time.Duration) Option { return func(c *config) { c.writeTimeout = d } }

// WithShutdownTimeout bounds Serve's graceful shutdown, DefaultShutdownTimeout by default.
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *config) { c.shutdownTimeout = d }
}

// WithVersion sets the version reported by GET / and GET /connector-plugins, "dev" by default.
func WithVersion(v string) Option { return func(c *config) { c.version = v } }

// WithLogger sets where the server logs failed requests (error level, with the request id) and
// each request (debug level). Request bodies and configurations are never logged: they may hold
// passwords. Nothing is logged by default.
func WithLogger(l zerolog.Logger) Option { return func(c *config) { c.logger = l } }

func (c config) validate() error {
	if err := httpguard.CheckListen(c.addr, c.token != ""); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if c.token != "" {
		if err := httpguard.CheckToken(c.token); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	if (c.certFile == "") != (c.keyFile == "") {
		return fmt.Errorf("%w: TLS needs both a certificate and a key file", ErrInvalidOption)
	}
	if c.maxBodyBytes <= 0 {
		return fmt.Errorf("%w: max body bytes %d", ErrInvalidOption, c.maxBodyBytes)
	}
	if c.maxHeaderBytes <= 0 {
		return fmt.Errorf("%w: max header bytes %d", ErrInvalidOption, c.maxHeaderBytes)
	}
	if c.readTimeout <= 0 || c.writeTimeout <= 0 || c.shutdownTimeout <= 0 {
		return fmt.Errorf("%w: timeouts must be positive (read %s, write %s, shutdown %s)",
			ErrInvalidOption, c.readTimeout, c.writeTimeout, c.shutdownTimeout)
	}
	return nil
}
