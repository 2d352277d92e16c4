package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"
)

const topicCreationYAML = `
    topic_creation:
      default: {partitions: 10, replication_factor: 1, compression_type: none, retention_ms: 604800000}
      groups:
        - {name: orders, include: ['demo\.public\.orders.*'], exclude: ['.*_old'], partitions: 20, cleanup_policy: 'compact,delete'}
        - {name: logs, include: ['demo\.public\.log.*', 'demo\.audit\..*'], retention_ms: -1, compression_type: zstd}
`

func TestTopicCreationFileForm(t *testing.T) {
	raw := strings.Replace(validConfig, "    topic_prefix: demo\n", "    topic_prefix: demo\n"+strings.TrimPrefix(topicCreationYAML, "\n"), 1)
	cfg, err := parseConfig([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Connectors[0].TopicCreation
	want := &TopicCreationConfig{
		Default: &TopicCreationGroup{Partitions: 10, ReplicationFactor: 1, CompressionType: "none", RetentionMS: 604800000},
		Groups: []TopicCreationGroup{
			{Name: "orders", Include: []string{`demo\.public\.orders.*`}, Exclude: []string{".*_old"}, Partitions: 20, CleanupPolicy: "compact,delete"},
			{Name: "logs", Include: []string{`demo\.public\.log.*`, `demo\.audit\..*`}, RetentionMS: -1, CompressionType: "zstd"},
		}}
	if !reflect.DeepEqual(tc, want) {
		t.Fatalf("read\n%+v\nwant\n%+v", tc, want)
	}
	// The settings the pipeline is given: Kafka's names and values.
	if s := tc.Default.topicSettings(); s.Partitions != 10 || s.ReplicationFactor != 1 ||
		s.Configs[pipeline.TopicConfigCompressionType] != "uncompressed" || s.Configs[pipeline.TopicConfigRetentionMS] != "604800000" {
		t.Errorf("default settings %+v", s)
	}
	if s := tc.Groups[0].topicSettings(); s.Configs[pipeline.TopicConfigCleanupPolicy] != "compact,delete" || len(s.Configs) != 1 {
		t.Errorf("orders settings %+v", s)
	}
	if opt, err := topicCreationOption(tc); err != nil || opt == nil {
		t.Errorf("option: %v", err)
	}

	// The flat form and back.
	flat := flattenConnector(cfg.Connectors[0])
	for k, v := range map[string]string{
		"topic_creation.default.partitions": "10", "topic_creation.default.compression_type": "none",
		"topic_creation.groups": "orders,logs", "topic_creation.orders.include": `demo\.public\.orders.*`,
		"topic_creation.orders.cleanup_policy": "compact,delete", "topic_creation.logs.retention_ms": "-1",
		"topic_creation.logs.include": `demo\.public\.log.*,demo\.audit\..*`,
	} {
		if flat[k] != v {
			t.Errorf("flat %s = %q, want %q", k, flat[k], v)
		}
	}
	if _, ok := flat["topic_creation.orders.name"]; ok {
		t.Errorf("flat form has a name key: %v", flat)
	}
	back, errs := unflattenConnector(cfg.Connectors[0].Name, flat)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if !reflect.DeepEqual(back.TopicCreation, want) {
		t.Fatalf("round trip\n%+v\nwant\n%+v", back.TopicCreation, want)
	}
}

// TestTopicCreationDebeziumKeys: a Debezium configuration's topic.creation.* keys are read as
// the same settings.
func TestTopicCreationDebeziumKeys(t *testing.T) {
	c, errs := unflattenConnector("inv", api.Config{
		"topic.creation.default.partitions":         "3",
		"topic.creation.default.replication.factor": "-1",
		"topic.creation.default.compression.type":   "lz4",
		"topic.creation.groups":                     "compacted",
		"topic.creation.compacted.include":          `demo\.public\.(a|b)`,
		"topic.creation.compacted.cleanup.policy":   "compact",
		"topic.creation.compacted.retention.ms":     "1000",
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := &TopicCreationConfig{Default: &TopicCreationGroup{Partitions: 3, ReplicationFactor: -1, CompressionType: "lz4"},
		Groups: []TopicCreationGroup{{Name: "compacted", Include: []string{`demo\.public\.(a|b)`}, CleanupPolicy: "compact", RetentionMS: 1000}}}
	if !reflect.DeepEqual(c.TopicCreation, want) {
		t.Fatalf("read\n%+v\nwant\n%+v", c.TopicCreation, want)
	}
	if errs := validateTopicCreation(c.TopicCreation); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestTopicCreationRejects(t *testing.T) {
	for _, tc := range []struct {
		cfg      api.Config
		key, msg string
	}{
		{api.Config{"topic_creation.default.partitions": "many"}, "topic_creation.default.partitions", "not an integer"},
		{api.Config{"topic_creation.default.partitions": "-2"}, "topic_creation.default.partitions", "-1 (the broker's default)"},
		{api.Config{"topic_creation.default.replication_factor": "-4"}, "topic_creation.default.replication_factor", "or 1 to 32767"},
		{api.Config{"topic_creation.default.compression_type": "brotli"}, "topic_creation.default.compression_type", "not none, gzip"},
		{api.Config{"topic_creation.default.cleanup_policy": "erase"}, "topic_creation.default.cleanup_policy", "not delete, compact"},
		{api.Config{"topic_creation.default.retention_ms": "-7"}, "topic_creation.default.retention_ms", "-1 (forever)"},
		{api.Config{"topic_creation.default.colour": "red"}, "topic_creation.default.colour", "unknown setting"},
		{api.Config{"topic_creation.default.include": "x"}, "topic_creation.default", "no name, include or exclude"},
		{api.Config{"topic_creation.g.partitions": "2"}, "topic_creation.g", "not listed in topic_creation.groups"},
		{api.Config{"topic_creation.groups": "g", "topic_creation.g.partitions": "2"}, "topic_creation.g.include", "at least one include"},
		{api.Config{"topic_creation.groups": "g", "topic_creation.g.include": "a(b"}, "topic_creation.g.include", "not a regular expression"},
		{api.Config{"topic_creation.groups": "g,g", "topic_creation.g.include": "a"}, "topic_creation.groups", "listed twice"},
		{api.Config{"topic_creation.groups": "default"}, "topic_creation.groups", "not default"},
		{api.Config{"topic_creation.nogroup": "1"}, "topic_creation.nogroup", "unknown setting"},
	} {
		cfg := api.Config{"type": "postgres", "topic_prefix": "demo"}
		for k, v := range tc.cfg {
			cfg[k] = v
		}
		c, errs := unflattenConnector("inv", cfg)
		errs = append(errs, validateTopicCreation(c.TopicCreation)...)
		found := false
		for _, fe := range errs {
			if fe.Name == tc.key && strings.Contains(fe.Message, tc.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%v: errors %v, want %s: ...%s...", tc.cfg, errs, tc.key, tc.msg)
		}
	}
}

func TestMessageKeyColumnsSetting(t *testing.T) {
	ok := strings.Replace(validConfig, "    topic_prefix: demo\n", "    topic_prefix: demo\n    message_key_columns: 'public.items:sku,region;public\\..*:id'\n", 1)
	cfg, err := parseConfig([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Connectors[0].MessageKeyColumns; got != `public.items:sku,region;public\..*:id` {
		t.Errorf("read %q", got)
	}
	if flat := flattenConnector(cfg.Connectors[0]); flat["message_key_columns"] != cfg.Connectors[0].MessageKeyColumns {
		t.Errorf("flat form %q", flat["message_key_columns"])
	}
	bad := strings.Replace(validConfig, "    topic_prefix: demo\n", "    topic_prefix: demo\n    message_key_columns: 'public.items'\n", 1)
	if _, err := parseConfig([]byte(bad)); err == nil || !strings.Contains(err.Error(), "message_key_columns") {
		t.Errorf("a spec without columns: %v", err)
	}
}
