package pipeline

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cdcd-dev/cdcd/connectors"
)

// ensureBatchTopics creates the data topics that b's records are the first of in this run, in
// one CreateTopics request per set of creation settings, before the records are handled one by
// one. Asked topic by topic at each first record (ensureTopic), a connector of 1,000 tables
// waited 1,000 round trips, one after the other, before its first transaction could commit, and
// as many again at each restart (then each answered "already exists"); see docs/benchmarks.md,
// "Scale". A topic whose creation fails here is left unknown: ensureTopic asks for it again at
// its record and handles the failure as it always did, so this changes no outcome, only the
// number of requests.
func (r *run) ensureBatchTopics(ctx context.Context, b *batch) {
	// The steady state (every topic known) allocates nothing and asks the map once per run of
	// records of one topic: a batch's records mostly go to the topic of the record before.
	var missing []string
	var seen map[string]bool // made at the first unknown topic
	last := r.lastEnsured
	for i := range b.items {
		it := &b.items[i]
		// The same records ensureTopic is asked for: a change's and a commit's, not a
		// source's own record, whose topic the source created.
		if it.kind != connectors.EventChange && it.kind != connectors.EventCommit {
			continue
		}
		for _, rec := range b.recs[it.lo:it.hi] {
			if rec.Topic == last || rec.Topic == "" {
				continue
			}
			last = rec.Topic
			if _, ok := r.topics[rec.Topic]; ok || seen[rec.Topic] {
				continue
			}
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[rec.Topic] = true
			missing = append(missing, rec.Topic)
		}
	}
	// One topic is left to ensureTopic: no request to save.
	if len(missing) < 2 {
		return
	}
	type request struct {
		plan   topicPlan
		topics []string
	}
	requests := map[string]*request{}
	var order []string
	for _, topic := range missing {
		plan := r.cfg.planTopic(topic)
		key := planKey(plan)
		req, ok := requests[key]
		if !ok {
			req = &request{plan: plan}
			requests[key] = req
			order = append(order, key)
		}
		req.topics = append(req.topics, topic)
	}
	var created []string
	defer func() { r.waitLeaders(ctx, created) }()
	for _, key := range order {
		req := requests[key]
		resps, err := r.admin.CreateTopics(ctx, req.plan.partitions, req.plan.replicationFactor, req.plan.createConfigs(), req.topics...)
		if err != nil {
			r.cfg.log.Debug().Err(err).Str("connector", r.cfg.connector).Int("topics", len(req.topics)).
				Msg("creating topics together failed; each is created at its first record")
			continue
		}
		for _, resp := range resps.Sorted() {
			switch {
			case resp.Err == nil:
				created = append(created, resp.Topic)
				r.cfg.log.Info().Str("connector", r.cfg.connector).Str("topic", resp.Topic).Str("group", req.plan.group).
					Int32("partitions", req.plan.partitions).Int16("replication_factor", req.plan.replicationFactor).
					Interface("configs", req.plan.configs).Msg("topic created")
			case errors.Is(resp.Err, kerr.TopicAlreadyExists):
				r.checkExisting(ctx, resp.Topic, req.plan)
			default:
				continue
			}
			r.topics[resp.Topic] = struct{}{}
		}
	}
}

// planKey identifies the creation settings of plan: topics with the same key are created in
// one request.
func planKey(plan topicPlan) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s/%d/%d", plan.group, plan.partitions, plan.replicationFactor)
	for _, k := range slices.Sorted(maps.Keys(plan.configs)) {
		fmt.Fprintf(&sb, "/%s=%s", k, plan.configs[k])
	}
	return sb.String()
}
