package avro

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/transform"
)

// An outbox event (transform.ShapeOutbox) is written as Debezium's outbox event router and
// AvroConverter write it: the key is the key column's value alone (its Avro type, a union with
// null when the column is optional), the value the payload column's value alone, or a record
// <topic>.Value of "payload" and the envelope fields. Subjects follow the subject strategy with
// the record names <topic>.Key and <topic>.Value. An expanded JSON payload
// (table.expand.json.payload) needs a schema inferred from each payload, which this format
// does not do: such a record fails with ErrSchema (use the json format).

// outboxKey says which codec an outbox record needs.
type outboxKey struct {
	table *decoder.Table
	topic string
	shape *transform.OutboxShape
}

// outboxCodec writes the outbox events of one table version, topic and shape.
type outboxCodec struct {
	topic          string
	keyID, valueID int
	key            *colPlan
	value          []colPlan // the payload, then the envelope fields
}

// outboxCodecs caches the outbox codecs of an Encoder.
type outboxCodecs struct {
	mu     sync.RWMutex
	codecs map[outboxKey]*outboxCodec
}

func (e *Encoder) encodeOutbox(ctx context.Context, rec *transform.Record) (topic string, key, value []byte, err error) {
	c, s := rec.Change, rec.Outbox
	if s == nil {
		return "", nil, nil, fmt.Errorf("avro: encode: %w: outbox record without its shape", ErrBadValue)
	}
	oc, err := e.outboxCodec(ctx, outboxKey{table: c.Table, topic: rec.Topic, shape: s})
	if err != nil {
		return "", nil, nil, err
	}
	row := c.After
	if len(row) != len(c.Table.Columns) {
		return "", nil, nil, fmt.Errorf("avro: outbox: %w: row has %d values for %d columns", ErrBadValue, len(row), len(c.Table.Columns))
	}
	if oc.key != nil {
		key = appendHeader(make([]byte, 0, 64), oc.keyID)
		if key, err = oc.key.append(key, &row[oc.key.index], nullsRejected); err != nil {
			return "", nil, nil, fmt.Errorf("avro: outbox key %q: %w", oc.key.col.Name, err)
		}
	}
	if rec.Tombstone == transform.TombstoneOnly {
		return oc.topic, key, nil, nil
	}
	value = appendHeader(make([]byte, 0, 64+len(row[oc.value[0].index].Bytes)), oc.valueID)
	for i := range oc.value {
		cp := &oc.value[i]
		if value, err = cp.append(value, &row[cp.index], nullsRejected); err != nil {
			return "", nil, nil, fmt.Errorf("avro: outbox field %q: %w", cp.col.Name, err)
		}
	}
	return oc.topic, key, value, nil
}

func (e *Encoder) outboxCodec(ctx context.Context, k outboxKey) (*outboxCodec, error) {
	e.outbox.mu.RLock()
	oc := e.outbox.codecs[k]
	e.outbox.mu.RUnlock()
	if oc != nil {
		return oc, nil
	}
	e.regMu.Lock()
	defer e.regMu.Unlock()
	e.outbox.mu.RLock()
	oc = e.outbox.codecs[k]
	e.outbox.mu.RUnlock()
	if oc != nil {
		return oc, nil
	}
	oc, err := e.newOutboxCodec(ctx, k)
	if err != nil {
		return nil, err
	}
	e.outbox.mu.Lock()
	if e.outbox.codecs == nil {
		e.outbox.codecs = map[outboxKey]*outboxCodec{}
	}
	e.outbox.codecs[k] = oc
	e.outbox.mu.Unlock()
	return oc, nil
}

