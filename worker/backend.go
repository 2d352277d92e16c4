package worker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/internal/configref"
)

// nameKey is the config key Kafka Connect adds to a connector's configuration: accepted on
// input when it matches the connector's name, never stored, added to answers.
const nameKey = "name"

// Connectors lists the connectors' names, sorted.
func (m *Manager) Connectors(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("%w: the worker is shutting down", api.ErrUnavailable)
	}
	names := make([]string, 0, len(m.conns))
	for name, e := range m.conns {
		e.mu.Lock()
		if e.exists {
			names = append(names, name)
		}
		e.mu.Unlock()
	}
	slices.Sort(names)
	return names, nil
}

// Connector returns the connector's configuration, secrets masked.
func (m *Manager) Connector(ctx context.Context, name string) (api.ConnectorInfo, error) {
	e, err := m.lookup(name)
	if err != nil {
		return api.ConnectorInfo{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.exists {
		return api.ConnectorInfo{}, notFound(name)
	}
	return m.info(name, e.cfg), nil
}

// info is a connector's answer: its configuration with the secrets masked. A secret given by
// reference alone (configref: "${file:/etc/cdcd/pg.properties:password}") is shown as it is:
// the reference is no secret, and it tells where the secret is read from.
func (m *Manager) info(name string, cfg api.Config) api.ConnectorInfo {
	out := make(api.Config, len(cfg)+1)
	for k, v := range cfg {
		if m.factory.Secret(k) && !configref.Only(v) {
			v = mask
		}
		out[k] = v
	}
	out[nameKey] = name
	return api.ConnectorInfo{
		Name:   name,
		Config: out,
		Tasks:  []api.TaskID{{Connector: name, Task: 0}},
		Type:   connectorType,
	}
}

// PutConnector creates the connector (target STARTED) or replaces its configuration; a
// connector whose target is STARTED then runs with the new one. A configuration equal to the
// stored one changes nothing, except that a FAILED connector is started again. A secret given
// as the mask "********" keeps its stored value, so that a configuration read back can be
// put again.
func (m *Manager) PutConnector(ctx context.Context, name string, cfg api.Config) (api.ConnectorInfo, bool, error) {
	if err := checkName(name); err != nil {
		return api.ConnectorInfo{}, false, err
	}
	if n, ok := cfg[nameKey]; ok && n != name {
		return api.ConnectorInfo{}, false, fmt.Errorf("%w: the config's name %q is not the connector's, %q", api.ErrInvalid, n, name)
	}
	for {
		e, created, err := m.entryForPut(ctx, name)
		if err != nil {
			return api.ConnectorInfo{}, false, err
		}
		if e == nil {
			continue // the entry was dropped by a failed creation: look again
		}
		info, err := m.put(ctx, e, cfg, created)
		e.release()
		return info, created, err
	}
}

// entryForPut returns the connector's entry with its op held, creating an entry when there is
// none (created is then true). It returns a nil entry when the one it waited for was dropped.
func (m *Manager) entryForPut(ctx context.Context, name string) (*entry, bool, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, false, fmt.Errorf("%w: the worker is shutting down", api.ErrUnavailable)
	}
	e := m.conns[name]
	if e == nil {
		e = newEntry(name)
		e.op <- struct{}{}
		m.conns[name] = e
		m.mu.Unlock()
		return e, true, nil
	}
	m.mu.Unlock()
	if err := e.acquire(ctx); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	current := m.conns[name] == e
	m.mu.Unlock()
	if !current {
		e.release()
		return nil, false, nil
	}
	e.mu.Lock()
	exists := e.exists
	e.mu.Unlock()
	return e, !exists, nil
}

// otherConfigs returns the configurations of every existing connector but e, by name.
func (m *Manager) otherConfigs(e *entry) map[string]api.Config {
	m.mu.Lock()
	entries := slices.Collect(maps.Values(m.conns))
	m.mu.Unlock()
	others := make(map[string]api.Config, len(entries))
	for _, o := range entries {
		if o == e {
			continue
		}
		o.mu.Lock()
		if o.exists && o.cfg != nil {
			others[o.name] = o.cfg
		}
		o.mu.Unlock()
	}
	return others
}

// put stores cfg as e's configuration and applies it. e.op is held.
func (m *Manager) put(ctx context.Context, e *entry, given api.Config, created bool) (api.ConnectorInfo, error) {
	e.mu.Lock()
	old, t, failed := e.cfg, e.target, e.state == api.StateFailed
	e.mu.Unlock()
	if created || old == nil {
		// A new connector, or one whose stored record was unreadable, starts.
		t = targetStarted
	}
	// A connector created here is dropped again when its creation fails.
	drop := func() {
		if created {
			m.mu.Lock()
			if m.conns[e.name] == e {
				delete(m.conns, e.name)
			}
			m.mu.Unlock()
		}
	}
	cfg := make(api.Config, len(given))
	for k, v := range given {
		if k == nameKey {
			continue
		}
		if v == mask && m.factory.Secret(k) {
			ov, ok := old[k]
			if !ok {
				drop()
				return api.ConnectorInfo{}, fmt.Errorf("%w: %s: give the secret's value, not the mask", api.ErrInvalid, k)
			}
			v = ov
		}
		cfg[k] = v
	}
	if problems := m.factory.Validate(ctx, e.name, cfg); len(problems) > 0 {
		drop()
		return api.ConnectorInfo{}, api.InvalidConfig(problems)
	}
	if problems := m.factory.Conflicts(e.name, cfg, m.otherConfigs(e)); len(problems) > 0 {
		drop()
		return api.ConnectorInfo{}, api.InvalidConfig(problems)
	}
	if !created && maps.Equal(old, cfg) && !failed {
		return m.info(e.name, cfg), nil
	}
	if err := m.store.put(ctx, e.name, &storedConnector{Config: cfg, Target: t}); err != nil {
		drop()
		return api.ConnectorInfo{}, err
	}
	m.changed()
	if created {
		m.cfg.log.Info().Str("connector", e.name).Msg("connector created")
	} else {
		m.cfg.log.Info().Str("connector", e.name).Msg("connector configuration replaced")
	}
	if err := e.halt(ctx); err != nil {
		return api.ConnectorInfo{}, err
	}
	e.mu.Lock()
	e.exists, e.cfg, e.broken, e.target = true, cfg, "", t
	if t != targetStarted {
		e.state, e.trace = stateOf(t), ""
	}
	e.mu.Unlock()
	if t == targetStarted {
		m.start(e)
	}
	return m.info(e.name, cfg), nil
}

// DeleteConnector forgets the connector, writing its tombstone, and stops it; its offsets stay
// in Kafka. Once its run has ended, Factory.Leftovers drops (mode api.DeletePurge) or names
// what it keeps on its source; what stays is logged as a warning and said in the answer.
func (m *Manager) DeleteConnector(ctx context.Context, name string, mode api.DeleteMode) (api.Deleted, error) {
	e, err := m.acquire(ctx, name)
	if err != nil {
		return api.Deleted{}, err
	}
	defer e.release()
	if err := m.store.put(ctx, name, nil); err != nil {
		return api.Deleted{}, err
	}
	m.changed()
	if m.status != nil {
		m.status.publish(ctx, nil, []string{name})
	}
	e.mu.Lock()
	e.exists = false
	cfg := e.cfg
	e.mu.Unlock()
	m.mu.Lock()
	if m.conns[name] == e {
		delete(m.conns, name)
	}
	m.mu.Unlock()
	m.cfg.log.Info().Str("connector", name).Msg("connector deleted")
	if err := e.halt(ctx); err != nil {
		return api.Deleted{}, err
	}
	d := api.Deleted{Name: name, Message: "connector " + name + " deleted; its offsets stay in Kafka"}
	if cfg == nil {
		d.Message += "; its stored configuration was unreadable, so what it kept on its source is unknown"
		return d, nil
	}
	left, err := m.factory.Leftovers(ctx, name, cfg, mode)
	d.Dropped, d.Kept = left.Dropped, left.Kept
	if left.Message != "" {
		d.Message += "; " + left.Message
	}
	log := m.cfg.log.With().Str("connector", name).Logger()
	if err != nil {
		d.Message += fmt.Sprintf("; dropping what it kept failed: %v", err)
		log.Error().Err(err).Strs("kept", d.Kept).Msg("dropping the deleted connector's slot and publication failed; drop them by hand")
		return d, nil
	}
	if len(d.Dropped) > 0 {
		log.Info().Strs("dropped", d.Dropped).Msg("dropped what the deleted connector kept on its source")
	}
	if len(d.Kept) > 0 {
		log.Warn().Strs("kept", d.Kept).Msg("the deleted connector's source keeps these until dropped (delete with purge to drop them)")
	}
	return d, nil
}

// Status returns the connector's state and its task's: the same, cdcd running one task per
// connector.
func (m *Manager) Status(ctx context.Context, name string) (api.ConnectorStatus, error) {
	e, err := m.lookup(name)
	if err != nil {
		return api.ConnectorStatus{}, err
	}
	e.mu.Lock()
	exists, state, trace, next, conn := e.exists, e.state, e.trace, e.next, e.conn
	e.mu.Unlock()
	if !exists {
		return api.ConnectorStatus{}, notFound(name)
	}
	if remote, ok := m.remoteStatus(name); ok {
		return api.ConnectorStatus{Name: name, Connector: remote, Type: connectorType,
			Tasks: []api.TaskStatus{{ID: 0, State: remote.State, WorkerID: remote.WorkerID, Trace: remote.Trace}}}, nil
	}
	var nextAttempt *time.Time
	if state == api.StateRestarting && !next.IsZero() {
		nextAttempt = &next
	}
	st := api.ConnectorStatus{
		Name:      name,
		Connector: api.ConnectorState{State: state, WorkerID: m.cfg.workerID, Trace: trace, NextAttempt: nextAttempt},
		Tasks:     []api.TaskStatus{{ID: 0, State: state, WorkerID: m.cfg.workerID, Trace: trace, NextAttempt: nextAttempt}},
		Type:      connectorType,
	}
	if conn != nil {
		st.Snapshot = conn.Progress()
	}
	return st, nil
}

// Pause stops the connector's run and persists the target PAUSED.
func (m *Manager) Pause(ctx context.Context, name string) error {
	return m.setTarget(ctx, name, targetPaused)
}

// Stop stops the connector's run and persists the target STOPPED: its offsets may then change.
func (m *Manager) Stop(ctx context.Context, name string) error {
	return m.setTarget(ctx, name, targetStopped)
}

// Resume persists the target STARTED and runs the connector, unless it runs already; a FAILED
// connector is started again.
func (m *Manager) Resume(ctx context.Context, name string) error {
	return m.setTarget(ctx, name, targetStarted)
}

func (m *Manager) setTarget(ctx context.Context, name string, t target) error {
	e, err := m.acquire(ctx, name)
	if err != nil {
		return err
	}
	defer e.release()
	e.mu.Lock()
	cfg, old, broken := e.cfg, e.target, e.broken
	healthy := e.running() && e.state != api.StateFailed
	e.mu.Unlock()
	if cfg == nil {
		if t == targetStarted {
			return fmt.Errorf("%w: connector %s: %s", api.ErrConflict, name, broken)
		}
		return nil // not running already
	}
	if t != old {
		if err := m.store.put(ctx, name, &storedConnector{Config: cfg, Target: t}); err != nil {
			return err
		}
		m.changed()
		m.cfg.log.Info().Str("connector", name).Str("target", string(t)).Msg("connector target state changed")
	}
	e.mu.Lock()
	e.target = t
	e.mu.Unlock()
	if t == targetStarted {
		if healthy {
			return nil
		}
		if err := e.halt(ctx); err != nil {
			return err
		}
		m.start(e)
		return nil
	}
	if err := e.halt(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	e.state, e.trace = stateOf(t), ""
	e.mu.Unlock()
	return nil
}

// Restart runs the connector again from its committed offset. A connector whose target is
// not STARTED stays as it is, as in Kafka Connect, where a restart keeps the target state.
func (m *Manager) Restart(ctx context.Context, name string) error {
	e, err := m.acquire(ctx, name)
	if err != nil {
		return err
	}
	defer e.release()
	if err := m.runsHere(name); err != nil {
		return err
	}
	e.mu.Lock()
	t, cfg := e.target, e.cfg
	e.mu.Unlock()
	if t != targetStarted || cfg == nil {
		return nil
	}
	if err := e.halt(ctx); err != nil {
		return err
	}
	m.cfg.log.Info().Str("connector", name).Msg("connector restarting")
	m.start(e)
	return nil
}

// Validate checks cfg for a connector of type typ: its "type", when set, must be typ. The
// connector name checked is cfg's "name", when set.
func (m *Manager) Validate(ctx context.Context, typ string, cfg api.Config) (api.Validation, error) {
	if t, ok := cfg["type"]; ok && t != typ {
		return api.Validation{}, fmt.Errorf("%w: the config's type %q is not the plugin's, %q", api.ErrInvalid, t, typ)
	}
	name := cfg[nameKey]
	c := make(api.Config, len(cfg)+1)
	for k, v := range cfg {
		if k != nameKey {
			c[k] = v
		}
	}
	c["type"] = typ
	var problems []api.FieldError
	if name != "" {
		if msg := nameProblem(name); msg != "" {
			problems = append(problems, api.FieldError{Name: nameKey, Message: msg})
		}
	}
	problems = append(problems, m.factory.Validate(ctx, name, c)...)
	if problems == nil {
		problems = []api.FieldError{}
	}
	return api.Validation{Name: typ, ErrorCount: len(problems), Errors: problems}, nil
}

// Snapshot starts an incremental snapshot of tables through the connector's signal table.
func (m *Manager) Snapshot(ctx context.Context, name string, tables []string) error {
	e, err := m.lookup(name)
	if err != nil {
		return err
	}
	e.mu.Lock()
	exists, cfg, broken := e.exists, e.cfg, e.broken
	e.mu.Unlock()
	switch {
	case !exists:
		return notFound(name)
	case cfg == nil:
		return fmt.Errorf("%w: connector %s: %s", api.ErrConflict, name, broken)
	case len(tables) == 0:
		return fmt.Errorf("%w: no tables to snapshot", api.ErrInvalid)
	}
	if err := m.factory.Signal(ctx, name, cfg, tables); err != nil {
		return fmt.Errorf("worker: signalling a snapshot of connector %s: %w", name, err)
	}
	return nil
}

// Ready returns nil once the configurations are restored, which New waits for, while a Kafka
// broker answers (health.go), and until Close; otherwise an error wrapping api.ErrUnavailable
// that says why. It blocks for at most one Kafka request.
func (m *Manager) Ready(ctx context.Context) error {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: the worker is shutting down", api.ErrUnavailable)
	}
	return m.kafkaReachable(ctx)
}
