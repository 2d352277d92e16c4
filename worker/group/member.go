package group

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The defaults of [Config], as Kafka Connect's (session.timeout.ms, heartbeat.interval.ms,
// rebalance.timeout.ms); the rebalance delay's default is 0 (Connect's is five minutes): a
// lost member's connectors move at once.
const (
	DefaultSessionTimeout    = 10 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = 60 * time.Second
)

// ErrInvalidConfig means a [Config] is missing or contradictory.
var ErrInvalidConfig = errors.New("group: invalid configuration")

// Runner is what a member drives: the worker.
type Runner interface {
	// StoredConnectors returns every connector of the config topic, read to its end,
	// whatever its target state. The leader calls it before each assignment. It blocks on
	// Kafka; an error makes the member join again.
	StoredConnectors(ctx context.Context) ([]string, error)
	// Assign makes connectors the ones this member runs: it stops every other one it runs
	// and returns once they have all stopped (the rest start in the background). It is also
	// told the configurations may have changed, so reads them again. Nil stops everything.
	// Even when it fails, every connector not in connectors has stopped when it returns.
	Assign(ctx context.Context, connectors []string) error
}

// Config configures a [Member].
type Config struct {
	// Group is the group id, required: the daemons of one group share their config topic.
	Group string
	// Worker is the member's worker id, its advertised REST address, required.
	Worker string
	// SessionTimeout is how long the coordinator waits for a heartbeat before it drops the
	// member, default [DefaultSessionTimeout]; the member stops its connectors at
	// SessionTimeout - HeartbeatInterval without an answer from the coordinator.
	SessionTimeout time.Duration
	// HeartbeatInterval is the time between two heartbeats, default
	// [DefaultHeartbeatInterval]; under a third of SessionTimeout.
	HeartbeatInterval time.Duration
	// RebalanceTimeout bounds how long the coordinator waits for every member to rejoin,
	// default [DefaultRebalanceTimeout].
	RebalanceTimeout time.Duration
	// RebalanceDelay is how long the leader holds a lost member's connectors unassigned, for
	// it to come back (Connect's scheduled.rebalance.max.delay.ms), default 0.
	RebalanceDelay time.Duration
	// Log is the member's logger.
	Log zerolog.Logger
}

func (c *Config) defaults() {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = DefaultRebalanceTimeout
	}
}

// Validate rejects missing and contradictory settings, after the defaults are applied.
func (c Config) Validate() error {
	c.defaults()
	switch {
	case c.Group == "":
		return fmt.Errorf("%w: the group id is empty", ErrInvalidConfig)
	case c.Worker == "":
		return fmt.Errorf("%w: the worker id is empty", ErrInvalidConfig)
	case c.SessionTimeout < 0 || c.HeartbeatInterval < 0 || c.RebalanceTimeout < 0 || c.RebalanceDelay < 0:
		return fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	case 3*c.HeartbeatInterval > c.SessionTimeout:
		return fmt.Errorf("%w: heartbeat interval %s over a third of the session timeout %s", ErrInvalidConfig, c.HeartbeatInterval, c.SessionTimeout)
	}
	return nil
}

// Member is one daemon's membership in its group. [New] makes it, [Member.Run] runs it; its
// other methods are safe for concurrent use.
type Member struct {
	cfg    Config
	client *kgo.Client
	runner Runner

	// rejoin asks the loop for a new generation (capacity 1); changes counts the asks, sent
	// in the metadata (see Metadata.Changes).
	rejoin  chan struct{}
	changes atomic.Uint64
	// lastAnswer is the time (UnixNano) of the last answer from the coordinator.
	lastAnswer atomic.Int64

	// applyMu serialises the changes of what the member runs (the loop's and the watchdog's).
	applyMu sync.Mutex
	owned   []string

	mu       sync.Mutex
	memberID string
	view     View
	// held is the leader's record of the lost workers whose connectors it holds.
	held map[string]time.Time
	// nextRebalance is when the leader starts a generation to give held connectors away.
	nextRebalance time.Time
}

// View is what a member knows of its group, for GET /cluster.
type View struct {
	Group        string                      `json:"group"`
	MemberID     string                      `json:"member_id"`
	Worker       string                      `json:"worker"`
	Generation   int32                       `json:"generation"`
	Leader       string                      `json:"leader"`
	LeaderWorker string                      `json:"leader_worker"`
	Members      map[string]MemberAssignment `json:"members"`
	// Stable is false while the member is between generations or has stopped its
	// connectors for want of an answer from the coordinator.
	Stable bool `json:"stable"`
}

// New returns a member of cfg.Group speaking through client (which must not consume a group of
// its own), driving runner.
func New(cfg Config, client *kgo.Client, runner Runner) (*Member, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	if client == nil || runner == nil {
		return nil, fmt.Errorf("%w: a client and a runner are required", ErrInvalidConfig)
	}
	return &Member{cfg: cfg, client: client, runner: runner, rejoin: make(chan struct{}, 1),
		view: View{Group: cfg.Group, Worker: cfg.Worker}}, nil
}

// Rejoin asks for a new generation, at once: the worker calls it after a change of the config
// topic, so that the leader assigns new connectors and every member reads the changes.
func (m *Member) Rejoin() {
	m.changes.Add(1)
	select {
	case m.rejoin <- struct{}{}:
	default:
	}
}

// View returns what the member knows of its group.
func (m *Member) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.view
	v.Members = maps.Clone(v.Members)
	return v
}

// errRejoin ends a generation: the loop joins again.
var errRejoin = errors.New("group: rejoin")

// Run takes part in the group until ctx ends: it joins, runs what it is assigned, heartbeats,
// and joins again at each rebalance. When ctx ends it stops every connector and leaves the
// group, so that the others take them at once. It returns ctx's error.
func (m *Member) Run(ctx context.Context) error {
	m.answered()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go m.watch(watchCtx)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := m.generation(ctx)
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errRejoin) {
			backoff = 100 * time.Millisecond
			continue
		}
		m.cfg.Log.Warn().Err(err).Str("group", m.cfg.Group).Msg("group membership failed, joining again")
		m.setStable(false)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	m.leave()
	return ctx.Err()
}

