package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// A tableless outbox: a transactional logical decoding message whose prefix is the router's
// (message.prefix, default "outbox") is an outbox row written as a JSON object, its fields
// named as the router's columns (by default {"id", "aggregatetype", "aggregateid", "type",
// "payload"}, plus the additional fields placed). It arrives in its transaction, with the slot
// position of every other change, so its event is written exactly once; the router turns it
// into the row of a table of its own (OutboxMessageNamespace.<prefix>) and routes that row as
// it routes an outbox table's insert. A field that is a JSON string gives its text; any other
// JSON value gives its JSON text (so a payload object is written as JSON text, or expanded with
// table.expand.json.payload); null or an absent field gives NULL. A timestamp field is epoch
// milliseconds or an RFC 3339 string. Messages of other prefixes pass unchanged.

// OutboxMessageNamespace is the namespace of the table the router makes of outbox messages.
const OutboxMessageNamespace = "outbox_message"

// messageTable returns the table of the rows made of messages: every column the router reads,
// optional, text but for the payload (JSON) and the timestamp (epoch milliseconds).
func (o *Outbox) messageTable() *decoder.Table {
	t := &decoder.Table{Namespace: OutboxMessageNamespace, Name: o.cfg.MessagePrefix, Version: 1}
	add := func(name string, typ decoder.Type, key bool) {
		if slices.ContainsFunc(t.Columns, func(c decoder.Column) bool { return c.Name == name }) {
			return
		}
		src := "text"
		switch typ {
		case decoder.TypeJSON:
			src = "json"
		case decoder.TypeTimestampMillis:
			src = "timestamp"
		}
		t.Columns = append(t.Columns, decoder.Column{Name: name, Type: typ, SourceType: src, Optional: true, Key: key})
	}
	add(o.cfg.IDField, decoder.TypeString, false)
	add(o.cfg.RouteByField, decoder.TypeString, false)
	add(o.cfg.KeyField, decoder.TypeString, true)
	add(o.cfg.TypeField, decoder.TypeString, false)
	add(o.cfg.PayloadField, decoder.TypeJSON, false)
	if o.cfg.TimestampField != "" {
		add(o.cfg.TimestampField, decoder.TypeTimestampMillis, false)
	}
	for _, f := range o.cfg.Additional {
		add(f.Column, decoder.TypeString, false)
	}
	return t
}

// message routes a message change of the router's prefix; others pass on.
func (o *Outbox) message(rec *Record) (*Record, error) {
	c := rec.Change
	if len(c.After) <= decoder.MessageContentColumn || string(c.After[decoder.MessagePrefixColumn].Bytes) != o.cfg.MessagePrefix {
		return rec, nil
	}
	row, err := o.messageRow(c.After[decoder.MessageContentColumn].Bytes)
	if err != nil {
		return nil, &ChangeError{Transform: TypeOutbox, Table: qualified(o.msg), Err: err}
	}
	rec.Change = &decoder.Change{Op: decoder.OpCreate, Table: o.msg, After: row, Source: c.Source}
	return o.route(rec, o.msgPlan)
}

// messageRow parses a message's content into a row of the message table.
func (o *Outbox) messageRow(content []byte) ([]decoder.Value, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(content, &fields); err != nil {
		return nil, fmt.Errorf("%w: message content is not a JSON object: %w", ErrOutboxValue, err)
	}
	row := make([]decoder.Value, len(o.msg.Columns))
	for i := range o.msg.Columns {
		col := &o.msg.Columns[i]
		raw, ok := fields[col.Name]
		if !ok || bytes.Equal(raw, []byte("null")) {
			continue
		}
		v := &row[i]
		v.State = decoder.ValueSet
		var s string
		isString := raw[0] == '"'
		if isString {
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("%w: field %s: %w", ErrOutboxValue, col.Name, err)
			}
		}
		if col.Type != decoder.TypeTimestampMillis {
			if isString {
				v.Bytes = []byte(s)
			} else {
				v.Bytes = bytes.Clone(raw)
			}
			continue
		}
		if isString {
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, fmt.Errorf("%w: field %s: %w", ErrOutboxValue, col.Name, err)
			}
			v.Int = ts.UnixMilli()
			continue
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: want epoch milliseconds or an RFC 3339 string: %w", ErrOutboxValue, col.Name, err)
		}
		v.Int = n
	}
	return row, nil
}
