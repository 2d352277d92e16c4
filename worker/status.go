package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// In group mode the members share their connectors' states through the status topic (as Kafka
// Connect's status.storage.topic): a compacted topic holding, per connector, the record keyed
// "status-<name>" whose value is a statusRecord as JSON, written by the member running it. Every
// member follows the topic, so that any member answers a connector's status.

// statusKeyPrefix starts the key of a connector's status record.
const statusKeyPrefix = "status-"

// statusPublishEvery is how often a member writes the states of its connectors that changed.
const statusPublishEvery = time.Second

// statusRecord is a connector's state as its member last wrote it.
type statusRecord struct {
	State    api.State `json:"state"`
	WorkerID string    `json:"worker_id"`
	Trace    string    `json:"trace,omitempty"`
	// Time is when the member wrote it.
	Time time.Time `json:"time"`
}

// statusEntry is one record of the status topic; a nil record is a tombstone.
type statusEntry struct {
	name   string
	record *statusRecord
}

// statusCodec reads and writes the status topic's records.
type statusCodec struct{}

var _ kafkalog.Codec[statusEntry] = statusCodec{}

// errCorruptStatus means a record of the status topic could not be read.
var errCorruptStatus = errors.New("worker: unreadable record in the status topic")

func (statusCodec) Encode(e statusEntry) (key, value []byte, err error) {
	key = []byte(statusKeyPrefix + e.name)
	if e.record == nil {
		return key, nil, nil
	}
	value, err = json.Marshal(e.record)
	if err != nil {
		return nil, nil, fmt.Errorf("worker: encoding the status of %s: %w", e.name, err)
	}
	return key, value, nil
}

func (statusCodec) Decode(key, value []byte) (statusEntry, error) {
	name, ok := strings.CutPrefix(string(key), statusKeyPrefix)
	if !ok {
		return statusEntry{}, kafkalog.ErrSkip
	}
	if value == nil {
		return statusEntry{name: name}, nil
	}
	var r statusRecord
	if err := json.Unmarshal(value, &r); err != nil {
		return statusEntry{name: name}, fmt.Errorf("%w: %w", errCorruptStatus, err)
	}
	return statusEntry{name: name, record: &r}, nil
}

// statusBoard is a member's view of the status topic, and its writer.
type statusBoard struct {
	log     *kafkalog.Log[statusEntry]
	logger  zerolog.Logger
	cancel  context.CancelFunc
	done    sync.WaitGroup
	mu      sync.Mutex
	states  map[string]statusRecord
	written map[string]statusRecord
}

// openStatusBoard opens the status topic, creating it when missing, and follows it until close.
func openStatusBoard(ctx context.Context, opts []kgo.Opt, topic string, logger zerolog.Logger) (*statusBoard, error) {
	log, err := kafkalog.Open(ctx, opts, statusCodec{}, kafkalog.Options{Topic: kafkalog.CompactedTopic(topic)})
	if err != nil {
		return nil, fmt.Errorf("worker: opening the status topic %s: %w", topic, err)
	}
	followCtx, cancel := context.WithCancel(context.Background())
	b := &statusBoard{log: log, logger: logger, cancel: cancel, states: make(map[string]statusRecord),
		written: make(map[string]statusRecord)}
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		_ = log.Follow(followCtx, b.apply, nil)
	}()
	return b, nil
}

func (b *statusBoard) apply(entries []kafkalog.Entry[statusEntry], _ int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range entries {
		switch {
		case e.Err != nil:
			b.logger.Warn().Err(e.Err).Str("connector", e.Value.name).Int64("offset", e.Offset).Msg("status record unreadable")
		case e.Value.record == nil:
			delete(b.states, e.Value.name)
		default:
			b.states[e.Value.name] = *e.Value.record
		}
	}
}

// get returns the connector's last state written by any member.
func (b *statusBoard) get(name string) (statusRecord, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.states[name]
	return r, ok
}