// leave stops every connector, then leaves the group.
func (m *Member) leave() {
	stopCtx, cancel := context.WithTimeout(context.Background(), m.cfg.RebalanceTimeout)
	defer cancel()
	stopped := m.apply(stopCtx, nil)
	m.mu.Lock()
	id, gen := m.memberID, m.view.Generation
	m.mu.Unlock()
	m.cfg.Log.Info().Str("group", m.cfg.Group).Int32("generation", gen).Strs("stopped", stopped).
		Msg("stopped this member's connectors to leave the group")
	if id == "" {
		return
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group, req.MemberID = m.cfg.Group, id
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = id
	req.Members = []kmsg.LeaveGroupRequestMember{lm}
	leaveCtx, cancelLeave := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelLeave()
	if _, err := req.RequestWith(leaveCtx, m.client); err != nil {
		m.cfg.Log.Warn().Err(err).Msg("leaving the group failed: the coordinator drops this member at its session timeout")
		return
	}
	m.cfg.Log.Info().Str("group", m.cfg.Group).Str("member_id", id).Msg("left the group")
}

func (m *Member) answered() { m.lastAnswer.Store(time.Now().UnixNano()) }

// watch stops the member's connectors once the coordinator has not answered for the session
// timeout less one heartbeat interval: by then the coordinator may be about to drop the member
// and give its connectors to another, which must not find them running here.
func (m *Member) watch(ctx context.Context) {
	limit := m.cfg.SessionTimeout - m.cfg.HeartbeatInterval
	tick := time.NewTicker(min(m.cfg.HeartbeatInterval/4, 250*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		silent := time.Since(time.Unix(0, m.lastAnswer.Load()))
		if silent < limit {
			continue
		}
		m.applyMu.Lock()
		owned := len(m.owned)
		m.applyMu.Unlock()
		if owned == 0 {
			continue
		}
		m.cfg.Log.Warn().Stringer("silent", silent.Round(time.Millisecond)).Int("connectors", owned).
			Msg("no answer from the group coordinator: stopping this member's connectors before its session expires")
		m.setStable(false)
		m.apply(ctx, nil)
		m.Rejoin()
	}
}

// apply makes connectors what the member runs, and returns what it stopped.
func (m *Member) apply(ctx context.Context, connectors []string) []string {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	var stopped []string
	for _, c := range m.owned {
		if !slices.Contains(connectors, c) {
			stopped = append(stopped, c)
		}
	}
	if err := m.runner.Assign(ctx, connectors); err != nil {
		// The runner stops what it must even when it fails (see Runner).
		m.cfg.Log.Error().Err(err).Msg("applying the assignment")
	}
	m.owned = slices.Clone(connectors)
	return stopped
}

func (m *Member) setStable(s bool) {
	m.mu.Lock()
	m.view.Stable = s
	m.mu.Unlock()
}

// generation joins, syncs, applies the assignment and heartbeats until the next rebalance
// (errRejoin) or a failure.
func (m *Member) generation(ctx context.Context) error {
	stopKeepalive := m.keepalive(ctx)
	join, err := m.join(ctx)
	stopKeepalive()
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.memberID = join.MemberID
	m.mu.Unlock()
	leader := join.LeaderID == join.MemberID
	var plan []kmsg.SyncGroupRequestGroupAssignment
	if leader {
		plan, err = m.lead(ctx, join)
		if err != nil {
			return err
		}
	}
	a, err := m.sync(ctx, join, plan)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.view = View{Group: m.cfg.Group, MemberID: join.MemberID, Worker: m.cfg.Worker, Generation: join.Generation,
		Leader: a.Leader, LeaderWorker: a.LeaderWorker, Members: a.Members, Stable: true}
	next := m.nextRebalance
	if !leader {
		m.held, m.nextRebalance, next = nil, time.Time{}, time.Time{}
	}
	m.mu.Unlock()
	stopped := m.apply(ctx, a.Connectors)
	m.cfg.Log.Info().Str("group", m.cfg.Group).Int32("generation", join.Generation).Str("member_id", join.MemberID).
		Bool("leader", leader).Strs("connectors", a.Connectors).Strs("stopped", stopped).Msg("group assignment applied")
	if len(a.Revoked) > 0 {
		// Cooperative: the revoked connectors have stopped; the next generation gives them
		// to their new members.
		return errRejoin
	}
	return m.heartbeat(ctx, join, next)
}

// keepalive heartbeats, with the member's id and last generation, until the returned function
// is called: a JoinGroup may wait for the other members for up to the rebalance timeout, and
// the coordinator's REBALANCE_IN_PROGRESS answers to these heartbeats keep the member's session
// (and the watchdog's clock) alive meanwhile, as the Java client's heartbeat thread does.
func (m *Member) keepalive(ctx context.Context) func() {
	m.mu.Lock()
	id, gen := m.memberID, m.view.Generation
	m.mu.Unlock()
	if id == "" || gen <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(m.cfg.HeartbeatInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req := kmsg.NewPtrHeartbeatRequest()
			req.Group, req.Generation, req.MemberID = m.cfg.Group, gen, id
			resp, err := req.RequestWith(ctx, m.client)
			if err != nil {
				continue
			}
			switch code := kerr.ErrorForCode(resp.ErrorCode); {
			case code == nil, errors.Is(code, kerr.RebalanceInProgress):
				// Still a member, its session renewed.
				m.answered()
			default:
				return // dropped, or a new generation: the join tells
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// join sends JoinGroup until it is a member of a generation.
func (m *Member) join(ctx context.Context) (*kmsg.JoinGroupResponse, error) {
	m.applyMu.Lock()
	owned := slices.Clone(m.owned)
	m.applyMu.Unlock()
	m.mu.Lock()
	id := m.memberID
	m.mu.Unlock()
	for attempt := 0; ; attempt++ {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = m.cfg.Group
		req.SessionTimeoutMillis = int32(m.cfg.SessionTimeout.Milliseconds())
		req.RebalanceTimeoutMillis = int32(m.cfg.RebalanceTimeout.Milliseconds())
		req.ProtocolType = ProtocolType
		req.MemberID = id
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name = ProtocolName
		p.Metadata = EncodeMetadata(Metadata{Worker: m.cfg.Worker, Owned: owned, Changes: m.changes.Load()})
		req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
		resp, err := req.RequestWith(ctx, m.client)
		if err != nil {
			return nil, fmt.Errorf("group: joining %s: %w", m.cfg.Group, err)
		}
		m.answered()
		err = kerr.ErrorForCode(resp.ErrorCode)
		switch {
		case err == nil:
			return resp, nil
		case errors.Is(err, kerr.MemberIDRequired) && attempt < 3:
			// KIP-394: the coordinator gave us our id; join again with it.
			id = resp.MemberID
		case errors.Is(err, kerr.UnknownMemberID) && attempt < 3:
			// The coordinator dropped this member (its session expired while it was frozen,
			// say, between two generations: its watchdog did not run, and this answer renewed
			// its clock). Its connectors may already run elsewhere: stop them before joining
			// again, and claim none.
			m.dropped(err)
			id, owned = "", nil
		case errors.Is(err, kerr.RebalanceInProgress) && attempt < 3:
		default:
			return nil, fmt.Errorf("group: joining %s: %w", m.cfg.Group, err)
		}
	}
}

// dropped forgets the member id and stops every connector: the coordinator no longer knows
// this member, so the group may have given them away.
func (m *Member) dropped(err error) {
	m.cfg.Log.Warn().Err(err).Msg("dropped from the group: stopping this member's connectors")
	m.mu.Lock()
	m.memberID = ""
	m.view.Stable = false
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.RebalanceTimeout)
	defer cancel()
	m.apply(ctx, nil)
}

// lead computes the generation's assignment.
func (m *Member) lead(ctx context.Context, join *kmsg.JoinGroupResponse) ([]kmsg.SyncGroupRequestGroupAssignment, error) {
	connectors, err := m.runner.StoredConnectors(ctx)
	if err != nil {
		return nil, fmt.Errorf("group: reading the connectors to assign: %w", err)
	}
	var members []MemberState
	workers := make(map[string]string)
	for _, jm := range join.Members {
		md, err := DecodeMetadata(jm.ProtocolMetadata)
		if err != nil {
			// A member of another version: it gets nothing and the rest goes on.
			m.cfg.Log.Error().Err(err).Str("member_id", jm.MemberID).Msg("member metadata unreadable")
			md = Metadata{Worker: jm.MemberID}
		}
		members = append(members, MemberState{ID: jm.MemberID, Worker: md.Worker, Owned: md.Owned})
		workers[jm.MemberID] = md.Worker
	}
	m.mu.Lock()
	prev := make(map[string][]string)
	for _, ma := range m.view.Members {
		prev[ma.Worker] = append(prev[ma.Worker], ma.Connectors...)
	}
	held := m.held
	m.mu.Unlock()
	p := Assign(Round{Members: members, Connectors: connectors, Previous: prev, Held: held,
		Now: time.Now(), Delay: m.cfg.RebalanceDelay})
	m.mu.Lock()
	m.held, m.nextRebalance = p.Held, p.NextRebalance
	m.mu.Unlock()
	all := make(map[string]MemberAssignment, len(members))
	for id, cs := range p.Assigned {
		all[id] = MemberAssignment{Worker: workers[id], Connectors: cs}
	}
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(members))
	for _, ms := range members {
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID = ms.ID
		sa.MemberAssignment = EncodeAssignment(Assignment{Leader: join.MemberID, LeaderWorker: m.cfg.Worker,
			Generation: join.Generation, Connectors: p.Assigned[ms.ID], Revoked: p.Revoked[ms.ID], Members: all})
		out = append(out, sa)
	}
	if len(p.Held) > 0 {
		m.cfg.Log.Info().Int("workers", len(p.Held)).Time("until", p.NextRebalance).
			Msg("holding the connectors of lost members unassigned for the rebalance delay")
	}
	return out, nil
}

// sync sends SyncGroup and reads the member's assignment.
func (m *Member) sync(ctx context.Context, join *kmsg.JoinGroupResponse, plan []kmsg.SyncGroupRequestGroupAssignment) (Assignment, error) {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.Generation, req.MemberID = m.cfg.Group, join.Generation, join.MemberID
	req.ProtocolType, req.Protocol = kmsg.StringPtr(ProtocolType), kmsg.StringPtr(ProtocolName)
	req.GroupAssignment = plan
	resp, err := req.RequestWith(ctx, m.client)
	if err != nil {
		return Assignment{}, fmt.Errorf("group: syncing %s: %w", m.cfg.Group, err)
	}
	m.answered()
	if err := m.groupError(resp.ErrorCode); err != nil {
		return Assignment{}, err
	}
	a, err := DecodeAssignment(resp.MemberAssignment)
	if err != nil {
		return Assignment{}, err
	}
	return a, nil
}

// groupError turns a SyncGroup or Heartbeat error code into errRejoin for a rebalance, and
// stops every connector first when the member was dropped from the group.
func (m *Member) groupError(code int16) error {
	err := kerr.ErrorForCode(code)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.RebalanceInProgress):
		return errRejoin
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.FencedInstanceID):
		// Dropped: the group may give our connectors to another member, if it has not yet.
		m.dropped(err)
		return errRejoin
	default:
		return fmt.Errorf("group %s: %w", m.cfg.Group, err)
	}
}

// heartbeat heartbeats until a rebalance, a rejoin asked for, or the leader's next planned
// generation.
func (m *Member) heartbeat(ctx context.Context, join *kmsg.JoinGroupResponse, next time.Time) error {
	tick := time.NewTicker(m.cfg.HeartbeatInterval)
	defer tick.Stop()
	var planned <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(time.Until(next))
		defer t.Stop()
		planned = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.rejoin:
			return errRejoin
		case <-planned:
			return errRejoin
		case <-tick.C:
		}
		req := kmsg.NewPtrHeartbeatRequest()
		req.Group, req.Generation, req.MemberID = m.cfg.Group, join.Generation, join.MemberID
		hbCtx, cancel := context.WithTimeout(ctx, m.cfg.SessionTimeout)
		resp, err := req.RequestWith(hbCtx, m.client)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The watchdog stops the connectors if this lasts; the next heartbeat may pass.
			m.cfg.Log.Warn().Err(err).Msg("heartbeat failed")
			continue
		}
		m.answered()
		if err := m.groupError(resp.ErrorCode); err != nil {
			return err
		}
	}
}
