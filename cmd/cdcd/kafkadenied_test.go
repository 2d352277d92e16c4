package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cdcd-dev/cdcd/pipeline"
)

// A Kafka refusal names the server, the permission and keeps the resource and the cause; it
// stays as retryable as it was; other errors pass as they are.
func TestKafkaRefusalNamesServerAndPermission(t *testing.T) {
	k := &KafkaConfig{Brokers: []string{"b1:9096", "b2:9096"}, SASL: &KafkaSASLConfig{Mechanism: "PLAIN"}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("creating topic shop.public.items: %w", kerr.TopicAuthorizationFailed), "CREATE on the topic"},
		{fmt.Errorf("producing to topic shop.public.items: %w", kerr.TopicAuthorizationFailed), "WRITE on the topic"},
		{fmt.Errorf("ensuring the source's topics: creating the schema history topic inv.schema-history: %w", kerr.TopicAuthorizationFailed), "CREATE on the topic"},
		{fmt.Errorf("creating the heartbeat topic __debezium-heartbeat.shop: %w", kerr.TopicAuthorizationFailed), "CREATE on the topic"},
		{fmt.Errorf("reading the schema history topic inv.schema-history: kafkalog: reading topic inv.schema-history: %w", kerr.TopicAuthorizationFailed), "READ on the topic"},
		{fmt.Errorf("kafkalog: checking topic _cdcd_offsets: %w", kerr.TopicAuthorizationFailed), "DESCRIBE_CONFIGS on the topic"},
		{fmt.Errorf("initialising the transactional producer cdcd-inv: %w", kerr.TransactionalIDAuthorizationFailed), "WRITE on the transactional id"},
		{errors.New("schema registry http://r: register s: 50001: Error in the backend data store: TOPIC_AUTHORIZATION_FAILED"), "WRITE on the topic"},
	} {
		got := kafkaRefusal(&pipeline.StageError{Stage: pipeline.StageProduce, Err: tc.err}, k)
		msg := got.Error()
		for _, w := range []string{"denied " + tc.want + " by Kafka at b1:9096,b2:9096 (SASL_PLAINTEXT)", tc.err.Error()} {
			if !strings.Contains(msg, w) {
				t.Errorf("%q does not say %q", msg, w)
			}
		}
		if pipeline.IsRetryable(got) != pipeline.IsRetryable(&pipeline.StageError{Stage: pipeline.StageProduce, Err: tc.err}) {
			t.Errorf("%q: retryability changed", msg)
		}
	}
	outage := fmt.Errorf("producing: %w", kerr.NotEnoughReplicas)
	if got := kafkaRefusal(outage, k); got != outage {
		t.Errorf("an outage became %v", got)
	}
}
