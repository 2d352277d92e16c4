package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/schemaregistry"
)

type tailOptions struct {
	brokers       []string
	registry      string
	registryToken string
	fromBeginning bool
	max           int
	timeout       time.Duration
}

func newTailCommand() *cobra.Command {
	var o tailOptions
	cmd := &cobra.Command{
		Use:   "tail TOPIC",
		Short: "Print a topic's change events, decoded through the schema registry, as JSON lines",
		Long: `Tail consumes TOPIC with isolation read_committed (what a consumer of cdcd's exactly-once
output sees) and prints each record as one JSON line: topic, partition, offset, key and value
(null for a tombstone), decoded from the Confluent wire format through the registry.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return tail(ctx, args[0], o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringSliceVar(&o.brokers, "brokers", []string{"127.0.0.1:19092"}, "Kafka seed brokers")
	cmd.Flags().StringVar(&o.registry, "registry", "http://"+defaultRegistryListen, "schema registry URL")
	cmd.Flags().StringVar(&o.registryToken, "registry-token", os.Getenv("CDCD_REGISTRY_TOKEN"),
		"the schema registry's token, registry.token (env CDCD_REGISTRY_TOKEN)")
	cmd.Flags().BoolVar(&o.fromBeginning, "from-beginning", false, "start at the topic's first record instead of its end")
	cmd.Flags().IntVar(&o.max, "max", 0, "stop after this many records (0: no limit)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "stop after this long (0: no limit)")
	return cmd
}

// tailRecord is one output line.
type tailRecord struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       any    `json:"key"`
	Value     any    `json:"value"`
}

func tail(ctx context.Context, topic string, o tailOptions, out io.Writer) error {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	start := kgo.NewOffset().AtEnd()
	if o.fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(o.brokers...),
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(start),
	)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()
	dec := schemaregistry.NewDecoder(schemaregistry.NewSRClient(o.registry, schemaregistry.TokenClient(o.registry, o.registryToken, 10*time.Second)))
	enc := json.NewEncoder(out)
	printed := 0
	for o.max == 0 || printed < o.max {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("consuming %s: %w", topic, errs[0].Err)
		}
		for _, r := range fetches.Records() {
			line := tailRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
			if line.Key, err = dec.DecodeJSON(ctx, r.Key); err != nil {
				return fmt.Errorf("key of %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			if line.Value, err = dec.DecodeJSON(ctx, r.Value); err != nil {
				return fmt.Errorf("value of %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			if err := enc.Encode(line); err != nil {
				return fmt.Errorf("writing: %w", err)
			}
			if printed++; o.max > 0 && printed >= o.max {
				return nil
			}
		}
	}
	return nil
}