func (e *Encoder) newOutboxCodec(ctx context.Context, k outboxKey) (*outboxCodec, error) {
	t, s := k.table, k.shape
	label := t.Namespace + "." + t.Name
	if s.ExpandJSON {
		return nil, fmt.Errorf("%w: table %s: the outbox router's %s is not supported by the avro format (use json)",
			ErrSchema, label, transform.OutboxExpandJSONPayload)
	}
	oc := &outboxCodec{topic: k.topic}
	if oc.topic == "" {
		oc.topic = transform.DefaultTopic(e.cfg.topicPrefix, t.Namespace, t.Name)
	}
	b := &builder{defined: map[string]bool{}, modes: e.cfg.modes}
	col := func(i int, what string) (colPlan, any, error) {
		if i < 0 || i >= len(t.Columns) {
			return colPlan{}, nil, fmt.Errorf("%w: table %s: outbox %s column %d out of range", ErrSchema, label, what, i)
		}
		c := &t.Columns[i]
		cp, err := planColumn(c, e.cfg.placeholder, e.cfg.modes)
		if err != nil {
			return colPlan{}, nil, fmt.Errorf("%w: table %s column %q (%s): %w", ErrSchema, label, c.Name, c.SourceType, err)
		}
		cp.index = i
		// A lone value has no field default: an optional one is the plain union with null first.
		cp.setBranch, cp.nullBranch = 2, 0
		typ, err := b.columnType(c)
		if err != nil {
			return colPlan{}, nil, fmt.Errorf("%w: table %s column %q: %w", ErrSchema, label, c.Name, err)
		}
		if c.Optional {
			typ = []any{"null", typ}
		}
		return cp, typ, nil
	}
	var keyReg func(context.Context) (int, error)
	if s.Key >= 0 {
		kp, typ, err := col(s.Key, "key")
		if err != nil {
			return nil, err
		}
		oc.key = &kp
		text, parsed, err := marshalAny(typ)
		if err != nil {
			return nil, fmt.Errorf("%w: outbox key of %s: %w", ErrSchema, label, err)
		}
		if keyReg, err = e.prepare(ctx, t, e.cfg.strategy.Subject(oc.topic, PartKey, oc.topic+".Key"), text, parsed); err != nil {
			return nil, err
		}
	}
	pp, ptyp, err := col(s.Payload, "payload")
	if err != nil {
		return nil, err
	}
	oc.value = append(oc.value, pp)
	valueType := ptyp
	if len(s.Envelope) > 0 {
		ns, name := splitFullName(sanitizeFullName(oc.topic) + ".Value")
		fields := []any{obj{{"name", transform.OutboxPayloadField}, {"type", ptyp}}}
		for _, f := range s.Envelope {
			cp, typ, err := col(f.Column, "envelope")
			if err != nil {
				return nil, err
			}
			oc.value = append(oc.value, cp)
			fields = append(fields, obj{{"name", sanitizeName(f.Name)}, {"type", typ}})
		}
		valueType = obj{{"type", "record"}, {"name", name}, {"namespace", ns}, {"fields", fields},
			{"connect.name", ns + "." + name}}
	}
	text, parsed, err := marshalAny(valueType)
	if err != nil {
		return nil, fmt.Errorf("%w: outbox value of %s: %w", ErrSchema, label, err)
	}
	valueReg, err := e.prepare(ctx, t, e.cfg.strategy.Subject(oc.topic, PartValue, oc.topic+".Value"), text, parsed)
	if err != nil {
		return nil, err
	}
	if keyReg != nil {
		if oc.keyID, err = keyReg(ctx); err != nil {
			return nil, err
		}
	}
	if oc.valueID, err = valueReg(ctx); err != nil {
		return nil, err
	}
	return oc, nil
}

// marshalAny renders a schema of any form (a type name, a union, an object) and parses it.
func marshalAny(s any) (string, avro.Schema, error) {
	text, err := json.Marshal(s)
	if err != nil {
		return "", nil, err
	}
	parsed, err := avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return "", nil, err
	}
	return string(text), parsed, nil
}

// splitFullName splits a dotted Avro full name into its namespace and name.
func splitFullName(full string) (ns, name string) {
	for i := len(full) - 1; i >= 0; i-- {
		if full[i] == '.' {
			return full[:i], full[i+1:]
		}
	}
	return "", full
}
