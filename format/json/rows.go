package json

import (
	"context"
	"fmt"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

// EncodeRows returns the topic and key of rec as EncodeRecord does, and its change event's rows
// alone: {"before": ..., "after": ...} (a truncate's both null), without schema, as another
// format carries them (CloudEvents' data). rows is nil for a delete whose rec.Tombstone is
// transform.TombstoneOnly. rec must have the envelope shape.
func (e *Encoder) EncodeRows(_ context.Context, rec *transform.Record) (topic string, key, rows []byte, err error) {
	if rec == nil || rec.Change == nil || rec.Change.Table == nil {
		return "", nil, nil, fmt.Errorf("json: encode: %w: record without change or table", errBadValue)
	}
	if rec.Shape != transform.ShapeEnvelope {
		return "", nil, nil, fmt.Errorf("%w: table %s.%s: the rows of an event are only written in the envelope shape",
			errSchema, rec.Change.Table.Namespace, rec.Change.Table.Name)
	}
	c := rec.Change
	if b := c.Source.Block; b != nil && b != e.cfg.Source {
		return "", nil, nil, fmt.Errorf("json: encode: %w: a change of source kind %s to an encoder of %s",
			errBadValue, b.Connector, e.cfg.Source.Connector)
	}
	cd, err := e.codec(codecKey{table: c.Table, topic: rec.Topic, shape: rec.Shape})
	if err != nil {
		return "", nil, nil, err
	}
	if key, err = e.key(cd, c); err != nil {
		return "", nil, nil, err
	}
	if c.Op == decoder.OpDelete && rec.Tombstone == transform.TombstoneOnly {
		return cd.topic, key, nil, nil
	}
	env := format.Envelope{Change: c}
	before, after := env.Rows()
	rows = make([]byte, 0, max(cd.sizeHint.Load(), valueBytes(c)+64))
	rows = append(rows, `{"before":`...)
	if before == nil {
		rows = append(rows, "null"...)
	} else if rows, err = cd.appendRow(rows, cd.cols, before, true); err != nil {
		return "", nil, nil, fmt.Errorf("json: before: %w", err)
	}
	rows = append(rows, `,"after":`...)
	if after == nil {
		rows = append(rows, "null"...)
	} else if rows, err = cd.appendRow(rows, cd.cols, after, false); err != nil {
		return "", nil, nil, fmt.Errorf("json: after: %w", err)
	}
	return cd.topic, key, append(rows, '}'), nil
}

// AppendString appends s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }
