package kafkalog

import (
	"bytes"
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/offsets"
)

// The offsets topic as a log: each connector's records hold its position under its
// [offsets.Key]; the pipeline writes them inside its own transactions, the worker through
// [WriteOffset], and both read them back through [ReadOffset].

// offsetEntry is one offset record: key's position, a tombstone when pos is zero.
type offsetEntry struct {
	key offsets.Key
	pos offsets.Position
}

// offsetCodec reads the records of one key, want (from [offsets.Key.Bytes]), and skips the
// others (other connectors share the topic).
type offsetCodec struct {
	want []byte
}

func (c offsetCodec) Encode(e offsetEntry) (key, value []byte, err error) {
	if e.pos.IsZero() {
		return e.key.Bytes(), nil, nil
	}
	value, err = offsets.Value(e.pos)
	return e.key.Bytes(), value, err
}

func (c offsetCodec) Decode(key, value []byte) (offsetEntry, error) {
	if !bytes.Equal(key, c.want) {
		return offsetEntry{}, ErrSkip
	}
	pos, err := offsets.ParseValue(value)
	return offsetEntry{pos: pos}, err
}

// ReadOffset returns the last committed position stored under key in the offsets topic, or the
// zero Position when there is none (or the topic does not exist). kafka configures the Kafka
// client it opens for the read (seed brokers, TLS...); it must not set a group or a
// transactional id. A record under key that is not a Position is an error wrapping
// [offsets.ErrCorrupt]: resuming from a guess would lose or duplicate changes.
//
// It reads as [ReadToEnd] does: up to the end the partition had at the call, once every
// transaction below it is decided. The caller fences its own earlier producer first (the
// pipeline initialises its transactional producer before reading), so its own transactions are
// decided at once; another connector's open transaction ends within its linger when it is alive,
// and by its transaction timeout or its successor's fencing when it is not. A tombstone under
// key (an offset reset) makes the position zero again.
func ReadOffset(ctx context.Context, kafka []kgo.Opt, topic string, key offsets.Key) (offsets.Position, error) {
	var last offsets.Position
	err := ReadToEnd(ctx, kafka, topic, offsetCodec{want: key.Bytes()}, func(e Entry[offsetEntry]) error {
		if e.Err != nil {
			return fmt.Errorf("%w: topic %s offset %d: %w", offsets.ErrCorrupt, topic, e.Offset, e.Err)
		}
		last = e.Value.pos
		return nil
	})
	if err != nil {
		return offsets.Position{}, err
	}
	return last, nil
}

// WriteOffset stores pos as key's offset in the offsets topic, in a Kafka transaction of its
// own under transactionalID, and returns once it is committed; a zero pos writes a tombstone,
// which [ReadOffset] reads as the zero Position (an offset reset). kafka configures the Kafka
// client it opens (seed brokers, TLS...); it must not set a group or a transactional id. The
// topic is created as [CompactedTopic] says when missing.
//
// transactionalID must be the connector's own (the pipeline's): initialising it bumps the
// producer epoch, which aborts what a running or zombie pipeline of the connector left open
// and fences it, so no older producer commits a position after this one.
func WriteOffset(ctx context.Context, kafka []kgo.Opt, topic, transactionalID string, key offsets.Key, pos offsets.Position) error {
	log, err := Open(ctx, kafka, offsetCodec{}, Options{Topic: CompactedTopic(topic), TransactionalID: transactionalID})
	if err != nil {
		return fmt.Errorf("kafkalog: opening the offsets topic %s: %w", topic, err)
	}
	defer log.Close()
	if _, err := log.Write(ctx, offsetEntry{key: key, pos: pos}); err != nil {
		return fmt.Errorf("kafkalog: writing the offset of %s: %w", key.Connector, err)
	}
	return nil
}
