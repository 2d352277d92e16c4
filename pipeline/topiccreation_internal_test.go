package pipeline

import (
	"regexp"
	"testing"
)

func TestPlanTopic(t *testing.T) {
	c := defaultConfig()
	TopicCreation(TopicSettings{Partitions: 6, Configs: map[string]string{TopicConfigCompressionType: "lz4"}},
		TopicGroup{Name: "orders", Include: []*regexp.Regexp{regexp.MustCompile(`srv\.public\.orders.*`)},
			Exclude: []*regexp.Regexp{regexp.MustCompile(`.*_old`)},
			Settings: TopicSettings{Partitions: 10, ReplicationFactor: 1,
				Configs: map[string]string{TopicConfigCleanupPolicy: "compact"}}},
		TopicGroup{Name: "all-public", Include: []*regexp.Regexp{regexp.MustCompile(`srv\.public\..*`)},
			Settings: TopicSettings{Configs: map[string]string{TopicConfigRetentionMS: "-1", TopicConfigCompressionType: "zstd"}}},
	)(&c)
	if err := c.validTopicCreation(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		topic      string
		group      string
		partitions int32
		rf         int16
		configs    map[string]string
	}{
		{"srv.public.orders", "orders", 10, 1, map[string]string{"compression.type": "lz4", "cleanup.policy": "compact"}},
		{"srv.public.orders_lines", "orders", 10, 1, map[string]string{"compression.type": "lz4", "cleanup.policy": "compact"}},
		// Excluded from orders: the next group.
		{"srv.public.orders_old", "all-public", 6, -1, map[string]string{"compression.type": "zstd", "retention.ms": "-1"}},
		{"srv.public.customers", "all-public", 6, -1, map[string]string{"compression.type": "zstd", "retention.ms": "-1"}},
		// A partial match is no match (Java's Pattern.matches).
		{"xsrv.public.orders", "default", 6, -1, map[string]string{"compression.type": "lz4"}},
		{"srv.transaction", "default", 6, -1, map[string]string{"compression.type": "lz4"}},
	} {
		p := c.planTopic(tc.topic)
		if p.group != tc.group || p.partitions != tc.partitions || p.replicationFactor != tc.rf || len(p.configs) != len(tc.configs) {
			t.Errorf("%s: %+v, want group %s, %d partitions, rf %d, %v", tc.topic, p, tc.group, tc.partitions, tc.rf, tc.configs)
			continue
		}
		for k, v := range tc.configs {
			if p.configs[k] != v {
				t.Errorf("%s: %s=%q, want %q", tc.topic, k, p.configs[k], v)
			}
		}
	}
	// Without topic creation settings: the pipeline's partitions, nothing explicit.
	d := defaultConfig()
	if p := d.planTopic("srv.public.a"); p.partitions != DefaultTopicPartitions || p.explicit() || p.createConfigs() != nil {
		t.Errorf("no settings: %+v", p)
	}
}

func TestTopicCreationValidate(t *testing.T) {
	inc := []*regexp.Regexp{regexp.MustCompile(`.*`)}
	for name, opt := range map[string]Option{
		"partitions":  TopicCreation(TopicSettings{Partitions: -2}),
		"replication": TopicCreation(TopicSettings{ReplicationFactor: -3}),
		"no include":  TopicCreation(TopicSettings{}, TopicGroup{Name: "g"}),
		"group":       TopicCreation(TopicSettings{}, TopicGroup{Name: "g", Include: inc, Settings: TopicSettings{Partitions: -5}}),
		"empty value": TopicCreation(TopicSettings{Configs: map[string]string{"retention.ms": ""}}),
	} {
		c := defaultConfig()
		opt(&c)
		if err := c.validTopicCreation(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSameTopicConfig(t *testing.T) {
	for _, tc := range []struct {
		key, got, want string
		same           bool
	}{
		{"cleanup.policy", "compact,delete", "delete,compact", true},
		{"cleanup.policy", "delete", "compact", false},
		{"retention.ms", "604800000", "604800000", true},
		{"retention.ms", "-1", "-1", true},
		{"retention.ms", "1000", "2000", false},
		{"compression.type", "producer", "zstd", false},
	} {
		if got := sameTopicConfig(tc.key, tc.got, tc.want); got != tc.same {
			t.Errorf("%s %q vs %q: %v", tc.key, tc.got, tc.want, got)
		}
	}
}
