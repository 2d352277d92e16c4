package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/kafkalog"
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

// configEntry is one record of the config topic: a connector's storedConnector, nil for its
// tombstone.
type configEntry struct {
	name   string
	stored *storedConnector
}

// configCodec reads and writes the config topic's records; it skips records of other kinds.
type configCodec struct{}

var _ kafkalog.Codec[configEntry] = configCodec{}

func (configCodec) Encode(e configEntry) (key, value []byte, err error) {
	if e.stored == nil {
		return recordKey(e.name), nil, nil
	}
	value, err = json.Marshal(e.stored)
	if err != nil {
		return nil, nil, fmt.Errorf("worker: encoding connector %s: %w", e.name, err)
	}
	return recordKey(e.name), value, nil
}

// Decode returns the entry with its name even when its value is unreadable, so that the
// connector it names is known as broken.
func (configCodec) Decode(key, value []byte) (configEntry, error) {
	name, ok := strings.CutPrefix(string(key), keyPrefix)
	if !ok {
		return configEntry{}, kafkalog.ErrSkip // another kind of record
	}
	if value == nil {
		return configEntry{name: name}, nil
	}
	s, err := decodeStored(value)
	if err != nil {
		return configEntry{name: name}, err
	}
	return configEntry{name: name, stored: &s}, nil
}

// openConfigLog opens the config topic's log, creating the topic if it does not exist: one
// partition, so that its records keep their order, and compacted, so that it keeps each
// connector's last record. Its writes are idempotent, with acks=all and no linger.
func openConfigLog(ctx context.Context, opts []kgo.Opt, topic string) (*kafkalog.Log[configEntry], error) {
	log, err := kafkalog.Open(ctx, opts, configCodec{}, kafkalog.Options{Topic: kafkalog.CompactedTopic(topic)})
	if err != nil {
		return nil, fmt.Errorf("worker: opening the config topic %s: %w", topic, err)
	}
	return log, nil
}

// putStored writes a connector's record, or its tombstone when s is nil, and returns once the
// brokers have it (acks=all, idempotent producer): a process killed after the call returned
// finds it at its next start.
func putStored(ctx context.Context, log *kafkalog.Log[configEntry], topic, name string, s *storedConnector) error {
	if _, err := log.Write(ctx, configEntry{name: name, stored: s}); err != nil {
		kind := api.ErrUnavailable
		if kafkaDenied(err) {
			kind = fmt.Errorf("%w: Kafka denied cdcd WRITE on the config topic: an ACL is missing (docs/security.md)", api.ErrRefused)
		}
		return fmt.Errorf("%w: worker: writing connector %s to the config topic %s: %w", kind, name, topic, err)
	}
	return nil
}

// readStored reads the config topic from its start to its current end and returns each
// connector's last record: its storedConnector, or the error that made it unreadable. Deleted
// connectors are absent.
func readStored(ctx context.Context, opts []kgo.Opt, topic string) (map[string]storedConnector, map[string]error, error) {
	stored := make(map[string]storedConnector)
	broken := make(map[string]error)
	err := kafkalog.ReadToEnd(ctx, opts, topic, configCodec{}, func(e kafkalog.Entry[configEntry]) error {
		name := e.Value.name
		delete(stored, name)
		delete(broken, name)
		switch {
		case e.Err != nil:
			broken[name] = fmt.Errorf("topic %s offset %d: %w", topic, e.Offset, e.Err)
		case e.Value.stored != nil:
			stored[name] = *e.Value.stored
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("worker: reading the config topic %s: %w", topic, err)
	}
	return stored, broken, nil
}

// kafkaDenied tells whether err is Kafka refusing cdcd's principal an operation, which no
// retry mends.
func kafkaDenied(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}
