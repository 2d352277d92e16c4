// Command kafkaready waits until a Kafka broker answers a metadata request with at least one
// broker and an elected controller, which is what a KRaft node needs before it can serve
// transactions. deploy/dev/kafka.sh runs it after starting the broker; it exits 0 when the
// broker is ready and 1 when the deadline passes first.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "bootstrap broker address")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long to wait for the broker")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := waitReady(ctx, *brokers); err != nil {
		fmt.Fprintf(os.Stderr, "kafkaready: %s: %v\n", *brokers, err)
		os.Exit(1)
	}
}

// waitReady polls the broker until its metadata names a controller and at least one broker.
func waitReady(ctx context.Context, brokers string) error {
	client, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	defer client.Close()
	admin := kadm.NewClient(client)

	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	var lastErr error
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		meta, err := admin.BrokerMetadata(attempt)
		cancel()
		switch {
		case err != nil:
			lastErr = fmt.Errorf("metadata request: %w", err)
		case len(meta.Brokers) == 0:
			lastErr = fmt.Errorf("metadata names no broker")
		case meta.Controller < 0:
			lastErr = fmt.Errorf("no controller elected yet")
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready before the deadline: %w", lastErr)
		case <-poll.C:
		}
	}
}
