package offsets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopic is the default name of the offsets topic.
const DefaultTopic = "_cdcd_offsets"

// ErrCorrupt means a record of the offsets topic under the connector's key holds a value that
// is not a Position. Resuming from a guess would lose or duplicate changes, so it is an error.
var ErrCorrupt = errors.New("offsets: corrupt offset record")

// Key names whose position an offset record holds: a connector and its source partition.
type Key struct {
	// Connector is the connector's name.
	Connector string
	// Server is the connector's topic prefix, its logical server name.
	Server string
}

// keyServer is the source partition of a Key, in Kafka Connect's field name.
type keyServer struct {
	Server string `json:"server"`
}

// Bytes returns the record key: JSON ["<connector>",{"server":"<server>"}], the shape Kafka
// Connect uses for source offsets, so that its offset tooling (KIP-875) reads ours.
func (k Key) Bytes() []byte {
	// Marshalling a string and a struct of one string cannot fail.
	b, _ := json.Marshal([]any{k.Connector, keyServer{Server: k.Server}})
	return b
}

// Record returns the offset record of a Kafka transaction: in topic, under key (from
// [Key.Bytes]), with pos as JSON. The pipeline produces it as the last record of each
// transaction, so that the position commits or aborts with the records it covers.
func Record(topic string, key []byte, pos Position) (*kgo.Record, error) {
	value, err := json.Marshal(pos)
	if err != nil {
		return nil, fmt.Errorf("offsets: encoding position %s: %w", pos, err)
	}
	return &kgo.Record{Topic: topic, Key: key, Value: value}, nil
}

// ValidTopic applies Kafka's rule for topic names: 1 to 249 characters of [a-zA-Z0-9._-], not
// "." or "..". Every topic cdcd names (data, offsets, dead-letter, heartbeat, history) is checked
// with it before the broker is asked.
func ValidTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// EnsureTopic creates the offsets topic if it does not exist: one partition, so that one
// read finds a connector's last offset, and compacted, so that it keeps only the last offset
// of each key. An existing topic is left as it is.
func EnsureTopic(ctx context.Context, client *kgo.Client, topic string) error {
	compact := "compact"
	_, err := kadm.NewClient(client).CreateTopic(ctx, 1, -1,
		map[string]*string{"cleanup.policy": &compact}, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("offsets: creating topic %s: %w", topic, err)
	}
	return nil
}

// ReadCommitted returns the last committed position stored under key in topic, or the zero
// Position when there is none (or the topic does not exist). opts configure the Kafka client
// it opens for the read (seed brokers, TLS...); they must not set a group or a transactional
// ID.
//
// It lists the partition's end (high watermark) first, waits until every transaction below it
// is decided (the last stable offset has reached it), then reads with isolation read_committed
// from the start up to it, so it does not wait for records written after the call. The waiting
// matters because connectors share the partition: reading only up to the current stable offset
// would stop at another connector's open transaction and miss this connector's later commits,
// and resuming from that older offset would write its changes twice. The caller fences its own
// earlier producer first (the pipeline initialises its transactional producer before reading),
// so its own transactions are decided at once; another connector's open transaction ends within
// its linger when it is alive, and by its transaction timeout or its successor's fencing when it
// is not. A tombstone under key (an offset reset) makes the position zero again.
func ReadCommitted(ctx context.Context, opts []kgo.Opt, topic string, key Key) (Position, error) {
	all := make([]kgo.Opt, 0, len(opts)+3)
	all = append(all, opts...)
	all = append(all,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (the commit and abort markers) are kept so that the read sees the
		// offset just before the end even when the log ends with a marker or aborted records.
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			topic: {0: kgo.NewOffset().AtStart()},
		}),
	)
	client, err := kgo.NewClient(all...)
	if err != nil {
		return Position{}, fmt.Errorf("offsets: creating a Kafka client: %w", err)
	}
	defer client.Close()

	end, err := endOffset(ctx, client, topic)
	if err != nil || end == 0 {
		return Position{}, err
	}
	if err := waitStable(ctx, kadm.NewClient(client), topic, end); err != nil {
		return Position{}, err
	}

	want := key.Bytes()
	var last Position
	for {
		fetches := client.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			return Position{}, fmt.Errorf("offsets: reading topic %s: %w", topic, err)
		}
		for _, err := range fetches.Errors() {
			return Position{}, fmt.Errorf("offsets: reading topic %s partition %d: %w",
				err.Topic, err.Partition, err.Err)
		}
		done := false
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			if r.Offset >= end-1 {
				done = true
			}
			if r.Offset >= end || r.Attrs.IsControl() || string(r.Key) != string(want) {
				continue
			}
			if r.Value == nil {
				last = Position{}
				continue
			}
			var p Position
			if err := json.Unmarshal(r.Value, &p); err != nil {
				return Position{}, fmt.Errorf("%w: topic %s offset %d: %w", ErrCorrupt, topic, r.Offset, err)
			}
			last = p
		}
		if done {
			return last, nil
		}
	}
}

