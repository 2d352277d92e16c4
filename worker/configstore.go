package worker

import (
	"context"

	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// configStore keeps the connectors' configurations and target states: the config topic
// (kafkaStore) or, for a daemon whose connectors all come from its config file, memory
// (memStore, see [InMemoryConfigs]). The manager calls it with the connector's op held, so
// calls for one connector never overlap.
type configStore interface {
	// load returns each connector's last record, and the error of each whose record is
	// unreadable; deleted connectors are absent. It blocks until the store is read (or ctx
	// ends), and is called once, before any put.
	load(ctx context.Context) (stored map[string]storedConnector, broken map[string]error, err error)
	// put writes a connector's record, or its tombstone when s is nil, and returns once the
	// store keeps it for as long as it keeps anything: a process killed after the call
	// returned finds a Kafka-stored record at its next start. An error wraps
	// api.ErrUnavailable when the store could not be reached.
	put(ctx context.Context, name string, s *storedConnector) error
	// close releases the store's resources.
	close()
}

// kafkaStore is the config topic: a compacted topic with one partition, a log of configCodec
// records (see store.go).
type kafkaStore struct {
	// opts are the options of every Kafka client of the manager; the reads use a client of
	// their own.
	opts  []kgo.Opt
	topic string
	// log writes the config topic: idempotent, acks=all, no linger.
	log *kafkalog.Log[configEntry]
}

var _ configStore = (*kafkaStore)(nil)

// newKafkaStore opens the config topic topic, reached with opts, creating it when missing.
func newKafkaStore(ctx context.Context, opts []kgo.Opt, topic string) (*kafkaStore, error) {
	log, err := openConfigLog(ctx, opts, topic)
	if err != nil {
		return nil, err
	}
	return &kafkaStore{opts: opts, topic: topic, log: log}, nil
}

// load reads the config topic to its end.
func (s *kafkaStore) load(ctx context.Context) (map[string]storedConnector, map[string]error, error) {
	return readStored(ctx, s.opts, s.topic)
}

func (s *kafkaStore) put(ctx context.Context, name string, sc *storedConnector) error {
	return putStored(ctx, s.log, s.topic, name, sc)
}

func (s *kafkaStore) close() { s.log.Close() }
