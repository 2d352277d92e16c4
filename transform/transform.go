// Package transform is the processing stage between decoding and encoding: an ordered chain of
// transforms that may change, drop or reject each Change. Change-level transforms (filter,
// include/exclude columns, mask, hash) return another Change; record-level ones (route,
// headers, unwrap, outbox) change the Kafka record made from it, through Record and Chain.ApplyRecord.
// FromConfig and ParseFlat build a chain from a connector's configuration; docs/transforms.md
// describes each transform. A change a transform cannot handle is a *ChangeError, which the
// pipeline's error policy (fail, dlq, skip) handles.
package transform

import (
	"errors"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// Transform changes one Change. It returns the Change to pass on (c itself or another), nil to
// drop it, or an error for a Change it cannot handle (a poison change). It does not block.
type Transform interface {
	Apply(c *decoder.Change) (*decoder.Change, error)
}

// Chain applies its transforms in order. The empty Chain passes every Change on unchanged.
type Chain []Transform

// Apply runs c through the chain, stopping at the first transform that drops it or fails.
func (ch Chain) Apply(c *decoder.Change) (*decoder.Change, error) {
	for _, t := range ch {
		var err error
		if c, err = t.Apply(c); err != nil || c == nil {
			return nil, err
		}
	}
	return c, nil
}

// Record-level transforms. Route, headers and unwrap change the Kafka record made from a
// Change (its topic, its headers, the shape of its value), not the Change, so they cannot
// speak through Apply. They implement RecordTransform as well, and the pipeline runs the chain
// with Chain.ApplyRecord, which hands every transform the Record under construction; the
// encoder then writes the Record as its fields say. Chain.Apply still runs change-level
// chains; a record-level transform met there fails with ErrRecordLevel rather than letting a
// record go out unrouted or un-unwrapped.

// ErrRecordLevel means a record-level transform (route, headers, unwrap) was run through
// Chain.Apply, which has no record to change: run the chain with Chain.ApplyRecord.
var ErrRecordLevel = errors.New("transform: record-level transform run without a record (use Chain.ApplyRecord)")

// Header is one Kafka record header, as the pipeline copies it into the produced record.
type Header struct {
	Key string
	// Value is shared between records and must not be modified by anyone.
	Value []byte
}

// Shape is the form of a record's value.
type Shape uint8

// The value shapes.
const (
	// ShapeEnvelope is Debezium's envelope: before, after, source, op, ts_ms, transaction.
	ShapeEnvelope Shape = iota
	// ShapeFlat is the row alone (ExtractNewRecordState): the after row, or for a rewritten
	// delete the before row, plus the fields Record.Fields names.
	ShapeFlat
	// ShapeOutbox is an outbox event (the outbox router): the key is one column, the value
	// one column or a record of named columns, as Record.Outbox says.
	ShapeOutbox
)

// OutboxShape is what an outbox event's key and value are made of, columns of the change's
// After row by index. It is shared by the events of one table version and never modified.
type OutboxShape struct {
	// Key is the key's column; -1: the key is null.
	Key int
	// Payload is the payload's column: the value when Envelope is empty.
	Payload int
	// Envelope, when not empty, makes the value a record: the payload as field "payload",
	// then these fields in order.
	Envelope []OutboxEnvelopeField
	// ExpandJSON asks for a JSON payload to be written as the JSON value it holds (a format
	// that cannot refuses the record with a schema error).
	ExpandJSON bool
}

// OutboxEnvelopeField is one field of an outbox value record: its name and its column.
type OutboxEnvelopeField struct {
	Name   string
	Column int
}

// FlatFields is a set of the metadata fields a ShapeFlat value carries after the row's
// columns, in the order of the constants.
type FlatFields uint8

// The flat metadata fields. Each is an optional Avro string field, default null, after the
// row's columns.
const (
	// FieldOp is "__op": the op letter (c, u, d, r).
	FieldOp FlatFields = 1 << iota
	// FieldDeleted is "__deleted": "true" for a delete, "false" otherwise.
	FieldDeleted
)

// Has tells whether f holds all of g.
func (f FlatFields) Has(g FlatFields) bool { return f&g == g }

// The names of the flat metadata fields.
const (
	FieldOpName      = "__op"
	FieldDeletedName = "__deleted"
)

// Tombstone says which records a delete produces, as a record-level transform decided.
type Tombstone uint8

// The tombstone choices.
const (
	// TombstoneDefault: the value record, then a tombstone if the pipeline writes tombstones.
	TombstoneDefault Tombstone = iota
	// TombstoneOnly: the tombstone alone, no value record (nothing at all for a keyless table).
	TombstoneOnly
	// TombstoneNever: the value record alone.
	TombstoneNever
	// TombstoneAlways: the value record, then a tombstone, whatever the pipeline's setting.
	TombstoneAlways
)

// Record is the record-level outcome of the chain for one Change: what the encoder and the
// pipeline write. The caller owns it and may reuse it from one change to the next (Reset).
type Record struct {
	// Change is the Change to encode; transforms replace it as Apply does.
	Change *decoder.Change
	// TopicPrefix is the connector's topic prefix, set by the caller before the chain runs: the
	// default topic is DefaultTopic(TopicPrefix, Namespace, Name).
	TopicPrefix string
	// Topic, when not empty, replaces the default topic (route).
	Topic string
	// Headers are written on the value record (and on its tombstone), in order.
	Headers []Header
	// Shape is the value's form; Fields the metadata fields of a ShapeFlat value.
	Shape  Shape
	Fields FlatFields
	// Tombstone says what a delete produces; for a ShapeOutbox record, TombstoneOnly makes
	// the event a tombstone (its key and no value).
	Tombstone Tombstone
	// Outbox is a ShapeOutbox record's key and value; nil for the other shapes.
	Outbox *OutboxShape
	// Timestamp, when not zero, is the Kafka record's timestamp (else the producer's time).
	Timestamp time.Time
}

// Reset makes r the Record of c with nothing changed yet, keeping its Headers' capacity.
func (r *Record) Reset(c *decoder.Change, topicPrefix string) {
	*r = Record{Change: c, TopicPrefix: topicPrefix, Headers: r.Headers[:0]}
}

// RecordTransform is a Transform that acts on the record: it changes r in place (its Change
// too, if it must) and returns r, or nil to drop the change, or an error for a change it cannot
// handle. It does not block. Its Apply fails with ErrRecordLevel.
type RecordTransform interface {
	Transform
	ApplyRecord(r *Record) (*Record, error)
}

// ApplyRecord runs r through the chain: a RecordTransform's ApplyRecord, any other
// transform's Apply on r.Change. It returns r, or nil when a transform dropped the change,
// stopping at the first that drops it or fails.
func (ch Chain) ApplyRecord(r *Record) (*Record, error) {
	for _, t := range ch {
		if rt, ok := t.(RecordTransform); ok {
			var err error
			if r, err = rt.ApplyRecord(r); err != nil || r == nil {
				return nil, err
			}
			continue
		}
		c, err := t.Apply(r.Change)
		if err != nil || c == nil {
			return nil, err
		}
		r.Change = c
	}
	return r, nil
}