// publish writes the states of current that differ from what the topic holds (or, while this
// member's last write is not read back yet, from that write): another member may have written
// a connector's record since, when it ran it before; those whose name is in gone get a
// tombstone.
func (b *statusBoard) publish(ctx context.Context, current map[string]statusRecord, gone []string) {
	var entries []statusEntry
	same := func(a, b statusRecord) bool {
		return a.State == b.State && a.Trace == b.Trace && a.WorkerID == b.WorkerID
	}
	b.mu.Lock()
	for name, r := range current {
		topic, inTopic := b.states[name]
		w, wrote := b.written[name]
		if inTopic && same(topic, r) || wrote && same(w, r) && (!inTopic || w.Time.After(topic.Time)) {
			continue
		}
		r.Time = time.Now().UTC()
		entries = append(entries, statusEntry{name: name, record: &r})
	}
	for _, name := range gone {
		entries = append(entries, statusEntry{name: name})
	}
	b.mu.Unlock()
	if len(entries) == 0 {
		return
	}
	if _, err := b.log.Write(ctx, entries...); err != nil {
		b.logger.Warn().Err(err).Msg("writing the connectors' states to the status topic failed; retrying")
		return
	}
	b.mu.Lock()
	for _, e := range entries {
		if e.record == nil {
			delete(b.written, e.name)
		} else {
			b.written[e.name] = *e.record
		}
	}
	b.mu.Unlock()
}

func (b *statusBoard) close() {
	b.cancel()
	b.log.Close()
	b.done.Wait()
}

// publishStatuses writes, every statusPublishEvery until ctx ends, the states of the connectors
// this member runs.
func (m *Manager) publishStatuses(ctx context.Context) {
	t := time.NewTicker(statusPublishEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.mu.Lock()
		owned := maps.Clone(m.assigned)
		m.mu.Unlock()
		current := make(map[string]statusRecord, len(owned))
		for name := range owned {
			e, err := m.lookup(name)
			if err != nil {
				continue
			}
			e.mu.Lock()
			if e.exists {
				current[name] = statusRecord{State: e.state, WorkerID: m.cfg.workerID, Trace: e.trace}
			}
			e.mu.Unlock()
		}
		writeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		m.status.publish(writeCtx, current, nil)
		cancel()
	}
}

// remoteStatus returns, in group mode, the status of a connector another member runs, as the
// status topic has it.
func (m *Manager) remoteStatus(name string) (api.ConnectorState, bool) {
	if m.status == nil {
		return api.ConnectorState{}, false
	}
	m.mu.Lock()
	mine := m.assigned[name]
	m.mu.Unlock()
	if mine {
		return api.ConnectorState{}, false
	}
	r, ok := m.status.get(name)
	if !ok {
		return api.ConnectorState{}, false
	}
	return api.ConnectorState{State: r.State, WorkerID: r.WorkerID, Trace: r.Trace}, true
}

// runsHere returns nil unless, in group mode, another member runs the connector: then an
// *api.ElsewhereError wrapping api.ErrConflict that names the member, for a request only the
// owner can carry out (a restart).
func (m *Manager) runsHere(name string) error {
	if !m.cfg.grouped {
		return nil
	}
	m.mu.Lock()
	mine := m.assigned[name]
	m.mu.Unlock()
	if mine {
		return nil
	}
	owner, worker := "another member of the group", ""
	if m.status != nil {
		if r, ok := m.status.get(name); ok && r.WorkerID != m.cfg.workerID {
			owner, worker = "the member "+r.WorkerID, r.WorkerID
		}
	}
	// The API forwards the request to worker, the owner's advertised address; this message is
	// the answer when it cannot.
	return &api.ElsewhereError{Owner: worker, Err: fmt.Errorf("%w: connector %s runs on %s: send the restart there (GET /connectors/%s/status names it)",
		api.ErrConflict, name, owner, name)}
}
