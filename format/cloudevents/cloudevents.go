// Package cloudevents is the cloudevents format of the format seam (package format): each
// change event as a CloudEvent in structured mode, JSON, with the field names of Debezium's
// CloudEventsConverter (serializer.type json, data.serializer.type json, json.schemas.enable
// false). The attributes are id, source (/debezium/<connector>/<name>), specversion 1.0, type
// (io.debezium.connector.<connector>.DataChangeEvent), time (source.ts_ms in RFC 3339, UTC,
// milliseconds) and datacontenttype application/json; the extension attributes are
// iodebeziumop and each field of the source block as iodebezium<name> (its name without the
// characters an attribute name cannot hold: ts_ms is iodebeziumtsms, txId iodebeziumtxId), its
// 64-bit integers as strings as CloudEvents wants; data holds the event's rows,
// {"before": ..., "after": ...}, as the json format writes them.
//
// The key is the json format's key; the transaction topic's records are the json format's
// too (Debezium's converter has no CloudEvent for them). The handling modes apply to data as
// to the json format.
package cloudevents

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	jsonformat "github.com/cdcd-dev/cdcd/format/json"
	"github.com/cdcd-dev/cdcd/transform"
)

// Name is the cloudevents format's name in a connector's configuration.
const Name = "cloudevents"

// SpecVersion is the CloudEvents specification version written in specversion.
const SpecVersion = "1.0"

// extensionPrefix starts every extension attribute, as Debezium names them.
const extensionPrefix = "iodebezium"

var _ format.Encoder = (*Encoder)(nil)

// ErrConfig is wrapped by every error of a cloudevents encoder's settings.
var ErrConfig = errors.New("cloudevents: invalid encoder configuration")

// Options are a cloudevents encoder's settings beyond format.Config.
type Options struct {
	// JSON are the settings of the json encoder that writes keys, data and transaction
	// records (its ValueSchemas applies to the transaction records only).
	JSON jsonformat.Options
}