// waitStable polls the last stable offset of partition 0 of topic until it reaches end, that is
// until no transaction below end is still open.
func waitStable(ctx context.Context, adm *kadm.Client, topic string, end int64) error {
	pause := 10 * time.Millisecond
	for {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return fmt.Errorf("offsets: listing the stable end of topic %s: %w", topic, err)
		}
		if o, ok := stable.Lookup(topic, 0); ok && o.Err == nil && o.Offset >= end {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("offsets: waiting for the open transactions of topic %s to end: %w", topic, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// endOffset returns the high watermark of partition 0 of topic, 0 when the topic does not
// exist or holds nothing any more.
func endOffset(ctx context.Context, client *kgo.Client, topic string) (int64, error) {
	adm := kadm.NewClient(client)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("offsets: listing the end of topic %s: %w", topic, err)
	}
	if _, ok := ends.Lookup(topic, -1); ok {
		return 0, nil // the topic does not exist: no offset stored yet
	}
	end, ok := ends.Lookup(topic, 0)
	if !ok {
		return 0, fmt.Errorf("offsets: topic %s has no partition 0", topic)
	}
	if end.Err != nil {
		return 0, fmt.Errorf("offsets: listing the end of topic %s: %w", topic, end.Err)
	}
	if end.Offset <= 0 {
		return 0, nil
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("offsets: listing the start of topic %s: %w", topic, err)
	}
	if start, ok := starts.Lookup(topic, 0); ok && start.Err == nil && start.Offset >= end.Offset {
		return 0, nil // everything was deleted
	}
	return end.Offset, nil
}

// Write stores pos as key's offset in topic, in a Kafka transaction of its own under
// transactionalID, and returns once it is committed; a zero pos writes a tombstone, which
// [ReadCommitted] reads as the zero Position (an offset reset). opts configure the Kafka
// client it opens (seed brokers, TLS...); they must not set a group or a transactional ID.
// The topic is created as [EnsureTopic] does when missing.
//
// transactionalID must be the connector's own (the pipeline's): initialising it bumps the
// producer epoch, which aborts what a running or zombie pipeline of the connector left open
// and fences it, so no older producer commits a position after this one.
func Write(ctx context.Context, opts []kgo.Opt, topic, transactionalID string, key Key, pos Position) error {
	all := make([]kgo.Opt, 0, len(opts)+1)
	all = append(all, opts...)
	all = append(all, kgo.TransactionalID(transactionalID))
	client, err := kgo.NewClient(all...)
	if err != nil {
		return fmt.Errorf("offsets: creating a Kafka client: %w", err)
	}
	defer client.Close()

	if _, _, err := client.ProducerID(ctx); err != nil {
		return fmt.Errorf("offsets: initialising the transactional producer %s: %w", transactionalID, err)
	}
	if err := EnsureTopic(ctx, client, topic); err != nil {
		return err
	}
	rec := &kgo.Record{Topic: topic, Key: key.Bytes()}
	if !pos.IsZero() {
		if rec, err = Record(topic, rec.Key, pos); err != nil {
			return err
		}
	}
	if err := client.BeginTransaction(); err != nil {
		return fmt.Errorf("offsets: beginning a transaction: %w", err)
	}
	if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
		// The abort is best effort: the next InitProducerID of this ID aborts it anyway.
		abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = client.EndTransaction(abortCtx, kgo.TryAbort)
		cancel()
		return fmt.Errorf("offsets: writing the offset of %s: %w", key.Connector, err)
	}
	if err := client.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("offsets: committing the offset of %s: %w", key.Connector, err)
	}
	return nil
}
