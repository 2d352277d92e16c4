package avro

import (
	"context"
	"fmt"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

// Transaction metadata (format/txmeta.go): the envelope's transaction block and the records
// of the transaction topic, written as Debezium's AvroConverter writes them.

// The record names of the transaction topic's schemas, Debezium's.
const (
	TransactionKeyName   = "io.debezium.connector.common.TransactionMetadataKey"
	TransactionValueName = "io.debezium.connector.common.TransactionMetadataValue"
)

// transactionKeySchema is Debezium's TransactionMetadataKey as AvroConverter writes it.
func transactionKeySchema() obj {
	return obj{
		{"type", "record"},
		{"name", "TransactionMetadataKey"},
		{"namespace", "io.debezium.connector.common"},
		{"fields", []any{obj{{"name", "id"}, {"type", "string"}}}},
		{"connect.version", 1},
		{"connect.name", TransactionKeyName},
	}
}

// transactionValueSchema is Debezium's TransactionMetadataValue as AvroConverter writes it:
// Debezium declares the array's items an optional struct, hence the union in items.
func transactionValueSchema() obj {
	collection := obj{
		{"type", "record"},
		{"name", "collection"},
		{"namespace", "event"},
		{"fields", []any{
			obj{{"name", "data_collection"}, {"type", "string"}},
			obj{{"name", "event_count"}, {"type", "long"}},
		}},
		{"connect.version", 1},
		{"connect.name", "event.collection"},
	}
	return obj{
		{"type", "record"},
		{"name", "TransactionMetadataValue"},
		{"namespace", "io.debezium.connector.common"},
		{"fields", []any{
			obj{{"name", "status"}, {"type", "string"}},
			obj{{"name", "id"}, {"type", "string"}},
			optionalField("event_count", "long"),
			optionalField("data_collections", obj{{"type", "array"}, {"items", []any{"null", collection}}}),
			obj{{"name", "ts_ms"}, {"type", "long"}},
		}},
		{"connect.version", 1},
		{"connect.name", TransactionValueName},
	}
}

// txCodec holds the registered ids of the transaction topic's schemas.
type txCodec struct {
	topic          string
	keyID, valueID int
}

// EncodeTransactionEvent returns the topic, key and value of ev, a record of the transaction
// topic. The first call checks and registers the topic's schemas (subjects by the encoder's
// strategy), blocking on the registry; errors are as Encode's. The returned slices are the
// caller's.
func (e *Encoder) EncodeTransactionEvent(ctx context.Context, ev *format.TransactionEvent) (topic string, key, value []byte, err error) {
	if ev == nil || (ev.Status != format.TransactionBegin && ev.Status != format.TransactionEnd) || ev.ID == "" {
		return "", nil, nil, fmt.Errorf("avro: encode transaction event: %w: want a BEGIN or END with an id", ErrBadValue)
	}
	tc, err := e.transactionCodec(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	key = appendString(appendHeader(make([]byte, 0, 8+len(ev.ID)), tc.keyID), ev.ID)
	value = appendHeader(make([]byte, 0, 64+len(ev.ID)+32*len(ev.DataCollections)), tc.valueID)
	value = appendString(value, string(ev.Status))
	value = appendString(value, ev.ID)
	if ev.Status == format.TransactionBegin {
		value = append(value, 0, 0) // event_count, data_collections: null
	} else {
		value = appendLong(append(value, 2), ev.EventCount)
		if ev.DataCollections == nil {
			value = append(value, 0)
		} else {
			value = append(value, 2)
			if n := len(ev.DataCollections); n > 0 {
				value = appendLong(value, int64(n))
				for _, dc := range ev.DataCollections {
					value = appendString(append(value, 2), dc.DataCollection) // items: branch 1
					value = appendLong(value, dc.EventCount)
				}
			}
			value = append(value, 0) // end of the array
		}
	}
	ts := ev.Time
	if ts.IsZero() {
		ts = e.cfg.now()
	}
	return tc.topic, key, appendLong(value, ts.UnixMilli()), nil
}

// transactionCodec returns the transaction topic's codec, registering its schemas at the
// first call.
func (e *Encoder) transactionCodec(ctx context.Context) (*txCodec, error) {
	e.mu.RLock()
	tc := e.txCodec
	e.mu.RUnlock()
	if tc != nil {
		return tc, nil
	}
	e.regMu.Lock()
	defer e.regMu.Unlock()
	e.mu.RLock()
	tc = e.txCodec
	e.mu.RUnlock()
	if tc != nil {
		return tc, nil
	}
	tc = &txCodec{topic: format.TransactionTopic(e.cfg.topicPrefix)}
	// The checks and errors name the topic as if it were a table <prefix>.transaction.
	label := &decoder.Table{Namespace: e.cfg.topicPrefix, Name: "transaction", Version: 1}
	keyJSON, keySchema, err := marshalParse(transactionKeySchema())
	if err != nil {
		return nil, fmt.Errorf("%w: transaction key: %w", ErrSchema, err)
	}
	valueJSON, valueSchema, err := marshalParse(transactionValueSchema())
	if err != nil {
		return nil, fmt.Errorf("%w: transaction value: %w", ErrSchema, err)
	}
	keyReg, err := e.prepare(ctx, label, e.cfg.keyStrategy.Subject(tc.topic, PartKey, TransactionKeyName), keyJSON, keySchema)
	if err != nil {
		return nil, err
	}
	valueReg, err := e.prepare(ctx, label, e.cfg.strategy.Subject(tc.topic, PartValue, TransactionValueName), valueJSON, valueSchema)
	if err != nil {
		return nil, err
	}
	if tc.keyID, err = keyReg(ctx); err != nil {
		return nil, err
	}
	if tc.valueID, err = valueReg(ctx); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.txCodec = tc
	e.mu.Unlock()
	return tc, nil
}

// TransactionSchemas returns the texts of the transaction topic's key and value schemas, as
// registered.
func TransactionSchemas() (keyJSON, valueJSON string, err error) {
	if keyJSON, _, err = marshalParse(transactionKeySchema()); err != nil {
		return "", "", fmt.Errorf("%w: transaction key: %w", ErrSchema, err)
	}
	if valueJSON, _, err = marshalParse(transactionValueSchema()); err != nil {
		return "", "", fmt.Errorf("%w: transaction value: %w", ErrSchema, err)
	}
	return keyJSON, valueJSON, nil
}

// EncodeRecordInTransaction is EncodeRecord with the envelope's transaction block filled from
// tx (nil: null, as EncodeRecord writes it). A ShapeFlat value has no transaction field and
// ignores tx, as Debezium's ExtractNewRecordState drops the block.
func (e *Encoder) EncodeRecordInTransaction(ctx context.Context, rec *transform.Record, tx *format.TransactionBlock) (topic string, key, value []byte, err error) {
	if rec == nil || rec.Change == nil || rec.Change.Table == nil {
		return "", nil, nil, fmt.Errorf("avro: encode: %w: record without change or table", ErrBadValue)
	}
	if rec.Shape == transform.ShapeOutbox {
		return e.encodeOutbox(ctx, rec)
	}
	k := codecKey{table: rec.Change.Table, topic: rec.Topic, shape: rec.Shape}
	if rec.Shape == transform.ShapeFlat {
		k.fields = rec.Fields
	}
	return e.encode(ctx, k, rec.Change, rec.Tombstone, tx)
}

// appendTransaction writes the envelope's transaction field.
func appendTransaction(dst []byte, tx *format.TransactionBlock) []byte {
	if tx == nil {
		return append(dst, 0)
	}
	dst = appendString(append(dst, 2), tx.ID)
	dst = appendLong(dst, tx.TotalOrder)
	return appendLong(dst, tx.DataCollectionOrder)
}
