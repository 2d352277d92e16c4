package pipeline

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// This file holds the settings the data topics are created with, as Kafka Connect's
// topic.creation.* (KIP-158) that Debezium documents: a default group, and named groups whose
// include and exclude regular expressions pick topics by name, the first group that matches
// winning. A topic that exists already is used as it is: its settings are compared with those
// asked for, and each difference is named in a warning, since changing a topic's partitions
// would move keys between partitions and cdcd must not decide that on its own.

// The topic settings TopicSettings may set (Kafka's topic configuration names).
const (
	TopicConfigCleanupPolicy   = "cleanup.policy"
	TopicConfigRetentionMS     = "retention.ms"
	TopicConfigCompressionType = "compression.type"
)

// TopicSettings are the settings of the data topics cdcd creates. A zero field is not set:
// the group's falls back to the default group's, and the default group's to the pipeline's
// (TopicPartitions, ReplicationFactor) or, for a configuration, to the broker's.
type TopicSettings struct {
	// Partitions is the number of partitions; -1 is the broker's num.partitions.
	Partitions int32
	// ReplicationFactor is the replication factor; -1 is the broker's
	// default.replication.factor.
	ReplicationFactor int16
	// Configs are topic configurations by Kafka's name (TopicConfigCleanupPolicy, ...), as
	// Kafka takes them.
	Configs map[string]string
}

// TopicGroup gives the topics whose name matches one of Include and none of Exclude their own
// settings (Kafka Connect's topic.creation.<group>.*).
type TopicGroup struct {
	// Name names the group in logs.
	Name string
	// Include and Exclude are matched against the whole topic name.
	Include, Exclude []*regexp.Regexp
	// Settings override the default group's, field by field.
	Settings TopicSettings
}

// TopicCreation sets the settings of the data topics the pipeline creates (the topics of
// changes, of transaction metadata and the dead-letter topic): defaults, and the groups
// tried in order. It replaces [TopicPartitions] and [ReplicationFactor] where it sets them.
// Default none: every topic with [DefaultTopicPartitions] and the broker's defaults.
func TopicCreation(defaults TopicSettings, groups ...TopicGroup) Option {
	return func(c *config) {
		c.topicDefaults = defaults
		c.topicGroups = slices.Clone(groups)
	}
}

// validTopicSettings checks s (of the group named what).
func validTopicSettings(what string, s TopicSettings) error {
	switch {
	case s.Partitions < -1:
		return fmt.Errorf("%w: topic creation group %s: %d partitions, want -1 (the broker's default) or at least 1",
			ErrInvalidOption, what, s.Partitions)
	case s.ReplicationFactor < -1:
		return fmt.Errorf("%w: topic creation group %s: replication factor %d, want -1 (the broker's default) or at least 1",
			ErrInvalidOption, what, s.ReplicationFactor)
	}
	for k, v := range s.Configs {
		if k == "" || v == "" {
			return fmt.Errorf("%w: topic creation group %s: topic setting %q=%q is empty", ErrInvalidOption, what, k, v)
		}
	}
	return nil
}

// validTopicCreation checks the topic creation settings of c.
func (c *config) validTopicCreation() error {
	if err := validTopicSettings("default", c.topicDefaults); err != nil {
		return err
	}
	for _, g := range c.topicGroups {
		if len(g.Include) == 0 {
			return fmt.Errorf("%w: topic creation group %s has no include pattern", ErrInvalidOption, g.Name)
		}
		if err := validTopicSettings(g.Name, g.Settings); err != nil {
			return err
		}
	}
	return nil
}

// topicPlan is what a topic is created with, and which of it was asked for explicitly.
type topicPlan struct {
	group             string
	partitions        int32
	replicationFactor int16
	configs           map[string]string
	// explicitPartitions and explicitReplication say whether the configuration set them (an
	// existing topic is compared on them only).
	explicitPartitions, explicitReplication bool
}

// fullMatch tells whether re matches the whole of s, as Java's Pattern.matches that Kafka
// Connect uses.
func fullMatch(re *regexp.Regexp, s string) bool {
	loc := re.FindStringIndex(s)
	if loc != nil && loc[0] == 0 && loc[1] == len(s) {
		return true
	}
	// The leftmost match may be shorter than a whole match: ask again anchored.
	anchored, err := regexp.Compile(`^(?:` + re.String() + `)$`)
	return err == nil && anchored.MatchString(s)
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	return slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return fullMatch(re, s) })
}

