package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/cdcd-dev/cdcd/api"
)

// A manager in group mode ([GroupMode]) is driven by its group member (package worker/group):
// the member's leader asks it for every connector of the config topic (StoredConnectors), and
// the member gives it its assignment (Assign). Between two assignments the manager changes what
// it runs only for the API calls it answers itself; a change written by another member reaches
// it with the next assignment, which every change starts (the writer calls OnChange, and the
// member rejoins the group).

// StoredConnectors reads the config topic to its end and returns every connector it holds,
// sorted, the unreadable ones included: the connectors a group's leader assigns.
func (m *Manager) StoredConnectors(ctx context.Context) ([]string, error) {
	stored, broken, err := m.store.load(ctx)
	if err != nil {
		return nil, err
	}
	names := slices.Collect(maps.Keys(stored))
	for name := range broken {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Assign makes names the connectors this member runs: it reads the config topic again (another
// member may have changed it; when it cannot, it goes on with the configurations it knows and
// returns the error after), stops every connector not in names or whose configuration or
// target changed, and waits for them to have stopped; then it starts those of names whose target
// is STARTED and which are not running, in the background. A connector of names that FAILED
// stays FAILED until its configuration changes or it is restarted. Only for a manager in group
// mode.
func (m *Manager) Assign(ctx context.Context, names []string) error {
	if !m.cfg.grouped {
		return fmt.Errorf("%w: Assign is for a manager in group mode", ErrInvalidOption)
	}
	stored, broken, loadErr := m.store.load(ctx)
	if loadErr != nil {
		// The stops must happen anyway (the member is about to tell the group they have):
		// go on with what this member knows.
		stored, broken = m.known()
		loadErr = fmt.Errorf("worker: applying the assignment with the configurations known before: %w", loadErr)
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("%w: the worker is shutting down", api.ErrUnavailable)
	}
	m.assigned = set
	all := slices.Collect(maps.Keys(m.conns))
	m.mu.Unlock()
	for name := range stored {
		all = append(all, name)
	}
	for name := range broken {
		all = append(all, name)
	}
	slices.Sort(all)
	for _, name := range slices.Compact(all) {
		s, ok := stored[name]
		var sp *storedConnector
		if ok {
			sp = &s
		}
		if err := m.reconcile(ctx, name, sp, broken[name], set[name]); err != nil {
			return err
		}
	}
	return loadErr
}

// known returns the records this manager last read or wrote, as load would.
func (m *Manager) known() (map[string]storedConnector, map[string]error) {
	m.mu.Lock()
	entries := slices.Collect(maps.Values(m.conns))
	m.mu.Unlock()
	stored := make(map[string]storedConnector, len(entries))
	broken := make(map[string]error)
	for _, e := range entries {
		e.mu.Lock()
		switch {
		case !e.exists:
		case e.cfg != nil:
			stored[e.name] = storedConnector{Config: e.cfg, Target: e.target}
		default:
			broken[e.name] = errors.New(e.broken)
		}
		e.mu.Unlock()
	}
	return stored, broken
}

// reconcile applies to one connector its record of the config topic (nil when deleted; berr
// when unreadable) and whether it is assigned here.
func (m *Manager) reconcile(ctx context.Context, name string, s *storedConnector, berr error, assigned bool) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("%w: the worker is shutting down", api.ErrUnavailable)
	}
	e := m.conns[name]
	if e == nil {
		if s == nil && berr == nil {
			m.mu.Unlock()
			return nil
		}
		e = newEntry(name)
		m.conns[name] = e
	}
	m.mu.Unlock()
	if err := e.acquire(ctx); err != nil {
		return err
	}
	defer e.release()

	e.mu.Lock()
	changed := false
	switch {
	case s != nil:
		changed = !e.exists || e.cfg == nil || !maps.Equal(e.cfg, s.Config) || e.target != s.Target
		e.exists, e.cfg, e.target, e.broken = true, s.Config, s.Target, ""
	case berr != nil:
		changed = e.cfg != nil || !e.exists
		e.exists, e.cfg, e.target = true, nil, targetStopped
		e.broken = fmt.Sprintf("its stored configuration is unreadable (%v): put a new one", berr)
	default:
		changed, e.exists = true, false
	}
	want := assigned && e.exists && e.cfg != nil && e.target == targetStarted
	e.mu.Unlock()

	if !want || changed {
		if err := e.halt(ctx); err != nil {
			return err
		}
		e.mu.Lock()
		switch {
		case e.broken != "":
			e.state, e.trace = api.StateFailed, e.broken
		case e.exists && !want:
			e.state, e.trace = stateOf(e.target), ""
			if e.target == targetStarted {
				e.state = api.StateUnassigned
			}
		}
		e.mu.Unlock()
	}
	if s == nil && berr == nil {
		m.mu.Lock()
		if m.conns[name] == e {
			delete(m.conns, name)
		}
		m.mu.Unlock()
		return nil
	}
	e.mu.Lock()
	idle := e.done == nil
	e.mu.Unlock()
	if want && idle {
		m.start(e)
	}
	return nil
}

// changed tells the OnChange function, if any, that the config topic changed.
func (m *Manager) changed() {
	if m.cfg.onChange != nil {
		m.cfg.onChange()
	}
}
