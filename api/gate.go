package api

import (
	"context"
	"fmt"
	"sync"
)

// Gate is a [Backend] that answers before the real one exists: until [Gate.Open], every call
// fails with [ErrUnavailable] and its reason ("waiting for Kafka at ..."), so that GET /readyz
// answers 503 "not ready: ..." and the connector endpoints 503, while the daemon waits for
// the servers its backend needs. After Open it passes every call to the backend. The daemon
// serves the API on a Gate from its start, so that a Kafka that hangs leaves the API up and
// saying why it is not ready rather than closed. Safe for concurrent use.
type Gate struct {
	mu      sync.RWMutex
	reason  string
	backend Backend
}

var _ Backend = (*Gate)(nil)

// NewGate returns a closed Gate whose calls fail with reason.
func NewGate(reason string) *Gate { return &Gate{reason: reason} }

// SetReason changes the reason a closed Gate gives, e.g. to add the last error.
func (g *Gate) SetReason(reason string) {
	g.mu.Lock()
	g.reason = reason
	g.mu.Unlock()
}

// Open passes every later call to b.
func (g *Gate) Open(b Backend) {
	g.mu.Lock()
	g.backend = b
	g.mu.Unlock()
}

// get returns the backend, or ErrUnavailable with the reason while the Gate is closed.
func (g *Gate) get() (Backend, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.backend == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnavailable, g.reason)
	}
	return g.backend, nil
}

// Connectors implements [Backend].
func (g *Gate) Connectors(ctx context.Context) ([]string, error) {
	b, err := g.get()
	if err != nil {
		return nil, err
	}
	return b.Connectors(ctx)
}

// Connector implements [Backend].
func (g *Gate) Connector(ctx context.Context, name string) (ConnectorInfo, error) {
	b, err := g.get()
	if err != nil {
		return ConnectorInfo{}, err
	}
	return b.Connector(ctx, name)
}

// PutConnector implements [Backend].
func (g *Gate) PutConnector(ctx context.Context, name string, cfg Config) (ConnectorInfo, bool, error) {
	b, err := g.get()
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	return b.PutConnector(ctx, name, cfg)
}

// DeleteConnector implements [Backend].
func (g *Gate) DeleteConnector(ctx context.Context, name string, mode DeleteMode) (Deleted, error) {
	b, err := g.get()
	if err != nil {
		return Deleted{}, err
	}
	return b.DeleteConnector(ctx, name, mode)
}

// Status implements [Backend].
func (g *Gate) Status(ctx context.Context, name string) (ConnectorStatus, error) {
	b, err := g.get()
	if err != nil {
		return ConnectorStatus{}, err
	}
	return b.Status(ctx, name)
}

// Pause implements [Backend].
func (g *Gate) Pause(ctx context.Context, name string) error {
	b, err := g.get()
	if err != nil {
		return err
	}
	return b.Pause(ctx, name)
}

// Resume implements [Backend].
func (g *Gate) Resume(ctx context.Context, name string) error {
	b, err := g.get()
	if err != nil {
		return err
	}
	return b.Resume(ctx, name)
}

// Stop implements [Backend].
func (g *Gate) Stop(ctx context.Context, name string) error {
	b, err := g.get()
	if err != nil {
		return err
	}
	return b.Stop(ctx, name)
}

// Restart implements [Backend].
func (g *Gate) Restart(ctx context.Context, name string) error {
	b, err := g.get()
	if err != nil {
		return err
	}
	return b.Restart(ctx, name)
}

// Offsets implements [Backend].
func (g *Gate) Offsets(ctx context.Context, name string) (Offsets, error) {
	b, err := g.get()
	if err != nil {
		return Offsets{}, err
	}
	return b.Offsets(ctx, name)
}

// AlterOffsets implements [Backend].
func (g *Gate) AlterOffsets(ctx context.Context, name string, offs Offsets) error {
	b, err := g.get()
	if err != nil {
		return err
	}
	return b.AlterOffsets(ctx, name, offs)
}

// ResetOffsets implements [Backend].
func (g *Gate) ResetOffsets(ctx context.Context, name string) error {
	b, err := g.get()
	if err != nil {
		return err
	}
	return b.ResetOffsets(ctx, name)
}

// Validate implements [Backend].
func (g *Gate) Validate(ctx context.Context, typ string, cfg Config) (Validation, error) {
	b, err := g.get()
	if err != nil {
		return Validation{}, err
	}
	return b.Validate(ctx, typ, cfg)
}

// Snapshot implements [Backend].
func (g *Gate) Snapshot(ctx context.Context, name string, tables []string) error {
	b, err := g.get()
	if err != nil {
		return err
	}
	return b.Snapshot(ctx, name, tables)
}

// Ready implements [Backend]: ErrUnavailable with the reason until Open, then the backend's.
func (g *Gate) Ready(ctx context.Context) error {
	b, err := g.get()
	if err != nil {
		return err
	}
	return b.Ready(ctx)
}
