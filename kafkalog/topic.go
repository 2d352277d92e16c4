package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrTopicMismatch means an existing topic does not have the layout its [Topic] requires (with
// [TopicMustMatch]): more partitions than the log reads, or not compacted.
var ErrTopicMismatch = errors.New("kafkalog: the topic's layout is not the log's")

// TopicCheck says what [EnsureTopic] does with a topic that already exists.
type TopicCheck int

const (
	// TopicAsIs leaves an existing topic as it is, unchecked (the offsets and config topics:
	// an operator may have created them with settings of their own).
	TopicAsIs TopicCheck = iota
	// TopicMustMatch refuses an existing topic whose partition count is not Partitions, or
	// whose cleanup.policy lacks a policy of Configs' cleanup.policy, with [ErrTopicMismatch].
	TopicMustMatch
)

// Topic is the layout of a log's topic: what it is created with, and what an existing one is
// checked against.
type Topic struct {
	// Name is the topic's name.
	Name string
	// Partitions is the partition count it is created with, 1 when 0. A log reads and writes
	// partition 0 only.
	Partitions int32
	// Replication is the replication factor it is created with; 0 or -1 is the broker's
	// default.replication.factor.
	Replication int16
	// Configs are the topic configs it is created with (cleanup.policy, retention.ms...).
	Configs map[string]string
	// Check says what is done with an existing topic, [TopicAsIs] by default.
	Check TopicCheck
}

// CompactedTopic returns the layout of a compacted log named name: one partition, so that one
// read finds each key's last record in order, the broker's replication factor, and
// cleanup.policy=compact, so that the topic keeps each key's last record. An existing topic is
// left as it is.
func CompactedTopic(name string) Topic {
	return Topic{Name: name, Partitions: 1, Replication: -1, Configs: map[string]string{"cleanup.policy": "compact"}}
}

func (t Topic) partitions() int32 {
	if t.Partitions <= 0 {
		return 1
	}
	return t.Partitions
}

func (t Topic) replication() int16 {
	if t.Replication == 0 {
		return -1
	}
	return t.Replication
}

// EnsureTopic creates t with client if it does not exist, and checks an existing one as t.Check
// says. It is what [Open] does; the pipeline calls it with its own producer for the offsets
// topic, which it writes inside its transactions.
func EnsureTopic(ctx context.Context, client *kgo.Client, t Topic) error {
	configs := make(map[string]*string, len(t.Configs))
	for k, v := range t.Configs {
		configs[k] = &v
	}
	adm := kadm.NewClient(client)
	_, err := adm.CreateTopic(ctx, t.partitions(), t.replication(), configs, t.Name)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("kafkalog: creating topic %s: %w", t.Name, err)
	}
	if t.Check != TopicMustMatch {
		return nil
	}
	// A topic just created may not be known to every broker yet: retry what is retriable.
	err = retry(ctx, func() error { return checkTopic(ctx, adm, t) })
	switch {
	case errors.Is(err, ErrTopicMismatch):
		return err // it names the topic
	case err != nil:
		return fmt.Errorf("kafkalog: checking topic %s: %w", t.Name, err)
	}
	return nil
}

// checkTopic checks once that the existing topic t.Name has t's partition count and cleanup
// policies, and that its partition 0 can be listed.
func checkTopic(ctx context.Context, adm *kadm.Client, t Topic) error {
	details, err := adm.ListTopics(ctx, t.Name)
	if err != nil {
		return err
	}
	td, ok := details[t.Name]
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	if td.Err != nil {
		return td.Err
	}
	if n := len(td.Partitions); n != int(t.partitions()) {
		return fmt.Errorf("%w: topic %s has %d partitions, want %d", ErrTopicMismatch, t.Name, n, t.partitions())
	}
	configs, err := adm.DescribeTopicConfigs(ctx, t.Name)
	if err != nil {
		return err
	}
	rc, err := configs.On(t.Name, nil)
	if err != nil {
		return err
	}
	if rc.Err != nil {
		return rc.Err
	}
	if want := t.Configs["cleanup.policy"]; want != "" {
		have := configValueOf(rc.Configs, "cleanup.policy")
		for _, p := range strings.Split(want, ",") {
			if !strings.Contains(have, strings.TrimSpace(p)) {
				return fmt.Errorf("%w: topic %s has cleanup.policy=%q, want %s", ErrTopicMismatch, t.Name, have, want)
			}
		}
	}
	ends, err := adm.ListEndOffsets(ctx, t.Name)
	if err != nil {
		return err
	}
	o, ok := ends.Lookup(t.Name, 0)
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	return o.Err
}

func configValueOf(configs []kadm.Config, key string) string {
	for _, c := range configs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// retry calls fn until it succeeds, fails with an error Kafka does not call retriable, or ctx
// ends.
func retry(ctx context.Context, fn func() error) error {
	pause := 20 * time.Millisecond
	for {
		err := fn()
		if err == nil || !kerr.IsRetriable(err) {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
	}
}
