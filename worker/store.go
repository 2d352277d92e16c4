package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The config topic holds, per connector, the record keyed "connector-<name>" whose value is a
// storedConnector as JSON, and a tombstone once the connector is deleted. It is compacted, so
// it keeps each connector's last record.
const keyPrefix = "connector-"

// target is a connector's target state, persisted: what the user asked it to be.
type target string

// The target states, as Kafka Connect names them in its config topic.
const (
	targetStarted target = "STARTED"
	targetPaused  target = "PAUSED"
	targetStopped target = "STOPPED"
)

// storedConnector is the value of a connector's record in the config topic.
type storedConnector struct {
	Config api.Config `json:"config"`
	Target target     `json:"target_state"`
}

// errCorruptConfig means a record of the config topic could not be read as a storedConnector.
var errCorruptConfig = errors.New("worker: unreadable record in the config topic")

func recordKey(name string) []byte { return []byte(keyPrefix + name) }

// decodeStored reads a record's value.
func decodeStored(value []byte) (storedConnector, error) {
	var s storedConnector
	if err := json.Unmarshal(value, &s); err != nil {
		return s, fmt.Errorf("%w: %w", errCorruptConfig, err)
	}
	switch s.Target {
	case targetStarted, targetPaused, targetStopped:
	default:
		return s, fmt.Errorf("%w: unknown target state %q", errCorruptConfig, s.Target)
	}
	if s.Config == nil {
		return s, fmt.Errorf("%w: no config", errCorruptConfig)
	}
	return s, nil
}

// ensureConfigTopic creates the config topic if it does not exist: one partition, so that its
// records keep their order, and compacted, so that it keeps each connector's last record.
func ensureConfigTopic(ctx context.Context, client *kgo.Client, topic string) error {
	compact := "compact"
	_, err := kadm.NewClient(client).CreateTopic(ctx, 1, -1,
		map[string]*string{"cleanup.policy": &compact}, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("worker: creating the config topic %s: %w", topic, err)
	}
	return nil
}

// putStored writes a connector's record, or its tombstone when s is nil, and returns once the
// brokers have it (acks=all, idempotent producer): a process killed after the call returned
// finds it at its next start.
func putStored(ctx context.Context, client *kgo.Client, topic, name string, s *storedConnector) error {
	rec := &kgo.Record{Topic: topic, Key: recordKey(name)}
	if s != nil {
		v, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("worker: encoding connector %s: %w", name, err)
		}
		rec.Value = v
	}
	if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("%w: worker: writing connector %s to the config topic %s: %w",
			api.ErrUnavailable, name, topic, err)
	}
	return nil
}

// readStored reads the config topic from its start to its current end and returns each
// connector's last record: its storedConnector, or the error that made it unreadable. Deleted
// connectors are absent.
func readStored(ctx context.Context, opts []kgo.Opt, topic string) (map[string]storedConnector, map[string]error, error) {
	all := make([]kgo.Opt, 0, len(opts)+2)
	all = append(all, opts...)
	all = append(all,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
	)
	client, err := kgo.NewClient(all...)
	if err != nil {
		return nil, nil, fmt.Errorf("worker: creating a Kafka client: %w", err)
	}
	defer client.Close()

	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("worker: listing the end of the config topic %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, 0)
	switch {
	case !ok:
		return nil, nil, fmt.Errorf("worker: the config topic %s has no partition 0", topic)
	case end.Err != nil:
		return nil, nil, fmt.Errorf("worker: listing the end of the config topic %s: %w", topic, end.Err)
	}

	stored := make(map[string]storedConnector)
	broken := make(map[string]error)
	next := int64(0)
	for next < end.Offset {
		fetches := client.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			return nil, nil, fmt.Errorf("worker: reading the config topic %s: %w", topic, err)
		}
		for _, fe := range fetches.Errors() {
			return nil, nil, fmt.Errorf("worker: reading the config topic %s: %w", topic, fe.Err)
		}
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			// Compaction leaves gaps: the log start and the records tell how far the read got.
			next = max(next, p.LogStartOffset)
		})
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			next = max(next, r.Offset+1)
			name, ok := strings.CutPrefix(string(r.Key), keyPrefix)
			if !ok || r.Offset >= end.Offset {
				continue // another kind of record, or one written after the read began
			}
			delete(stored, name)
			delete(broken, name)
			if r.Value == nil {
				continue
			}
			s, err := decodeStored(r.Value)
			if err != nil {
				broken[name] = fmt.Errorf("topic %s offset %d: %w", topic, r.Offset, err)
				continue
			}
			stored[name] = s
		}
	}
	return stored, broken, nil
}
