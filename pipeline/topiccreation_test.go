package pipeline_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// TestTopicCreationSettings: a data topic is created with the settings of the first group
// that matches its name, over the default group's; its records go to the partition Kafka's
// Java producer picks for their key, each key's changes in order.
func TestTopicCreationSettings(t *testing.T) {
	kafka := newKafka(t)
	admin := newAdmin(t, kafka)
	txns := []pipelinetest.Txn{pipelinetest.Inserts(30), pipelinetest.Inserts(30), pipelinetest.Inserts(30)}
	src := &pipelinetest.Source{Txns: txns}
	r := start(t, newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.TopicCreation(pipeline.TopicSettings{Partitions: 4, Configs: map[string]string{pipeline.TopicConfigCompressionType: "lz4"}},
			pipeline.TopicGroup{Name: "nothing", Include: []*regexp.Regexp{regexp.MustCompile(`other\..*`)},
				Settings: pipeline.TopicSettings{Partitions: 2}},
			pipeline.TopicGroup{Name: "public", Include: []*regexp.Regexp{regexp.MustCompile(`srv\.public\..*`)},
				Settings: pipeline.TopicSettings{Partitions: 6, Configs: map[string]string{pipeline.TopicConfigCleanupPolicy: "compact"}}})))
	r.waitAck(t, src, len(txns), 0)

	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	topic := pipelinetest.Topic(prefix)
	details, err := admin.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details[topic].Partitions); n != 6 {
		t.Errorf("%s has %d partitions, want 6 (group public)", topic, n)
	}
	rcs, err := admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = c.MaybeValue()
	}
	if got["cleanup.policy"] != "compact" || got["compression.type"] != "lz4" {
		t.Errorf("%s: cleanup.policy %q, compression.type %q; want compact (group) and lz4 (default)",
			topic, got["cleanup.policy"], got["compression.type"])
	}

	rs, err := pipelinetest.ReadCommitted(ctx, kafka, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 90 {
		t.Fatalf("%d records, want 90", len(rs))
	}
	java := kgo.StickyKeyPartitioner(nil).ForTopic(topic) // franz-go's Kafka-compatible hashing
	used := map[int32]bool{}
	for _, rec := range rs {
		if want := int32(java.Partition(rec, 6)); rec.Partition != want {
			t.Errorf("key %s on partition %d, Kafka's partitioner picks %d", rec.Key, rec.Partition, want)
		}
		used[rec.Partition] = true
	}
	if len(used) < 2 {
		t.Errorf("every record on one partition: %v", used)
	}
}

// TestExistingTopicWarning: a data topic that exists with other settings than those
// configured is used as it is, and a warning names each difference.
func TestExistingTopicWarning(t *testing.T) {
	kafka := newKafka(t)
	admin := newAdmin(t, kafka)
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	topic := pipelinetest.Topic(prefix)
	retention := "3600000"
	if _, err := admin.CreateTopic(ctx, 2, 1, map[string]*string{"retention.ms": &retention}, topic); err != nil {
		t.Fatal(err)
	}
	txns := []pipelinetest.Txn{pipelinetest.Inserts(5)}
	src := &pipelinetest.Source{Txns: txns}
	var logs syncBuffer
	r := start(t, newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}, pipeline.Logger(zerolog.New(&logs)),
		pipeline.TopicCreation(pipeline.TopicSettings{Partitions: 3, Configs: map[string]string{pipeline.TopicConfigRetentionMS: "60000"}})))
	r.waitAck(t, src, len(txns), 0)
	out := logs.String()
	for _, want := range []string{"exists with other settings", `partitions: has 2, configured 3`, `retention.ms: has \"3600000\", configured \"60000\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not say %q:\n%s", want, out)
		}
	}
	details, err := admin.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details[topic].Partitions); n != 2 {
		t.Errorf("the existing topic has %d partitions now, want its 2", n)
	}
	rs, err := pipelinetest.ReadCommitted(ctx, kafka, topic)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 5 {
		t.Errorf("%d records in the existing topic, want 5", len(rs))
	}
}

// TestRefusedTopicSettingsStopTheRun: settings Kafka refuses for a data topic (a replication
// factor above the brokers') end the run with a permanent error naming the topic: asking again
// would meet the same refusal.
func TestRefusedTopicSettingsStopTheRun(t *testing.T) {
	kafka := newKafka(t) // one broker
	src := &pipelinetest.Source{Txns: []pipelinetest.Txn{pipelinetest.Inserts(1)}}
	r := start(t, newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix},
		pipeline.TopicCreation(pipeline.TopicSettings{ReplicationFactor: 3})))
	err := r.result(t)
	if err == nil || !strings.Contains(err.Error(), "creating topic "+pipelinetest.Topic(prefix)) {
		t.Fatalf("Run = %v, want an error creating topic %s", err, pipelinetest.Topic(prefix))
	}
	if pipeline.IsRetryable(err) {
		t.Errorf("Run = %v: Kafka's refusal of the topic's settings is retried, but would be met again", err)
	}
}
