package json

import (
	stdjson "encoding/json"
	"fmt"
	"sync"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/transform"
)

// An outbox event (transform.ShapeOutbox) is written as Debezium's outbox event router and
// JsonConverter write it: the key is the key column's value alone, the value the payload
// column's value alone, or a struct of "payload" and the envelope fields; with schemas, each in
// {"schema", "payload"} with the column's Connect schema. An expanded JSON payload
// (table.expand.json.payload) is written as the JSON it holds, with value schemas off only:
// JsonConverter's schema of an expanded payload is inferred from each value, which this format
// does not do.

// outboxKey says which codec an outbox record needs.
type outboxKey struct {
	table *decoder.Table
	topic string
	shape *transform.OutboxShape
}

// outboxCodec writes the outbox events of one table version, topic and shape.
type outboxCodec struct {
	topic                  string
	key                    *colPlan
	payload                colPlan
	env                    []colPlan // named by their aliases
	keySchema, valueSchema []byte
	numeric                bool
}

// outboxCodecs caches the outbox codecs of an Encoder.
type outboxCodecs struct {
	mu     sync.RWMutex
	codecs map[outboxKey]*outboxCodec
}

func (e *Encoder) encodeOutbox(rec *transform.Record) (topic string, key, value []byte, err error) {
	c, s := rec.Change, rec.Outbox
	if s == nil {
		return "", nil, nil, fmt.Errorf("json: encode: %w: outbox record without its shape", errBadValue)
	}
	cd, err := e.outboxCodec(outboxKey{table: c.Table, topic: rec.Topic, shape: s})
	if err != nil {
		return "", nil, nil, err
	}
	row := c.After
	if len(row) != len(c.Table.Columns) {
		return "", nil, nil, fmt.Errorf("json: outbox: %w: row has %d values for %d columns", errBadValue, len(row), len(c.Table.Columns))
	}
	if cd.key != nil {
		if e.opts.KeySchemas {
			key = append(append(append(key, `{"schema":`...), cd.keySchema...), `,"payload":`...)
		}
		if key, err = cd.key.append(key, &row[cd.key.index], false, cd.numeric); err != nil {
			return "", nil, nil, fmt.Errorf("json: outbox key %q: %w", cd.key.col.Name, err)
		}
		if e.opts.KeySchemas {
			key = append(key, '}')
		}
	}
	if rec.Tombstone == transform.TombstoneOnly {
		return cd.topic, key, nil, nil
	}
	value = make([]byte, 0, len(row[cd.payload.index].Bytes)+len(cd.valueSchema)+64)
	if e.opts.ValueSchemas {
		value = append(append(append(value, `{"schema":`...), cd.valueSchema...), `,"payload":`...)
	}
	if len(cd.env) > 0 {
		value = append(append(value, '{'), cd.payload.name...)
	}
	if value, err = cd.appendPayload(value, &row[cd.payload.index], s.ExpandJSON); err != nil {
		return "", nil, nil, fmt.Errorf("json: outbox payload %q: %w", cd.payload.col.Name, err)
	}
	for i := range cd.env {
		f := &cd.env[i]
		if value, err = f.append(append(append(value, ','), f.name...), &row[f.index], false, cd.numeric); err != nil {
			return "", nil, nil, fmt.Errorf("json: outbox field %q: %w", f.col.Name, err)
		}
	}
	if len(cd.env) > 0 {
		value = append(value, '}')
	}
	if e.opts.ValueSchemas {
		value = append(value, '}')
	}
	return cd.topic, key, value, nil
}

// appendPayload writes the payload; expanded, a JSON text is written as the JSON it holds (a
// text that is not JSON stays a string, as Debezium leaves it).
func (cd *outboxCodec) appendPayload(dst []byte, v *decoder.Value, expand bool) ([]byte, error) {
	if expand && v.State == decoder.ValueSet && stdjson.Valid(v.Bytes) {
		return append(dst, v.Bytes...), nil
	}
	return cd.payload.append(dst, v, false, cd.numeric)
}

func (e *Encoder) outboxCodec(k outboxKey) (*outboxCodec, error) {
	e.outbox.mu.RLock()
	cd := e.outbox.codecs[k]
	e.outbox.mu.RUnlock()
	if cd != nil {
		return cd, nil
	}
	cd, err := e.newOutboxCodec(k)
	if err != nil {
		return nil, err
	}
	e.outbox.mu.Lock()
	defer e.outbox.mu.Unlock()
	if e.outbox.codecs == nil {
		e.outbox.codecs = map[outboxKey]*outboxCodec{}
	}
	if prev := e.outbox.codecs[k]; prev != nil {
		return prev, nil
	}
	e.outbox.codecs[k] = cd
	return cd, nil
}

func (e *Encoder) newOutboxCodec(k outboxKey) (*outboxCodec, error) {
	t, s := k.table, k.shape
	label := t.Namespace + "." + t.Name
	col := func(i int, what string) (colPlan, error) {
		if i < 0 || i >= len(t.Columns) {
			return colPlan{}, fmt.Errorf("%w: table %s: outbox %s column %d out of range", errSchema, label, what, i)
		}
		cp, err := e.planColumn(&t.Columns[i], i)
		if err != nil {
			return colPlan{}, fmt.Errorf("%w: table %s column %q (%s): %w", errSchema, label, t.Columns[i].Name, t.Columns[i].SourceType, err)
		}
		return cp, nil
	}
	cd := &outboxCodec{topic: k.topic, numeric: e.opts.DecimalNumeric}
	if cd.topic == "" {
		cd.topic = transform.DefaultTopic(e.cfg.TopicPrefix, t.Namespace, t.Name)
	}
	if s.ExpandJSON && e.opts.ValueSchemas {
		return nil, fmt.Errorf("%w: table %s: the outbox router's %s needs %s=false (the schema of an expanded payload is not inferred)",
			errSchema, label, transform.OutboxExpandJSONPayload, SettingValueSchemas)
	}
	if s.Key >= 0 {
		kp, err := col(s.Key, "key")
		if err != nil {
			return nil, err
		}
		cd.key = &kp
		cd.keySchema, _ = typeSchema(nil, kp.col, cd.numeric)
	}
	var err error
	if cd.payload, err = col(s.Payload, "payload"); err != nil {
		return nil, err
	}
	cd.payload.name = append(quote(transform.OutboxPayloadField), ':')
	if len(s.Envelope) == 0 {
		cd.valueSchema, _ = typeSchema(nil, cd.payload.col, cd.numeric)
		return cd, nil
	}
	vs := []byte(`{"type":"struct","fields":[`)
	vs, _ = typeSchema(vs, cd.payload.col, cd.numeric)
	vs = append(appendString(append(vs[:len(vs)-1], `,"field":`...), transform.OutboxPayloadField), '}')
	for _, f := range s.Envelope {
		cp, err := col(f.Column, "envelope")
		if err != nil {
			return nil, err
		}
		cp.name = append(quote(f.Name), ':')
		cd.env = append(cd.env, cp)
		vs, _ = typeSchema(append(vs, ','), cp.col, cd.numeric)
		vs = append(appendString(append(vs[:len(vs)-1], `,"field":`...), f.Name), '}')
	}
	vs = append(vs, `],"optional":false,"name":`...)
	cd.valueSchema = append(appendString(vs, cd.topic+".Value"), '}')
	return cd, nil
}
