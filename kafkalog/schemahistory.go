package kafkalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file reads the MySQL source's schema history back (the source contract's
// HistoryReader). The pipeline writes the history, in the Kafka transactions of the changes
// around it, and creates its topic from the source's declaration; the source decodes and
// checks the records. The history is one more log read to its stable end with [ReadToEnd],
// through a codec that hands the records over as they are.

// SchemaHistoryReader reads a schema history topic as a read_committed consumer, to the stable
// end; it implements connectors.HistoryReader. Each read uses a Kafka client of its own,
// closed when the read returns.
type SchemaHistoryReader struct {
	opts []kgo.Opt
}

// NewSchemaHistoryReader returns a reader whose Kafka clients use opts: the daemon's one set
// of client options (seed brokers, TLS, SASL). They must not set a transactional ID, a
// consumer group or topics to consume.
func NewSchemaHistoryReader(opts ...kgo.Opt) *SchemaHistoryReader {
	return &SchemaHistoryReader{opts: append([]kgo.Opt(nil), opts...)}
}

// historyRecord is a schema history record as the topic holds it.
type historyRecord struct{ key, value []byte }

// historyCodec reads the records of the schema history as they are: the source decodes them.
type historyCodec struct{}

func (historyCodec) Encode(r historyRecord) (key, value []byte, err error) {
	return r.key, r.value, nil
}
func (historyCodec) Decode(key, value []byte) (historyRecord, error) {
	return historyRecord{key: key, value: value}, nil
}

// ReadHistory calls fn with the offset, key and value of each committed record of partition 0
// of topic, in order, up to the end the partition has when the read begins, once every
// transaction below it is decided (the source reads after the pipeline's producer fenced the
// previous owner, whose open transaction is then aborted). A missing or emptied topic reads as
// empty: the source then says that no history precedes its resume position. An error of fn
// ends the read and is returned as it is.
func (r *SchemaHistoryReader) ReadHistory(ctx context.Context, topic string, fn func(offset int64, key, value []byte) error) error {
	var fnErr error
	err := ReadToEnd(ctx, r.opts, topic, historyCodec{}, func(e Entry[historyRecord]) error {
		if fnErr = fn(e.Offset, e.Value.key, e.Value.value); fnErr != nil {
			return fnErr
		}
		return nil
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil && errors.Is(err, fnErr):
		return err
	default:
		return fmt.Errorf("reading the schema history topic %s: %w", topic, err)
	}
}
