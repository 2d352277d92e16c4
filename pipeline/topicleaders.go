package pipeline

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A topic Kafka has just created is not writable at once: its partitions get their leaders a
// moment later, seconds later when a thousand are created together on a loaded broker. The
// producer learns of a topic at its first record, and while the metadata it fetches names no
// leader it asks again, first eight times 250 ms apart and then only every MetadataMinAge (5 s
// by default), a wave of topics at a time; past its unknown-topic retries it fails the record
// (UNKNOWN_TOPIC_OR_PARTITION), which fails the run. Measured on the scale bench's 1,000 new
// topics (docs/benchmarks.md, "Scale"), the first transaction's flush waited 5-30 s in those
// waves, and produced to partitions whose broker did not host them yet. So, after creating a
// batch's topics, the Kafka stage waits until one metadata request names a leader for every
// partition of them all, asking again with a growing pause; then the producer's first
// metadata request, immediate at a new topic's first record, finds them all ready.

// leaderWaitFirst and leaderWaitMax are the first and the longest pause between two metadata
// requests of waitLeaders.
const (
	leaderWaitFirst = 25 * time.Millisecond
	leaderWaitMax   = 500 * time.Millisecond
)

// leaderWaitBudget bounds waitLeaders: past it the producer's own retries take over, as they
// did before the wait existed. Half a minute is above what the bench's 1,000 topics took on
// a loaded 2-core machine (5-12 s) and below the default transaction timeout's half, which
// the open Kafka transaction must not outlive.
const leaderWaitBudget = 30 * time.Second

// leaderless returns the topics among topics that resp names with an error, without
// partitions, or with a partition without a leader, or does not name.
func leaderless(resp *kmsg.MetadataResponse, topics []string) []string {
	ready := make(map[string]bool, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil || t.ErrorCode != 0 || len(t.Partitions) == 0 {
			continue
		}
		ok := true
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				ok = false
				break
			}
		}
		ready[*t.Topic] = ok
	}
	var out []string
	for _, topic := range topics {
		if !ready[topic] {
			out = append(out, topic)
		}
	}
	return out
}

// metadataOf asks the broker for the metadata of topics. The request is sent as it is: kadm's
// Metadata answers from the client's cache, errors included, for MetadataMinAge (5 s), which
// would hide a leader elected meanwhile.
func (r *run) metadataOf(ctx context.Context, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, topic := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
	}
	return req.RequestWith(ctx, r.client)
}

// waitLeaders waits until every partition of topics has a leader, asking the metadata of the
// topics still waiting in one request each time. It never fails the run: a metadata request
// that fails, or a wait past leaderWaitBudget, is logged and left to the producer's retries.
// It returns early when ctx ends.
func (r *run) waitLeaders(ctx context.Context, topics []string) {
	if len(topics) == 0 {
		return
	}
	start := time.Now()
	pending, pause, requests := topics, leaderWaitFirst, 0
	var timer *time.Timer
	for {
		resp, err := r.metadataOf(ctx, pending)
		requests++
		if err != nil {
			if ctx.Err() == nil {
				r.cfg.log.Debug().Err(err).Str("connector", r.cfg.connector).Int("topics", len(pending)).
					Msg("reading the leaders of new topics failed; the producer finds them itself")
			}
			break
		}
		if pending = leaderless(resp, pending); len(pending) == 0 {
			break
		}
		if time.Since(start)+pause > leaderWaitBudget {
			r.cfg.log.Info().Str("connector", r.cfg.connector).Int("topics", len(pending)).Str("first", pending[0]).
				Stringer("waited", time.Since(start).Round(time.Millisecond)).
				Msg("new topics still without a leader; the producer waits for them itself")
			break
		}
		if timer == nil {
			timer = time.NewTimer(pause)
			defer timer.Stop()
		} else {
			timer.Reset(pause)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		pause = min(2*pause, leaderWaitMax)
	}
	r.cfg.log.Debug().Str("connector", r.cfg.connector).Int("topics", len(topics)).Int("requests", requests).
		Stringer("waited", time.Since(start).Round(time.Millisecond)).Msg("leaders of new topics known")
}
