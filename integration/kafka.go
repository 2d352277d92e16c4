package integration

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// NewKafkaClient returns a client of the stack's broker with opts added, closed when the test
// ends.
func NewKafkaClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{kgo.SeedBrokers(StackFromEnv().KafkaAddr)}, opts...)
	client, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatalf("creating a Kafka client: %v", err)
	}
	t.Cleanup(client.Close)
	return client
}

// NewKafkaTopic creates a topic with the given number of partitions for the calling test and
// deletes it when the test ends.
func NewKafkaTopic(t testing.TB, partitions int32) string {
	t.Helper()
	topic := Name(t, "topic")
	admin := kadm.NewClient(NewKafkaClient(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, err := admin.CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s on Kafka %s (is the stack up? make stack-up): %v",
			topic, StackFromEnv().KafkaAddr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.DeleteTopic(ctx, topic); err != nil {
			t.Errorf("deleting topic %s: %v", topic, err)
		}
	})
	return topic
}
