package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// declaringSource is a scripted source that declares topics of its own, and notes at each
// Stream's start which of them are missing from Kafka.
type declaringSource struct {
	*pipelinetest.Source
	specs []connectors.TopicSpec
	admin *kadm.Client

	mu      sync.Mutex
	missing []error // one per Stream: nil when every declared topic existed
}

func (s *declaringSource) Topics() []connectors.TopicSpec { return s.specs }

func (s *declaringSource) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) error {
	var names []string
	for _, sp := range s.specs {
		names = append(names, sp.Name)
	}
	details, err := s.admin.ListTopics(ctx, names...)
	if err == nil {
		for _, n := range names {
			if d, ok := details[n]; !ok || d.Err != nil {
				err = fmt.Errorf("topic %s missing at Stream's start", n)
				break
			}
		}
	}
	s.mu.Lock()
	s.missing = append(s.missing, err)
	s.mu.Unlock()
	return s.Source.Stream(ctx, from, out)
}

func newAdmin(t *testing.T, kafka []kgo.Opt) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kafka...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestSourceTopicsCreatedBeforeStream(t *testing.T) {
	kafka := newKafka(t)
	admin := newAdmin(t, kafka)
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	// A declared topic that exists already is left as it is.
	if _, err := admin.CreateTopic(ctx, 3, 1, nil, "existing"); err != nil {
		t.Fatal(err)
	}
	src := &declaringSource{Source: &pipelinetest.Source{Txns: []pipelinetest.Txn{pipelinetest.Inserts(2)}}, admin: admin,
		specs: []connectors.TopicSpec{
			{Name: "conn.schema-history", Purpose: "schema history", Partitions: 1, Cleanup: connectors.CleanupDelete, KeepForever: true},
			connectors.HeartbeatTopicSpec("__debezium-heartbeat.srv"),
			{Name: "existing", Purpose: "other", Cleanup: connectors.CleanupCompact},
		}}
	r := start(t, newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}))
	r.waitAck(t, src.Source, 1, 0)

	src.mu.Lock()
	missing := src.missing
	src.mu.Unlock()
	if len(missing) == 0 || missing[0] != nil {
		t.Fatalf("Stream's start: %v, want every declared topic created first", missing)
	}
	details, err := admin.ListTopics(ctx, "conn.schema-history", "__debezium-heartbeat.srv", "existing")
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]int{"conn.schema-history": 1, "__debezium-heartbeat.srv": 1, "existing": 3} {
		if got := len(details[topic].Partitions); got != want {
			t.Errorf("%s has %d partitions, want %d", topic, got, want)
		}
	}
	configs, err := admin.DescribeTopicConfigs(ctx, "conn.schema-history", "__debezium-heartbeat.srv", "existing")
	if err != nil {
		t.Fatal(err)
	}
	// Only the settings set at creation: the broker's defaults are not the source's business.
	set := func(topic string) map[string]string {
		rc, err := configs.On(topic, nil)
		if err != nil {
			t.Fatalf("configs of %s: %v", topic, err)
		}
		m := map[string]string{}
		for _, c := range rc.Configs {
			if c.Source == 1 && c.Value != nil { // DYNAMIC_TOPIC_CONFIG: set on the topic
				m[c.Key] = *c.Value
			}
		}
		return m
	}
	if got := set("conn.schema-history"); got["cleanup.policy"] != "delete" || got["retention.ms"] != "-1" || got["retention.bytes"] != "-1" {
		t.Errorf("schema history topic settings %v, want cleanup.policy=delete, retention.ms=-1, retention.bytes=-1", got)
	}
	if got := set("__debezium-heartbeat.srv"); len(got) != 0 {
		t.Errorf("heartbeat topic settings %v, want the broker's defaults", got)
	}
	if got := set("existing"); got["cleanup.policy"] == "compact" {
		t.Errorf("an existing topic was changed: %v", got)
	}
}

func TestSourceTopicNotCreatedFailsTheStart(t *testing.T) {
	kafka := newKafka(t)
	admin := newAdmin(t, kafka)
	// Kafka refuses a topic whose name differs from an existing one's only by '.' and '_'.
	if _, err := admin.CreateTopic(t.Context(), 1, 1, nil, "beats.srv"); err != nil {
		t.Fatal(err)
	}
	src := &declaringSource{Source: &pipelinetest.Source{Txns: []pipelinetest.Txn{pipelinetest.Inserts(1)}}, admin: admin,
		specs: []connectors.TopicSpec{connectors.HeartbeatTopicSpec("beats_srv")}}
	r := start(t, newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}))
	err := r.result(t)
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != pipeline.StageStart ||
		!strings.Contains(err.Error(), "creating the heartbeat topic beats_srv: ") {
		t.Errorf("Run = %v, want a start error creating the heartbeat topic beats_srv", err)
	}
	if pipeline.IsRetryable(err) {
		t.Errorf("Run = %v: Kafka's refusal of the topic is retried, but would be met again", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.missing) != 0 {
		t.Errorf("Stream ran %d times without its topic", len(src.missing))
	}
}
