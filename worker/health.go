package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
)

// What a Manager's health checks mean, for GET /healthz (liveness) and GET /readyz (readiness):
//
//   - Live: the manager's heartbeat, a goroutine that takes the manager's lock and each
//     connector's lock every second, beat less than [DefaultStaleHeartbeat] ago. Every API call
//     and every state change takes those locks, so a manager wedged on one (a deadlock, a
//     call that never returns while holding it) stops the beat, and only a restart of the
//     process can help. A connector that waits for a server (RESTARTING, DEGRADED) keeps the
//     beat going: restarting the process would not bring the server back.
//   - Ready: the configurations are loaded (New returned) and a Kafka broker answered an
//     ApiVersions request less than [kafkaCheckFresh] ago, so that a daemon cut off from Kafka
//     is taken out of a Service or a rolling update waits for it.
const (
	// DefaultStaleHeartbeat is the age past which the manager's heartbeat means it is wedged.
	DefaultStaleHeartbeat = 30 * time.Second
	// heartbeatEvery is how often the heartbeat takes the locks.
	heartbeatEvery = time.Second
	// kafkaCheckFresh is how long one Kafka answer (or error) is reused by Ready, so that many
	// probes in a row cost one request.
	kafkaCheckFresh = 2 * time.Second
	// kafkaCheckTimeout bounds one Kafka check when the caller's context allows more.
	kafkaCheckTimeout = 5 * time.Second
)

// health is a Manager's heartbeat and its last Kafka check.
type health struct {
	// beat is the time of the last heartbeat, in Unix nanoseconds.
	beat atomic.Int64
	// staleAfter is DefaultStaleHeartbeat; tests shorten it before the manager starts.
	staleAfter time.Duration
	// stopped is set by stopHealth: a manager shutting down is not wedged.
	stopped atomic.Bool
	stop    chan struct{}
	done    chan struct{}

	// kafkaMu serialises the Kafka checks and guards the fields below it.
	kafkaMu sync.Mutex
	// client is the Kafka client of the checks, made at the first one, closed by stopHealth.
	client  *kgo.Client
	checked time.Time
	kafkaOK error
}

// startHealth starts the manager's heartbeat; stopHealth ends it.
func (m *Manager) startHealth() {
	h := &m.health
	if h.staleAfter == 0 {
		h.staleAfter = DefaultStaleHeartbeat
	}
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	h.beat.Store(time.Now().UnixNano())
	go func() {
		defer close(h.done)
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				m.heartbeat()
			}
		}
	}()
}

// heartbeat takes and releases the manager's lock and each connector's, then records the time.
func (m *Manager) heartbeat() {
	m.mu.Lock()
	entries := make([]*entry, 0, len(m.conns))
	for _, e := range m.conns {
		entries = append(entries, e)
	}
	m.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		//lint:ignore SA2001 taking the lock is the point: a lock held forever stops the beat.
		e.mu.Unlock()
	}
	m.health.beat.Store(time.Now().UnixNano())
}

// stopHealth ends the heartbeat and closes the client of the Kafka checks.
func (m *Manager) stopHealth() {
	h := &m.health
	h.stopped.Store(true)
	if h.stop != nil {
		close(h.stop)
		<-h.done
	}
	h.kafkaMu.Lock()
	defer h.kafkaMu.Unlock()
	if h.client != nil {
		h.client.Close()
		h.client = nil
	}
}

// Live returns nil while the manager's heartbeat is younger than [DefaultStaleHeartbeat], and
// once Close has stopped the connectors (a process shutting down is not wedged); else an
// error wrapping [api.ErrUnavailable] that says how old the heartbeat is. It takes no lock
// and does not block, so that it answers even when the manager is wedged.
func (m *Manager) Live(context.Context) error {
	if m.health.stopped.Load() {
		return nil
	}
	age := time.Since(time.Unix(0, m.health.beat.Load()))
	if age > m.health.staleAfter {
		return fmt.Errorf("%w: the worker's heartbeat is %s old (more than %s): it is wedged",
			api.ErrUnavailable, age.Round(time.Second), m.health.staleAfter)
	}
	return nil
}

// kafkaReachable asks a broker for its API versions, or returns the answer of a check younger
// than kafkaCheckFresh.
func (m *Manager) kafkaReachable(ctx context.Context) error {
	h := &m.health
	h.kafkaMu.Lock()
	defer h.kafkaMu.Unlock()
	if !h.checked.IsZero() && time.Since(h.checked) < kafkaCheckFresh {
		return h.kafkaOK
	}
	if h.client == nil {
		c, err := kgo.NewClient(m.cfg.clientOpts()...)
		if err != nil {
			return fmt.Errorf("%w: the Kafka client of the readiness check: %w", api.ErrUnavailable, err)
		}
		h.client = c
	}
	pingCtx, cancel := context.WithTimeout(ctx, kafkaCheckTimeout)
	defer cancel()
	err := h.client.Ping(pingCtx)
	if err != nil {
		err = fmt.Errorf("%w: no Kafka broker answers: %w", api.ErrUnavailable, err)
	}
	if ctx.Err() == nil {
		// A caller that gave up says nothing about Kafka: its error is not kept.
		h.checked, h.kafkaOK = time.Now(), err
	}
	return err
}