// planTopic returns the settings topic is created with: those of the first group matching
// it, over the default group's, over the pipeline's.
func (c *config) planTopic(topic string) topicPlan {
	p := topicPlan{group: "default", partitions: c.topicPartitions, replicationFactor: c.replicationFactor,
		configs: map[string]string{}}
	apply := func(s TopicSettings) {
		if s.Partitions != 0 {
			p.partitions, p.explicitPartitions = s.Partitions, true
		}
		if s.ReplicationFactor != 0 {
			p.replicationFactor, p.explicitReplication = s.ReplicationFactor, true
		}
		maps.Copy(p.configs, s.Configs)
	}
	apply(c.topicDefaults)
	for _, g := range c.topicGroups {
		if matchesAny(g.Include, topic) && !matchesAny(g.Exclude, topic) {
			p.group = g.Name
			apply(g.Settings)
			break
		}
	}
	return p
}

// createConfigs returns the plan's configurations as kadm takes them; nil keeps the broker's.
func (p topicPlan) createConfigs() map[string]*string {
	if len(p.configs) == 0 {
		return nil
	}
	out := make(map[string]*string, len(p.configs))
	for k, v := range p.configs {
		out[k] = &v
	}
	return out
}

// explicit tells whether the plan asks anything of an existing topic.
func (p topicPlan) explicit() bool {
	return p.explicitPartitions || p.explicitReplication || len(p.configs) > 0
}

// topicDifferences returns how the existing topic differs from the plan: one "setting: has X,
// configured Y" per difference, in a stable order. Only what the plan sets explicitly is
// compared; -1 (the broker's default) is not compared.
func topicDifferences(ctx context.Context, admin *kadm.Client, topic string, p topicPlan) ([]string, error) {
	var diffs []string
	if (p.explicitPartitions && p.partitions > 0) || (p.explicitReplication && p.replicationFactor > 0) {
		details, err := admin.ListTopics(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("describing topic %s: %w", topic, err)
		}
		d, ok := details[topic]
		if !ok {
			return nil, fmt.Errorf("describing topic %s: not in the broker's answer", topic)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("describing topic %s: %w", topic, d.Err)
		}
		if p.explicitPartitions && p.partitions > 0 && int32(len(d.Partitions)) != p.partitions {
			diffs = append(diffs, fmt.Sprintf("partitions: has %d, configured %d", len(d.Partitions), p.partitions))
		}
		if p.explicitReplication && p.replicationFactor > 0 {
			if rf := d.Partitions.NumReplicas(); rf != int(p.replicationFactor) {
				diffs = append(diffs, fmt.Sprintf("replication factor: has %d, configured %d", rf, p.replicationFactor))
			}
		}
	}
	if len(p.configs) > 0 {
		rcs, err := admin.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("describing the configuration of topic %s: %w", topic, err)
		}
		rc, err := rcs.On(topic, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return nil, fmt.Errorf("describing the configuration of topic %s: %w", topic, err)
		}
		has := map[string]string{}
		for _, c := range rc.Configs {
			has[c.Key] = c.MaybeValue()
		}
		for _, k := range slices.Sorted(maps.Keys(p.configs)) {
			if want, got := p.configs[k], has[k]; !sameTopicConfig(k, got, want) {
				diffs = append(diffs, fmt.Sprintf("%s: has %q, configured %q", k, got, want))
			}
		}
	}
	return diffs, nil
}

// sameTopicConfig compares a topic configuration as Kafka reads it: a list of policies in any
// order, numbers by value.
func sameTopicConfig(key, got, want string) bool {
	switch key {
	case TopicConfigCleanupPolicy:
		split := func(s string) []string {
			parts := strings.Split(s, ",")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			slices.Sort(parts)
			return parts
		}
		return slices.Equal(split(got), split(want))
	case TopicConfigRetentionMS:
		g, errG := strconv.ParseInt(got, 10, 64)
		w, errW := strconv.ParseInt(want, 10, 64)
		if errG == nil && errW == nil {
			return g == w || (g < 0 && w < 0)
		}
	}
	return got == want
}
