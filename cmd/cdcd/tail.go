package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/kafkalog"
)

type tailOptions struct {
	brokers []string
	// config is --config, the daemon's config file whose kafka section (brokers, tls, sasl)
	// tail uses; kafka is that section, read.
	config        string
	kafka         *KafkaConfig
	registry      string
	registryToken string
	fromBeginning bool
	since         string
	max           int
	timeout       time.Duration
	// registryUserInfo, registryCA, registryCert and registryKey reach a secured registry
	// (registryclient.go).
	registryUserInfo                      string
	registryCA, registryCert, registryKey string
}

func newTailCommand() *cobra.Command {
	var o tailOptions
	cmd := &cobra.Command{
		Use:   "tail TOPIC",
		Short: "Print a topic's change events, decoded through the schema registry, as JSON lines",
		Long: `Tail consumes TOPIC with isolation read_committed (what a consumer of cdcd's exactly-once
output sees) and prints each record as one JSON line: topic, partition, offset, key and value
(null for a tombstone), decoded from the Confluent wire format through the registry. A topic
Kafka does not have is an error naming the topics with close names (cdcd creates a table's
topic with its first event).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if o.config != "" {
				if cmd.Flags().Changed("brokers") {
					return errors.New("give --config or --brokers, not both")
				}
				cfg, err := loadConfig(o.config)
				if err != nil {
					return err
				}
				o.kafka = &cfg.Kafka
			}
			return tail(ctx, args[0], o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringSliceVar(&o.brokers, "brokers", []string{"127.0.0.1:19092"}, "Kafka seed brokers")
	cmd.Flags().StringVarP(&o.config, "config", "c", "",
		"read Kafka's brokers, TLS and SASL settings from this cdcd config file's kafka section (instead of --brokers)")
	cmd.Flags().StringVar(&o.registry, "registry", "http://"+defaultRegistryListen, "schema registry URL")
	cmd.Flags().StringVar(&o.registryToken, "registry-token", os.Getenv("CDCD_REGISTRY_TOKEN"),
		"the schema registry's token, registry.token (env CDCD_REGISTRY_TOKEN)")
	cmd.Flags().StringVar(&o.registryUserInfo, "registry-user-info", os.Getenv("CDCD_REGISTRY_USER_INFO"),
		"user:password for the schema registry's basic authentication, registry.basic_auth_user_info (env CDCD_REGISTRY_USER_INFO)")
	cmd.Flags().StringVar(&o.registryCA, "registry-ca", "", "PEM file of the CAs of an https:// registry, registry.ssl_ca_location")
	cmd.Flags().StringVar(&o.registryCert, "registry-cert", "", "client certificate (PEM) for the registry, registry.ssl_certificate_location")
	cmd.Flags().StringVar(&o.registryKey, "registry-key", "", "the client certificate's key (PEM), registry.ssl_key_location")
	cmd.Flags().BoolVar(&o.fromBeginning, "from-beginning", false, "start at the topic's first record instead of its end")
	cmd.Flags().StringVar(&o.since, "since", "", "start at the first record written at or after this time (RFC 3339, or a duration ago: 10m)")
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

// tailStart is where tail starts reading: the end (only records written from now), the
// beginning, or the first record written at or after --since.
func tailStart(o tailOptions, now time.Time) (kgo.Offset, error) {
	switch {
	case o.since != "" && o.fromBeginning:
		return kgo.Offset{}, errors.New("give --from-beginning or --since, not both")
	case o.fromBeginning:
		return kgo.NewOffset().AtStart(), nil
	case o.since == "":
		return kgo.NewOffset().AtEnd(), nil
	}
	at, err := time.Parse(time.RFC3339Nano, o.since)
	if err != nil {
		d, derr := time.ParseDuration(o.since)
		if derr != nil || d < 0 {
			return kgo.Offset{}, fmt.Errorf("--since %q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration ago (10m)", o.since)
		}
		at = now.Add(-d)
	}
	return kgo.NewOffset().AfterMilli(at.UnixMilli()), nil
}

func tail(ctx context.Context, topic string, o tailOptions, out io.Writer) error {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	start, err := tailStart(o, time.Now())
	if err != nil {
		return err
	}
	registryClient, err := tailRegistryClient(o)
	if err != nil {
		return err
	}
	client, err := kafkalog.NewClient(o.clientOptions(),
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(start))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()
	if err := checkTopicExists(ctx, kadm.NewClient(client), topic); err != nil {
		return err
	}
	dec := avro.NewDecoder(avro.NewSRClient(o.registry, registryClient))
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

// ErrNoTopic is returned by tail for a topic Kafka does not have.
var ErrNoTopic = errors.New("no such topic")

// topicCheckTimeout bounds the one metadata request tail makes before consuming: a Kafka that
// does not answer is an error, not an endless wait.
const topicCheckTimeout = 30 * time.Second

// checkTopicExists refuses a topic Kafka does not have, naming the topics whose names are
// close: a consumer of a missing topic would wait, silently, for it to be created (and under
// --timeout exit 0 as if it had been empty).
func checkTopicExists(ctx context.Context, adm *kadm.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, topicCheckTimeout)
	defer cancel()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("listing Kafka's topics: %w", err)
	}
	if topics.Has(topic) {
		return nil
	}
	near := closeNames(topic, topics.Names())
	if len(near) == 0 {
		return fmt.Errorf("%w: topic %q does not exist, nor does one with a close name (%d topics; cdcd names its own <topic_prefix>.<schema or database>.<table>)",
			ErrNoTopic, topic, len(topics))
	}
	return fmt.Errorf("%w: topic %q does not exist; close names: %s", ErrNoTopic, topic, strings.Join(near, ", "))
}

// maxCloseNames caps the names a missing topic's error suggests.
const maxCloseNames = 5

// closeNames returns the names of all close to name, closest first: within a few edits (a
// typo), one holding the other as a dot-separated part (items, demo.public.items), or the same
// but for the topic prefix (demo_1765000000.public.items, demo.public.items).
func closeNames(name string, all []string) []string {
	type scored struct {
		name string
		dist int
	}
	limit := max(3, len(name)/4)
	var found []scored
	for _, n := range all {
		d := editDistance(strings.ToLower(name), strings.ToLower(n))
		if d > limit && (strings.HasSuffix(n, "."+name) || strings.HasSuffix(name, "."+n) ||
			strings.HasPrefix(n, name+".") || strings.HasPrefix(name, n+".") || sameAfterPrefix(n, name)) {
			d = limit
		}
		if d <= limit {
			found = append(found, scored{n, d})
		}
	}
	slices.SortFunc(found, func(a, b scored) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, f := range found[:min(len(found), maxCloseNames)] {
		out = append(out, f.name)
	}
	return out
}

// sameAfterPrefix tells whether a and b, both prefixed (prefix.schema.table), differ only in
// their first part.
func sameAfterPrefix(a, b string) bool {
	_, ra, okA := strings.Cut(a, ".")
	_, rb, okB := strings.Cut(b, ".")
	return okA && okB && ra != "" && ra == rb
}
