package json

import (
	"fmt"

	"github.com/cdcd-dev/cdcd/transform"
)

// The Connect schemas of the transaction topic's key and value, as EncodeTransactionEvent
// writes them with schemas enabled.
const (
	TransactionKeySchema   = txKeySchema
	TransactionValueSchema = txValueSchema
)

// ConnectSchemas returns the Connect schemas (JsonConverter's JSON) of rec's key and value, as
// EncodeRecord writes them with schemas enabled; key is nil for a table without a key. They are
// what a format that describes the same payloads another way (json-registry) derives its own
// schemas from. The slices are the encoder's, the same for every record of a table version,
// topic and shape: the caller must not change them, and may key a cache on their address.
func (e *Encoder) ConnectSchemas(rec *transform.Record) (key, value []byte, err error) {
	if rec == nil || rec.Change == nil || rec.Change.Table == nil {
		return nil, nil, fmt.Errorf("json: schemas: %w: record without change or table", errBadValue)
	}
	if rec.Shape == transform.ShapeOutbox {
		return nil, nil, fmt.Errorf("%w: table %s.%s: an outbox event's schema is not derived here", errSchema,
			rec.Change.Table.Namespace, rec.Change.Table.Name)
	}
	k := codecKey{table: rec.Change.Table, topic: rec.Topic, shape: rec.Shape}
	if rec.Shape == transform.ShapeFlat {
		k.fields = rec.Fields
	}
	cd, err := e.codec(k)
	if err != nil {
		return nil, nil, err
	}
	return cd.keySchema, cd.valueSchema, nil
}
