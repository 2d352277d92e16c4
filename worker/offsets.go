package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/cdcd-dev/cdcd/offsets"
)

// serverField is the one field of a source partition, as offsets.Key names it in Kafka Connect's
// shape.
const serverField = "server"

// Offsets returns the connector's committed offset (KIP-875's shape): one entry, its partition
// {"server": <topic prefix>} and its offset the offsets.Position JSON; none when nothing is
// committed.
func (m *Manager) Offsets(ctx context.Context, name string) (api.Offsets, error) {
	cfg, err := m.configOf(name)
	if err != nil {
		return api.Offsets{}, err
	}
	key := m.factory.OffsetKey(name, cfg)
	pos, err := kafkalog.ReadOffset(ctx, m.cfg.clientOpts(), m.cfg.offsetsTopic, key)
	if err != nil {
		return api.Offsets{}, fmt.Errorf("%w: worker: reading the offsets of connector %s: %w", api.ErrUnavailable, name, err)
	}
	out := api.Offsets{Offsets: []api.Offset{}}
	if pos.IsZero() {
		return out, nil
	}
	raw, err := json.Marshal(pos)
	if err != nil {
		return api.Offsets{}, fmt.Errorf("worker: encoding the offset of connector %s: %w", name, err)
	}
	out.Offsets = append(out.Offsets, api.Offset{
		Partition: map[string]any{serverField: key.Server},
		Offset:    raw,
	})
	return out, nil
}

// configOf returns the connector's configuration, an error when it has none readable.
func (m *Manager) configOf(name string) (api.Config, error) {
	e, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case !e.exists:
		return nil, notFound(name)
	case e.cfg == nil:
		return nil, fmt.Errorf("%w: connector %s: %s", api.ErrConflict, name, e.broken)
	}
	return e.cfg, nil
}

// AlterOffsets replaces the connector's committed offset by the one entry of offs, whose
// partition must be the connector's; a null offset resets it. The connector must be STOPPED,
// and its source able to resume from the offset (Factory.CheckOffset). The offset record is
// written in a Kafka transaction under the connector's transactional id, which fences any
// other process still running the connector.
func (m *Manager) AlterOffsets(ctx context.Context, name string, offs api.Offsets) error {
	e, cfg, err := m.acquireStopped(ctx, name, "altering")
	if err != nil {
		return err
	}
	defer e.release()
	key := m.factory.OffsetKey(name, cfg)
	if len(offs.Offsets) != 1 {
		return fmt.Errorf("%w: connector %s has one source partition, {%q: %q}: give exactly one offset, not %d",
			api.ErrInvalid, name, serverField, key.Server, len(offs.Offsets))
	}
	o := offs.Offsets[0]
	if s, ok := o.Partition[serverField].(string); !ok || s != key.Server || len(o.Partition) != 1 {
		return fmt.Errorf("%w: the partition must be {%q: %q}, the connector's", api.ErrInvalid, serverField, key.Server)
	}
	pos, err := parsePosition(o.Offset)
	if err != nil {
		return err
	}
	if !pos.IsZero() {
		if err := m.factory.CheckOffset(ctx, name, cfg, pos); err != nil {
			if errors.Is(err, api.ErrInvalid) {
				return err
			}
			return fmt.Errorf("%w: checking the offset against the source of connector %s: %w", api.ErrUnavailable, name, err)
		}
	}
	return m.writeOffset(ctx, name, key, pos)
}

// ResetOffsets deletes the connector's committed offset (a tombstone, written as AlterOffsets
// writes): once resumed, it starts anew as its snapshot mode says. The connector must be
// STOPPED.
func (m *Manager) ResetOffsets(ctx context.Context, name string) error {
	e, cfg, err := m.acquireStopped(ctx, name, "resetting")
	if err != nil {
		return err
	}
	defer e.release()
	return m.writeOffset(ctx, name, m.factory.OffsetKey(name, cfg), offsets.Position{})
}

// acquireStopped returns the connector's entry, its op held, and its configuration, or
// api.ErrConflict when it is not STOPPED.
func (m *Manager) acquireStopped(ctx context.Context, name, doing string) (*entry, api.Config, error) {
	e, err := m.acquire(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	e.mu.Lock()
	cfg, t, running, broken := e.cfg, e.target, e.running(), e.broken
	e.mu.Unlock()
	switch {
	case cfg == nil:
		e.release()
		return nil, nil, fmt.Errorf("%w: connector %s: %s", api.ErrConflict, name, broken)
	case t != targetStopped || running:
		e.release()
		return nil, nil, fmt.Errorf("%w: %s the offsets of connector %s needs it STOPPED: stop it first (PUT /connectors/%s/stop)",
			api.ErrConflict, doing, name, name)
	}
	return e, cfg, nil
}

// parsePosition reads an offset given by the user: an offsets.Position, or null for none.
func parsePosition(raw json.RawMessage) (offsets.Position, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return offsets.Position{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var pos offsets.Position
	if err := dec.Decode(&pos); err != nil {
		return pos, fmt.Errorf(`%w: the offset must be {"source": <the source's position>, "skip": <n>}: %w`, api.ErrInvalid, err)
	}
	switch {
	case dec.More():
		return pos, fmt.Errorf("%w: the offset is followed by more JSON", api.ErrInvalid)
	case len(bytes.TrimSpace(pos.Source)) == 0 || bytes.Equal(bytes.TrimSpace(pos.Source), []byte("null")):
		return pos, fmt.Errorf(`%w: the offset has no "source"`, api.ErrInvalid)
	case pos.Skip < 0:
		return pos, fmt.Errorf(`%w: the offset's "skip" is negative`, api.ErrInvalid)
	}
	return pos, nil
}

// writeOffset writes pos (a tombstone when zero) as the connector's offset.
func (m *Manager) writeOffset(ctx context.Context, name string, key offsets.Key, pos offsets.Position) error {
	err := kafkalog.WriteOffset(ctx, m.cfg.clientOpts(), m.cfg.offsetsTopic, m.factory.TransactionalID(name), key, pos)
	if err != nil {
		return fmt.Errorf("%w: worker: writing the offset of connector %s: %w", api.ErrUnavailable, name, err)
	}
	if pos.IsZero() {
		m.cfg.log.Info().Str("connector", name).Msg("connector offsets reset")
	} else {
		m.cfg.log.Info().Str("connector", name).Stringer("position", pos).Msg("connector offsets altered")
	}
	return nil
}