// ParseSettings reads the cloudevents format's settings: the json format's (keys, decimals,
// the handling modes: jsonformat.ParseSettings).
func ParseSettings(s map[string]string) (Options, error) {
	o, err := jsonformat.ParseSettings(s)
	if err != nil {
		return Options{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return Options{JSON: o}, nil
}

// Format is the cloudevents format of a daemon's format table.
func Format() format.Format {
	return format.Format{Name: Name, New: func(c format.Config) (format.Encoder, error) {
		o, err := ParseSettings(c.Settings)
		if err != nil {
			return nil, err
		}
		return NewEncoder(c, o)
	}}
}

// Encoder writes change events as CloudEvents. It is safe for concurrent use.
type Encoder struct {
	json *jsonformat.Encoder
	cfg  format.Config
	now  func() time.Time
	// head is the attributes every event of the connector has alike: from source to
	// datacontenttype, and the source block's version, connector and name.
	head, sourceHead []byte
	// idName is the id's first part, "name:<name>"; idFields the source fields after it.
	idName   string
	idFields []decoder.SourceField
	// attrs are the written attribute names of the kind's source fields, `,"iodebezium<name>":`.
	attrs [][]byte
}

// NewEncoder returns the encoder of one connector.
func NewEncoder(c format.Config, o Options) (*Encoder, error) {
	j, err := jsonformat.NewEncoder(c, o.JSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if c.ConnectorName == "" {
		c.ConnectorName = c.TopicPrefix
	}
	if c.Version == "" {
		c.Version = "cdcd"
	}
	e := &Encoder{json: j, cfg: c, now: o.JSON.Now, idName: "name:" + c.ConnectorName, idFields: idFields(c.Source)}
	if e.now == nil {
		e.now = time.Now
	}
	for _, f := range c.Source.Fields {
		e.attrs = append(e.attrs, append(append([]byte(`,"`+extensionPrefix), extensionName(f.Name)...), `":`...))
	}
	h := jsonformat.AppendString(append(e.head, `,"source":`...), "/debezium/"+c.Source.Connector+"/"+c.ConnectorName)
	h = jsonformat.AppendString(append(h, `,"specversion":`...), SpecVersion)
	e.head = jsonformat.AppendString(append(h, `,"type":`...), "io.debezium.connector."+c.Source.Connector+".DataChangeEvent")
	s := jsonformat.AppendString(append([]byte(nil), `,"`+extensionPrefix+`version":`...), c.Version)
	s = jsonformat.AppendString(append(s, `,"`+extensionPrefix+`connector":`...), c.Source.Connector)
	e.sourceHead = jsonformat.AppendString(append(s, `,"`+extensionPrefix+`name":`...), c.ConnectorName)
	return e, nil
}

// idFields are the source fields that make an event's id, after its connector's name, as
// Debezium's makers for each connector build it: a log position (lsn) with its transaction
// and sequence, or a binlog file and position (with the row of the event, so that two rows of
// one binlog event have two ids, as CloudEvents requires); else every field the source sets.
func idFields(b *decoder.SourceBlock) []decoder.SourceField {
	byName := map[string]decoder.SourceField{}
	for _, f := range b.Fields {
		byName[f.Name] = f
	}
	pick := func(names ...string) []decoder.SourceField {
		var out []decoder.SourceField
		for _, n := range names {
			f, ok := byName[n]
			if !ok {
				return nil
			}
			out = append(out, f)
		}
		return out
	}
	if fs := pick("lsn", "txId"); fs != nil {
		return fs
	}
	if fs := pick("file", "pos", "row"); fs != nil {
		return fs
	}
	var out []decoder.SourceField
	for _, f := range b.Fields {
		if f.Value == decoder.SourceSlotInt || f.Value == decoder.SourceSlotStr {
			out = append(out, f)
		}
	}
	return out
}

// EncodeRecord writes rec as a CloudEvent.
func (e *Encoder) EncodeRecord(ctx context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	return e.EncodeRecordInTransaction(ctx, rec, nil)
}

// EncodeRecordInTransaction writes rec as a CloudEvent; the transaction block is not part of
// one (as in Debezium's converter), so tx is ignored. A flat value (an unwrap transform) is
// refused: a CloudEvent is made of the envelope.
func (e *Encoder) EncodeRecordInTransaction(ctx context.Context, rec *transform.Record, _ *format.TransactionBlock) (topic string, key, value []byte, err error) {
	topic, key, rows, err := e.json.EncodeRows(ctx, rec)
	if err != nil {
		return "", nil, nil, fmt.Errorf("cloudevents: %w", err)
	}
	if rows == nil {
		return topic, key, nil, nil
	}
	c := rec.Change
	env := format.Envelope{Change: c, Time: e.now()}
	commit := env.SourceTime()
	v := make([]byte, 0, len(rows)+len(e.head)+len(e.sourceHead)+512)
	v = jsonformat.AppendString(append(v, `{"id":`...), e.id(c, key, rows))
	v = append(v, e.head...)
	v = jsonformat.AppendString(append(v, `,"time":`...), commit.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	v = append(v, `,"datacontenttype":"application/json"`...)
	v = append(append(append(v, `,"`+extensionPrefix+`op":"`...), byte(c.Op)), '"')
	v = append(v, e.sourceHead...)
	v = appendLongString(append(v, `,"`+extensionPrefix+`tsms":`...), commit.UnixMilli())
	v = jsonformat.AppendString(append(v, `,"`+extensionPrefix+`snapshot":`...), c.Source.Snapshot.String())
	v = jsonformat.AppendString(append(v, `,"`+extensionPrefix+`db":`...), format.SourceDB(e.cfg.Source, e.cfg.Database, c.Table))
	v = append(v, `,"`+extensionPrefix+`sequence":null`...)
	v = appendLongString(append(v, `,"`+extensionPrefix+`tsus":`...), commit.UnixMicro())
	v = appendLongString(append(v, `,"`+extensionPrefix+`tsns":`...), commit.UnixNano())
	for i := range e.cfg.Source.Fields {
		v = e.appendSourceValue(append(v, e.attrs[i]...), &e.cfg.Source.Fields[i], c)
	}
	v = append(append(v, `,"data":`...), rows...)
	return topic, key, append(v, '}'), nil
}

// id is the event's id: its connector's name and its position (idFields), as
// "name:<name>;lsn:<lsn>;txId:<xid>" or "name:<name>;file:<file>;pos:<pos>;row:<row>", as
// Debezium's converter writes it. CloudEvents requires source and id to be unique for each
// distinct event (a consumer may drop a second event with the same pair as a duplicate), and
// a position alone does not tell apart every event: Debezium's ids collide there, cdcd's add
// what does (unique suffixes, the same for the same event after a restart, as its id must be):
//   - a snapshot read: every row of a snapshot has the snapshot's position, so the table and a
//     hash of the row's key (of the row itself without a key) follow: ";table:<t>;key:<hash>";
//   - a truncate: one statement truncating several tables has one position: ";table:<t>";
//   - the create half of a key change shares its position with the delete half: ";newkey".
func (e *Encoder) id(c *decoder.Change, key, rows []byte) string {
	b := []byte(e.idName)
	for i := range e.idFields {
		f := &e.idFields[i]
		b = append(append(append(b, ';'), f.Name...), ':')
		switch f.Value {
		case decoder.SourceSlotInt:
			b = strconv.AppendInt(b, c.Source.Ints[f.Slot], 10)
		case decoder.SourceSlotStr:
			b = append(b, c.Source.Strs[f.Slot]...)
		default:
			b = append(b, "null"...)
		}
	}
	switch {
	case c.Source.Snapshot != decoder.SnapshotFalse:
		b = append(append(b, ";table:"...), c.Table.Namespace...)
		b = append(append(b, '.'), c.Table.Name...)
		row := key
		if len(row) == 0 {
			row = rows
		}
		h := fnv.New64a()
		h.Write(row)
		b = strconv.AppendUint(append(b, ";key:"...), h.Sum64(), 16)
	case c.Op == decoder.OpTruncate:
		b = append(append(b, ";table:"...), c.Table.Namespace...)
		b = append(append(b, '.'), c.Table.Name...)
	case c.NewKey:
		b = append(b, ";newkey"...)
	}
	return string(b)
}

// appendSourceValue writes the value of source field f of c as an extension attribute: a
// 64-bit integer as a string, an optional field's zero value as null.
func (e *Encoder) appendSourceValue(dst []byte, f *decoder.SourceField, c *decoder.Change) []byte {
	switch f.Value {
	case decoder.SourceSlotInt:
		n := c.Source.Ints[f.Slot]
		switch {
		case n == 0 && f.Optional:
			return append(dst, "null"...)
		case f.Type == decoder.SourceFieldLong:
			return appendLongString(dst, n)
		default:
			return strconv.AppendInt(dst, n, 10)
		}
	case decoder.SourceSlotStr:
		if s := c.Source.Strs[f.Slot]; s != "" || !f.Optional {
			return jsonformat.AppendString(dst, s)
		}
	case decoder.SourceNamespace, decoder.SourceTableName, decoder.SourceDatabase:
		return jsonformat.AppendString(dst, format.SourceTableValue(f, c.Table, e.cfg.Database))
	}
	return append(dst, "null"...)
}

// appendLongString writes n as a JSON string: CloudEvents has no 64-bit integer.
func appendLongString(dst []byte, n int64) []byte {
	return append(strconv.AppendInt(append(dst, '"'), n, 10), '"')
}

// extensionName is a source field's name as an extension attribute's suffix: its ASCII
// letters and digits, as Debezium's converter keeps them.
func extensionName(name string) []byte {
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			out = append(out, c)
		}
	}
	return out
}

// EncodeTransactionEvent returns the transaction topic's record of ev, as the json format
// writes it.
func (e *Encoder) EncodeTransactionEvent(ctx context.Context, ev *format.TransactionEvent) (topic string, key, value []byte, err error) {
	return e.json.EncodeTransactionEvent(ctx, ev)
}
