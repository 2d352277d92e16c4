package main

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// TopicCreationConfig is a connector's topic_creation section: the settings of the data topics
// cdcd creates, as Kafka Connect's topic.creation.* that Debezium documents. In the file:
//
//	topic_creation:
//	  default: {partitions: 10, replication_factor: 3, compression_type: zstd}
//	  groups:
//	    - {name: orders, include: ['shop\.public\.orders.*'], partitions: 20, cleanup_policy: compact}
//
// In the flat form (the API): topic_creation.default.partitions, topic_creation.groups (the
// names, comma-separated, in order), topic_creation.<group>.include and so on; Debezium's own
// spelling (topic.creation.default.replication.factor, topic.creation.<group>.cleanup.policy)
// is read too.
type TopicCreationConfig struct {
	// Default applies to every data topic; its include and exclude must be empty.
	Default *TopicCreationGroup `json:"default"`
	// Groups are tried in order: a topic takes the first whose include matches its whole
	// name and whose exclude does not, its settings over Default's.
	Groups []TopicCreationGroup `json:"groups"`
}

// TopicCreationGroup is one group of topic creation settings. A zero setting is not set: a
// group's falls back to the default group's, the default group's to cdcd's (one partition,
// the broker's defaults).
type TopicCreationGroup struct {
	// Name names the group (not in Default).
	Name string `json:"name"`
	// Include and Exclude are regular expressions matched against whole topic names.
	Include []string `json:"include"`
	Exclude []string `json:"exclude"`
	// Partitions is the number of partitions; -1 is the broker's num.partitions.
	Partitions int32 `json:"partitions"`
	// ReplicationFactor is the replication factor; -1 is the broker's default.
	ReplicationFactor int32 `json:"replication_factor"`
	// CleanupPolicy is delete, compact or "compact,delete".
	CleanupPolicy string `json:"cleanup_policy"`
	// RetentionMS is retention.ms; -1 keeps records forever.
	RetentionMS int64 `json:"retention_ms"`
	// CompressionType is none, gzip, snappy, lz4, zstd (or Kafka's uncompressed, producer).
	CompressionType string `json:"compression_type"`
}

// Keys of the flat form's topic creation settings.
const (
	keyTopicCreation       = "topic_creation"
	keyTopicCreationGroups = keyTopicCreation + ".groups"
	// debeziumTopicCreation is Debezium's prefix of the same settings.
	debeziumTopicCreation = "topic.creation"
	defaultTopicGroup     = "default"
	maxTopicPartitions    = 100_000
)

// compressionTypes maps the accepted compression types to Kafka's topic values: "none" is the
// producer's name of what a topic calls "uncompressed".
var compressionTypes = map[string]string{"none": "uncompressed", "uncompressed": "uncompressed", "gzip": "gzip",
	"snappy": "snappy", "lz4": "lz4", "zstd": "zstd", "producer": "producer"}

// isTopicCreationKey tells whether a flat key belongs to the topic creation settings.
func isTopicCreationKey(key string) bool {
	return strings.HasPrefix(key, keyTopicCreation+".") || strings.HasPrefix(key, debeziumTopicCreation+".")
}

// flattenTopicCreation writes tc in the flat form into out.
func flattenTopicCreation(tc *TopicCreationConfig, out api.Config) {
	if tc == nil {
		return
	}
	write := func(name string, g TopicCreationGroup) {
		g.Name = ""
		sub := api.Config{}
		flattenStruct(reflect.ValueOf(g), keyTopicCreation+"."+name+".", sub)
		maps.Copy(out, sub)
	}
	if tc.Default != nil {
		write(defaultTopicGroup, *tc.Default)
	}
	names := make([]string, len(tc.Groups))
	for i, g := range tc.Groups {
		names[i] = g.Name
		write(g.Name, g)
	}
	if len(names) > 0 {
		out[keyTopicCreationGroups] = strings.Join(names, ",")
	}
}

