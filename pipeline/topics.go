package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/connectors"
)

// This file creates the topics of a source's own records (heartbeats, the MySQL schema
// history), which the source declares (connectors.TopicDeclarer): a source has no Kafka client.
// The topics of changes are created at their first record (run.ensureTopic), with the
// pipeline's partitions and replication factor; these are created before Stream, with the
// source's settings, since a record of theirs may come first, and the history is read back by
// Stream.

// ensureSourceTopics creates, with client, the topics the source declares that do not exist
// yet, and returns their names; an existing topic is left as it is. It runs at each start,
// after the producer fenced the previous owner and before Stream. Kafka's refusal of a topic
// (see topicRefused) is a permanent error; other failures (Kafka unreachable) are retried as
// any start's.
func (p *Pipeline) ensureSourceTopics(ctx context.Context, client *kgo.Client) ([]string, error) {
	d, ok := p.src.(connectors.TopicDeclarer)
	if !ok {
		return nil, nil
	}
	specs := d.Topics()
	if len(specs) == 0 {
		return nil, nil
	}
	adm := kadm.NewClient(client)
	names := make([]string, 0, len(specs))
	for _, spec := range specs {
		what := "topic " + spec.Name
		if spec.Purpose != "" {
			what = spec.Purpose + " " + what
		}
		if spec.Name == "" {
			return nil, fmt.Errorf("the source declared a %s topic without a name", spec.Purpose)
		}
		// The broker's default replication factor (-1), as the sources created these topics
		// before the engine did.
		resp, err := adm.CreateTopic(ctx, topicPartitions(spec), -1, topicConfigs(spec), spec.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			err = fmt.Errorf("creating the %s: %w", what, err)
			if topicRefused(err) {
				// Asking again meets the same answer: the connector stops with it, as it
				// did when the source created the topic at Open.
				err = connectors.Permanent(err)
			}
			return nil, err
		}
		names = append(names, spec.Name)
	}
	return names, nil
}

// topicRefused tells whether Kafka's answer to a topic's creation is a refusal that stays
// until someone changes the topic's declaration or the cluster's settings: no right to create
// it, a policy, a name, a setting or a size the cluster does not take.
func topicRefused(err error) bool {
	for _, refusal := range []error{kerr.TopicAuthorizationFailed, kerr.ClusterAuthorizationFailed, kerr.PolicyViolation,
		kerr.InvalidTopicException, kerr.InvalidConfig, kerr.InvalidPartitions, kerr.InvalidReplicationFactor} {
		if errors.Is(err, refusal) {
			return true
		}
	}
	return false
}

// topicPartitions returns the declared number of partitions, 1 when none is.
func topicPartitions(spec connectors.TopicSpec) int32 {
	if spec.Partitions <= 0 {
		return 1
	}
	return spec.Partitions
}

// topicConfigs returns the topic settings of spec; nil keeps the broker's defaults.
func topicConfigs(spec connectors.TopicSpec) map[string]*string {
	configs := map[string]*string{}
	if spec.Cleanup != connectors.CleanupBrokerDefault {
		policy := string(spec.Cleanup)
		configs["cleanup.policy"] = &policy
	}
	if spec.KeepForever {
		forever := "-1"
		configs["retention.ms"], configs["retention.bytes"] = &forever, &forever
	}
	if len(configs) == 0 {
		return nil
	}
	return configs
}
