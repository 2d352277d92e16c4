package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
	"unicode"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/rs/zerolog"
)

// mask replaces a secret's value in answers.
const mask = "********"

// connectorType is the type of every connector in Kafka Connect's terms.
const connectorType = "source"

// maxNameLen bounds connector names, which become record keys, transactional ids and labels.
const maxNameLen = 200

// errRunEnded is a connector's trace when its Run returned without an error nor being asked to.
var errRunEnded = errors.New("worker: the connector stopped by itself")

// Manager runs the connectors of one daemon and implements [api.Backend]. Its methods are safe
// for concurrent use; those changing one connector are serialised per connector, and return
// once the change is persisted and the connector's old run, if any, has ended; a new run
// starts in the background.
type Manager struct {
	cfg     config
	factory Factory
	// store keeps the configurations and target states: the config topic, or memory.
	store configStore

	mu     sync.Mutex
	conns  map[string]*entry
	closed bool
	// assigned are, in group mode, the connectors this member runs (see assign.go).
	assigned map[string]bool
	// status is, in group mode with a status topic, the members' shared states (status.go).
	status     *statusBoard
	stopStatus context.CancelFunc
	// runs counts the connectors' goroutines, which Close waits for.
	runs sync.WaitGroup
	// health is the heartbeat and the Kafka check of /healthz and /readyz (health.go).
	health health
}

var _ api.Backend = (*Manager)(nil)

// entry is one connector.
type entry struct {
	name string
	// op serialises the operations that change the connector (a one-slot semaphore, so that
	// waiting for it honours a context); it is held while an operation waits for a run to end.
	op chan struct{}

	// The fields below are guarded by mu.
	mu sync.Mutex
	// exists is false until the connector's first record is written, and after its tombstone.
	exists bool
	// cfg is nil when the connector's stored record could not be read (broken says why).
	cfg    api.Config
	broken string
	target target
	state  api.State
	trace  string
	// next is the time of a RESTARTING connector's next attempt.
	next time.Time
	// conn is the running connector, nil when none runs.
	conn Connector
	// base holds the counters of the connector's earlier runs, so that its metrics only grow.
	base pipeline.Stats
	// gen numbers the runs; a run changes the state only while it is the current one.
	gen    uint64
	cancel context.CancelFunc
	done   chan struct{}
}

func newEntry(name string) *entry {
	return &entry{name: name, op: make(chan struct{}, 1)}
}