// unflattenTopicCreation reads the flat form's topic creation settings; nil when there are
// none.
func unflattenTopicCreation(cfg api.Config) (*TopicCreationConfig, []api.FieldError) {
	var errs []api.FieldError
	var order []string
	groups := map[string]*TopicCreationGroup{}
	found := false
	for _, key := range slices.Sorted(maps.Keys(cfg)) {
		if !isTopicCreationKey(key) {
			continue
		}
		found = true
		val := cfg[key]
		rest, debezium := strings.CutPrefix(key, debeziumTopicCreation+".")
		if !debezium {
			rest = strings.TrimPrefix(key, keyTopicCreation+".")
		}
		if rest == "groups" {
			for name := range strings.SplitSeq(val, ",") {
				if name = strings.TrimSpace(name); name != "" {
					order = append(order, name)
				}
			}
			continue
		}
		name, prop, ok := strings.Cut(rest, ".")
		if !ok || name == "" || prop == "" {
			errs = append(errs, api.FieldError{Name: key, Message: "unknown setting; topic_creation.<group>.<setting>, e.g. topic_creation.default.partitions"})
			continue
		}
		if debezium {
			prop = strings.ReplaceAll(prop, ".", "_")
		}
		g := groups[name]
		if g == nil {
			g = &TopicCreationGroup{}
			groups[name] = g
		}
		if prop == "name" {
			errs = append(errs, api.FieldError{Name: key, Message: "unknown setting: a group's name is the key's"})
			continue
		}
		if err := setFlat(reflect.ValueOf(g).Elem(), []string{prop}, val); err != nil {
			errs = append(errs, api.FieldError{Name: key, Message: err.Error()})
		}
	}
	if !found {
		return nil, errs
	}
	tc := &TopicCreationConfig{Default: groups[defaultTopicGroup]}
	for _, name := range order {
		g, ok := groups[name]
		if !ok {
			g = &TopicCreationGroup{}
		}
		g.Name = name
		tc.Groups = append(tc.Groups, *g)
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		if name != defaultTopicGroup && !slices.Contains(order, name) {
			errs = append(errs, api.FieldError{Name: keyTopicCreation + "." + name,
				Message: fmt.Sprintf("group %q is not listed in %s", name, keyTopicCreationGroups)})
		}
	}
	return tc, errs
}

// validateTopicCreation returns the problems of a connector's topic creation settings.
func validateTopicCreation(tc *TopicCreationConfig) []api.FieldError {
	if tc == nil {
		return nil
	}
	var errs []api.FieldError
	if tc.Default != nil {
		key := keyTopicCreation + "." + defaultTopicGroup
		if tc.Default.Name != "" || len(tc.Default.Include) > 0 || len(tc.Default.Exclude) > 0 {
			errs = append(errs, api.FieldError{Name: key, Message: "the default group takes every topic: no name, include or exclude"})
		}
		errs = append(errs, validateTopicGroup(key, *tc.Default)...)
	}
	seen := map[string]bool{}
	for _, g := range tc.Groups {
		key := keyTopicCreation + "." + g.Name
		switch {
		case g.Name == "" || strings.ContainsAny(g.Name, "., ") || g.Name == defaultTopicGroup || g.Name == "groups":
			errs = append(errs, api.FieldError{Name: keyTopicCreationGroups,
				Message: fmt.Sprintf("group name %q: needed, without dots, commas or spaces, not default or groups", g.Name)})
			continue
		case seen[g.Name]:
			errs = append(errs, api.FieldError{Name: keyTopicCreationGroups, Message: fmt.Sprintf("group %q is listed twice", g.Name)})
			continue
		}
		seen[g.Name] = true
		if len(g.Include) == 0 {
			errs = append(errs, api.FieldError{Name: key + ".include", Message: "a group needs at least one include pattern"})
		}
		for _, list := range []struct {
			key      string
			patterns []string
		}{{key + ".include", g.Include}, {key + ".exclude", g.Exclude}} {
			for _, p := range list.patterns {
				if _, err := regexp.Compile(p); err != nil {
					errs = append(errs, api.FieldError{Name: list.key, Message: fmt.Sprintf("%q is not a regular expression: %v", p, err)})
				}
			}
		}
		errs = append(errs, validateTopicGroup(key, g)...)
	}
	return errs
}

