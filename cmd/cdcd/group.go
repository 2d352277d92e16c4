package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/cdcd-dev/cdcd/worker"
	"github.com/cdcd-dev/cdcd/worker/group"
)

// defaultStatusTopic is kafka.status_topic's default.
const defaultStatusTopic = "_cdcd_status"

// GroupConfig makes the daemon a member of a group of daemons (docs/operations.md, "Group
// mode"): every daemon with the same id and config topic shares the connectors.
type GroupConfig struct {
	// ID is the group id; empty: the daemon runs alone, every connector of its config topic.
	ID string `json:"id"`
	// SessionTimeoutMS, HeartbeatIntervalMS, RebalanceTimeoutMS and RebalanceDelayMS are
	// Kafka Connect's session.timeout.ms, heartbeat.interval.ms, rebalance.timeout.ms and
	// scheduled.rebalance.max.delay.ms; 0: group's defaults (10 s, 3 s, 60 s, 0).
	SessionTimeoutMS    int `json:"session_timeout_ms"`
	HeartbeatIntervalMS int `json:"heartbeat_interval_ms"`
	RebalanceTimeoutMS  int `json:"rebalance_timeout_ms"`
	RebalanceDelayMS    int `json:"rebalance_delay_ms"`
}

// memberConfig is the group member's configuration, for the worker id workerID.
func (g GroupConfig) memberConfig(workerID string, log zerolog.Logger) group.Config {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	return group.Config{Group: g.ID, Worker: workerID, SessionTimeout: ms(g.SessionTimeoutMS),
		HeartbeatInterval: ms(g.HeartbeatIntervalMS), RebalanceTimeout: ms(g.RebalanceTimeoutMS),
		RebalanceDelay: ms(g.RebalanceDelayMS), Log: log}
}

// groupProblems lists the problems of the group section.
func (c *Config) groupProblems(add func(string, ...any)) {
	g := c.Group
	if g.ID == "" {
		if g != (GroupConfig{}) {
			add("group: the timeouts are set but group.id is not")
		}
		return
	}
	if c.API.Listen == apiOff {
		add("group.id: a group member needs the REST API (api.listen is off)")
	}
	if c.Registry.URL == "" {
		// The embedded registry has one writer: members each serving theirs on one topic
		// would give one id to two schemas.
		add("group.id: a group needs registry.url (the embedded registry cannot be shared by the members of a group yet: serve it from one daemon outside the group, or use another registry)")
	}
	for _, v := range []struct {
		key string
		n   int
	}{{"session_timeout_ms", g.SessionTimeoutMS}, {"heartbeat_interval_ms", g.HeartbeatIntervalMS},
		{"rebalance_timeout_ms", g.RebalanceTimeoutMS}, {"rebalance_delay_ms", g.RebalanceDelayMS}} {
		if v.n < 0 || v.n > int(time.Hour/time.Millisecond) {
			add("group.%s: %d is out of range: 0 (the default) to 3600000 ms", v.key, v.n)
		}
	}
	if err := g.memberConfig("w", zerolog.Nop()).Validate(); err != nil {
		add("group: %v", err)
	}
}

// groupWorker is the daemon's membership: started after the worker, stopped before it.
type groupWorker struct {
	member *group.Member
	client *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
}

// rejoiner is the manager's OnChange function in group mode: the member, once it exists, rejoins.
type rejoiner struct{ member atomic.Pointer[group.Member] }

func (r *rejoiner) rejoin() {
	if m := r.member.Load(); m != nil {
		m.Rejoin()
	}
}

// startGroup makes the manager a member of cfg.Group.ID and runs the membership until stop.
func startGroup(cfg *Config, kafka []kgo.Opt, mgr *worker.Manager, workerID string, r *rejoiner, log zerolog.Logger) (*groupWorker, error) {
	client, err := kafkalog.NewClient(kafka)
	if err != nil {
		return nil, err
	}
	m, err := group.New(cfg.Group.memberConfig(workerID, log), client, mgr)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("%w: group: %w", ErrConfig, err)
	}
	r.member.Store(m)
	ctx, cancel := context.WithCancel(context.Background())
	g := &groupWorker{member: m, client: client, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(g.done)
		_ = m.Run(ctx)
	}()
	log.Info().Str("group", cfg.Group.ID).Str("worker", workerID).Msg("joining the group")
	return g, nil
}

// stop stops the member's connectors, leaves the group and releases its client.
func (g *groupWorker) stop() {
	g.cancel()
	<-g.done
	g.client.Close()
}

// cluster answers GET /cluster from the member's view of its group.
func (r *rejoiner) cluster(context.Context) (api.Cluster, error) {
	m := r.member.Load()
	if m == nil {
		return api.Cluster{}, fmt.Errorf("%w: not a member of the group yet", api.ErrUnavailable)
	}
	v := m.View()
	c := api.Cluster{Group: v.Group, Worker: v.Worker, MemberID: v.MemberID, Generation: v.Generation,
		Leader: v.Leader, LeaderWorker: v.LeaderWorker, Stable: v.Stable}
	for _, id := range slices.Sorted(maps.Keys(v.Members)) {
		ma := v.Members[id]
		c.Members = append(c.Members, api.ClusterMember{MemberID: id, Worker: ma.Worker, Connectors: ma.Connectors})
	}
	return c, nil
}

func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Print the group of the daemon (members, leader, generation, assignment)",
		Long: `Cluster asks the daemon at --api for its group (group mode, group.id): its members, the
leader, the generation and which member runs which connector, as JSON.`,
		Args: cobra.NoArgs,
	}
	c := apiFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var out api.Cluster
		if err := c.do(cmd.Context(), http.MethodGet, "/cluster", nil, &out); err != nil {
			return err
		}
		return printJSON(cmd.OutOrStdout(), out)
	}
	return cmd
}