// New returns a Manager running the connectors stored in the config topic, which it creates
// when missing, each in its stored target state, then applies the static connectors (see
// [StaticConnectors]). It returns once the configurations are restored; the connectors start
// in the background. ctx bounds the restoring.
func New(ctx context.Context, factory Factory, opts ...Option) (*Manager, error) {
	if factory == nil {
		return nil, fmt.Errorf("%w: a factory is required", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var store configStore
	if cfg.inMemory {
		store = newMemStore()
	} else {
		ks, err := newKafkaStore(ctx, cfg.clientOpts(), cfg.configTopic)
		if err != nil {
			return nil, err
		}
		store = ks
		if cfg.secretsKey != nil {
			s, err := newSealer(cfg.secretsKey)
			if err != nil {
				ks.close()
				return nil, err
			}
			store = newSealingStore(ks, s, factory.Secret)
		}
	}
	m := &Manager{cfg: cfg, factory: factory, store: store, conns: make(map[string]*entry)}
	m.startHealth()
	if cfg.grouped && cfg.statusTopic != "" {
		b, err := openStatusBoard(ctx, cfg.clientOpts(), cfg.statusTopic, cfg.log)
		if err != nil {
			store.close()
			return nil, err
		}
		m.status = b
		statusCtx, cancel := context.WithCancel(context.Background())
		m.stopStatus = cancel
		go m.publishStatuses(statusCtx)
	}
	if err := m.restore(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// restore reads the store (the config topic), applies the static connectors and starts the
// connectors whose target is STARTED.
func (m *Manager) restore(ctx context.Context) error {
	stored, broken, err := m.store.load(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	for name, s := range stored {
		e := newEntry(name)
		e.exists, e.cfg, e.target, e.state = true, s.Config, s.Target, stateOf(s.Target)
		m.conns[name] = e
	}
	for name, err := range broken {
		m.cfg.log.Error().Err(err).Str("connector", name).Msg("stored connector unreadable")
		e := newEntry(name)
		e.exists, e.target, e.state = true, targetStopped, api.StateFailed
		e.broken = fmt.Sprintf("its stored configuration is unreadable (%v): put a new one", err)
		e.trace = e.broken
		m.conns[name] = e
	}
	m.mu.Unlock()

	for _, name := range slices.Sorted(maps.Keys(m.cfg.static)) {
		if _, _, err := m.PutConnector(ctx, name, m.cfg.static[name]); err != nil {
			return fmt.Errorf("worker: applying the static connector %s: %w", name, err)
		}
	}
	names, _ := m.Connectors(ctx)
	for _, name := range names {
		e, err := m.acquire(ctx, name)
		if err != nil {
			return err
		}
		e.mu.Lock()
		idle := e.target == targetStarted && e.cfg != nil && e.done == nil
		e.mu.Unlock()
		if idle {
			m.start(e)
		}
		e.release()
	}
	restored := m.cfg.log.Info().Int("connectors", len(names))
	if m.cfg.inMemory {
		restored = restored.Str("store", "memory")
	} else {
		restored = restored.Str("topic", m.cfg.configTopic)
	}
	restored.Msg("connectors restored")
	return nil
}

// Close stops every connector, waits for their runs to end, and releases the store.
// Calls after it fail with api.ErrUnavailable.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	entries := slices.Collect(maps.Values(m.conns))
	m.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		if e.cancel != nil {
			e.cancel()
		}
		e.mu.Unlock()
	}
	m.runs.Wait()
	m.stopHealth()
	if m.status != nil {
		m.stopStatus()
		m.status.close()
	}
	m.store.close()
}

// stateOf is the state of a connector that is not running for its target.
func stateOf(t target) api.State {
	switch t {
	case targetPaused:
		return api.StatePaused
	case targetStopped:
		return api.StateStopped
	default:
		return api.StateUnassigned
	}
}

// checkName rejects names that cannot be record keys, transactional ids and URL path segments.
func checkName(name string) error {
	if msg := nameProblem(name); msg != "" {
		return fmt.Errorf("%w: %s", api.ErrInvalid, msg)
	}
	return nil
}

// nameProblem says what is wrong with a connector name, "" when nothing is.
func nameProblem(name string) string {
	switch {
	case name == "":
		return "the connector name is empty"
	case len(name) > maxNameLen:
		return fmt.Sprintf("the connector name is longer than %d bytes", maxNameLen)
	}
	for _, r := range name {
		if r == '/' || r == '\\' || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Sprintf("the connector name %q holds %q", name, r)
		}
	}
	return ""
}

func notFound(name string) error {
	return fmt.Errorf("%w: no connector %s", api.ErrNotFound, name)
}

// lookup returns the connector's entry.
func (m *Manager) lookup(name string) (*entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("%w: the worker is shutting down", api.ErrUnavailable)
	}
	e := m.conns[name]
	if e == nil {
		return nil, notFound(name)
	}
	return e, nil
}

// acquire returns the connector's entry with its op semaphore held.
func (m *Manager) acquire(ctx context.Context, name string) (*entry, error) {
	e, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	if err := e.acquire(ctx); err != nil {
		return nil, err
	}
	e.mu.Lock()
	exists := e.exists
	e.mu.Unlock()
	if !exists {
		e.release()
		return nil, notFound(name)
	}
	return e, nil
}

func (e *entry) acquire(ctx context.Context) error {
	select {
	case e.op <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: connector %s is busy with another operation: %w", api.ErrUnavailable, e.name, ctx.Err())
	}
}

func (e *entry) release() { <-e.op }

// running tells whether a run of the connector has not ended. e.mu must be held.
func (e *entry) running() bool {
	if e.done == nil {
		return false
	}
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

// start runs the connector in the background with its current configuration. e.op must be
// held, and no run of e going on.
func (m *Manager) start(e *entry) {
	// m.mu is held until the run's cancel is in place, so that Close either sees it or has
	// already kept the run from starting.
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if m.cfg.grouped && !m.assigned[e.name] {
		e.mu.Lock()
		e.state, e.trace, e.next = api.StateUnassigned, "", time.Time{}
		e.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	e.mu.Lock()
	e.gen++
	gen, cfg := e.gen, e.cfg
	e.cancel, e.done = cancel, done
	e.state, e.trace, e.next = api.StateUnassigned, "", time.Time{}
	e.mu.Unlock()
	m.runs.Add(1)
	go func() {
		defer m.runs.Done()
		defer close(done)
		defer cancel()
		m.run(ctx, e, gen, cfg)
	}()
}

// halt cancels the connector's run, if any, and waits for it to end (or ctx to). e.op must be
// held.
func (e *entry) halt(ctx context.Context) error {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("%w: connector %s is still stopping: %w", api.ErrUnavailable, e.name, ctx.Err())
	}
	e.mu.Lock()
	e.cancel, e.done = nil, nil
	e.mu.Unlock()
	return nil
}

// setState sets the state of run gen, if it is still the current one (it then returns true);
// next is the time of the next attempt of a RESTARTING connector, zero otherwise.
func (e *entry) setState(gen uint64, s api.State, trace string, next time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.gen != gen {
		return false
	}
	e.state, e.trace, e.next = s, trace, next
	return true
}

// runHealth is the [Health] of one run: it changes the state only while the run is current.
type runHealth struct {
	e   *entry
	gen uint64
}

var _ Health = runHealth{}

func (h runHealth) Retrying(err error, next time.Time) {
	h.e.setState(h.gen, api.StateRestarting, err.Error(), next)
}

func (h runHealth) Healthy() { h.e.setState(h.gen, api.StateRunning, "", time.Time{}) }

func (h runHealth) Stalled(reason error) {
	h.e.setState(h.gen, api.StateDegraded, reason.Error(), time.Time{})
}

// run builds the connector, trying again after a backoff while Build fails, and runs it until
// ctx ends or Run fails.
func (m *Manager) run(ctx context.Context, e *entry, gen uint64, cfg api.Config) {
	log := m.cfg.log.With().Str("connector", e.name).Logger()
	conn := m.build(ctx, e, gen, cfg, log)
	if conn == nil {
		return
	}
	e.mu.Lock()
	if e.gen == gen {
		e.conn, e.state, e.trace, e.next = conn, api.StateRunning, "", time.Time{}
	}
	e.mu.Unlock()
	log.Info().Msg("connector running")

	err := conn.Run(ctx, runHealth{e: e, gen: gen})

	e.mu.Lock()
	failed := false
	defer func() {
		e.mu.Unlock()
		if failed {
			m.failed(e.name, err)
		}
	}()
	s := conn.Stats()
	e.base.Add(s)
	if e.conn == conn {
		e.conn = nil
	}
	if ctx.Err() != nil {
		return // asked to end: the caller sets the state
	}
	if err == nil {
		err = errRunEnded
	}
	log.Error().Err(err).Msg("connector failed")
	if e.gen == gen {
		e.state, e.trace, e.next = api.StateFailed, err.Error(), time.Time{}
		failed = true
	}
}

// failed tells the [OnFailed] function, if any, that the connector is FAILED because of err.
func (m *Manager) failed(name string, err error) {
	if m.cfg.onFailed != nil {
		m.cfg.onFailed(name, err)
	}
}

// build calls Factory.Build until it succeeds (it returns the connector), ctx ends or Build
// fails with an error [pipeline.IsRetryable] calls final (it returns nil then, the connector
// FAILED). While Build fails with retryable errors (a server unreachable), the connector is
// RESTARTING with the error and the time of the next attempt, and each failure logs one
// warning: the first at once, then at least once per maximum build retry.
func (m *Manager) build(ctx context.Context, e *entry, gen uint64, cfg api.Config, log zerolog.Logger) Connector {
	backoff := m.cfg.minBuildRetry
	for {
		conn, err := m.factory.Build(ctx, e.name, cfg)
		if err == nil && conn == nil {
			err = errors.New("worker: the factory built no connector")
		}
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		if !pipeline.IsRetryable(err) {
			log.Error().Err(err).Msg("building the connector failed; it stays FAILED until restarted or given a new configuration")
			if e.setState(gen, api.StateFailed, err.Error(), time.Time{}) {
				m.failed(e.name, err)
			}
			return nil
		}
		next := time.Now().Add(backoff)
		e.setState(gen, api.StateRestarting, err.Error(), next)
		log.Warn().Err(err).Stringer("retry_in", backoff).Time("next_attempt", next).Msg("building the connector failed, retrying")
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, m.cfg.maxBuildRetry)
	}
}