func validateTopicGroup(key string, g TopicCreationGroup) []api.FieldError {
	var errs []api.FieldError
	add := func(setting, format string, args ...any) {
		errs = append(errs, api.FieldError{Name: key + "." + setting, Message: fmt.Sprintf(format, args...)})
	}
	if g.Partitions < -1 || g.Partitions > maxTopicPartitions {
		add("partitions", "%d: -1 (the broker's default) or 1 to %d", g.Partitions, maxTopicPartitions)
	}
	if g.ReplicationFactor < -1 || g.ReplicationFactor > math.MaxInt16 {
		add("replication_factor", "%d: -1 (the broker's default) or 1 to %d", g.ReplicationFactor, math.MaxInt16)
	}
	if _, err := cleanupPolicy(g.CleanupPolicy); err != nil {
		add("cleanup_policy", "%v", err)
	}
	if g.RetentionMS < -1 {
		add("retention_ms", "%d: -1 (forever) or a number of milliseconds", g.RetentionMS)
	}
	if _, ok := compressionTypes[g.CompressionType]; g.CompressionType != "" && !ok {
		add("compression_type", "%q is not none, gzip, snappy, lz4 or zstd", g.CompressionType)
	}
	return errs
}

// cleanupPolicy returns policy as Kafka takes it.
func cleanupPolicy(policy string) (string, error) {
	if policy == "" {
		return "", nil
	}
	var parts []string
	for p := range strings.SplitSeq(policy, ",") {
		p = strings.TrimSpace(p)
		if p != "delete" && p != "compact" {
			return "", fmt.Errorf("%q is not delete, compact or compact,delete", policy)
		}
		if !slices.Contains(parts, p) {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ","), nil
}

// topicSettings turns a validated group into the pipeline's settings.
func (g TopicCreationGroup) topicSettings() pipeline.TopicSettings {
	s := pipeline.TopicSettings{Partitions: g.Partitions, ReplicationFactor: int16(g.ReplicationFactor), Configs: map[string]string{}}
	if policy, _ := cleanupPolicy(g.CleanupPolicy); policy != "" {
		s.Configs[pipeline.TopicConfigCleanupPolicy] = policy
	}
	if g.RetentionMS != 0 {
		s.Configs[pipeline.TopicConfigRetentionMS] = strconv.FormatInt(g.RetentionMS, 10)
	}
	if c, ok := compressionTypes[g.CompressionType]; ok {
		s.Configs[pipeline.TopicConfigCompressionType] = c
	}
	return s
}

// topicCreationOption is the pipeline option of validated settings; nil when there are none.
func topicCreationOption(tc *TopicCreationConfig) (pipeline.Option, error) {
	if tc == nil {
		return nil, nil
	}
	var defaults pipeline.TopicSettings
	if tc.Default != nil {
		defaults = tc.Default.topicSettings()
	}
	groups := make([]pipeline.TopicGroup, 0, len(tc.Groups))
	for _, g := range tc.Groups {
		pg := pipeline.TopicGroup{Name: g.Name, Settings: g.topicSettings()}
		for _, p := range g.Include {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("topic creation group %s: include %q: %w", g.Name, p, err)
			}
			pg.Include = append(pg.Include, re)
		}
		for _, p := range g.Exclude {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("topic creation group %s: exclude %q: %w", g.Name, p, err)
			}
			pg.Exclude = append(pg.Exclude, re)
		}
		groups = append(groups, pg)
	}
	return pipeline.TopicCreation(defaults, groups...), nil
}
