package avro

import (
	"context"
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

// EncodeRecord returns the topic, key and value of rec, the outcome of the transform chain
// for one change: the topic is rec.Topic when a route set it, else the table's default topic,
// and the subjects are named after that topic; the value has rec.Shape. value is nil for a
// delete whose rec.Tombstone is transform.TombstoneOnly (the record is its tombstone alone);
// key is nil when the table has no key and for truncates. The returned slices are the
// caller's. Errors are as Encode's; rec's other fields (Headers, the tombstone choice) are
// the caller's to apply.
//
// A ShapeFlat value is the table's row record (named <prefix>.<namespace>.<table>.Value),
// followed by the metadata fields rec.Fields holds, in the order of transform's constants,
// each ["null","string"] with default null: __op, the op letter; __deleted, "true" for a
// delete and "false" otherwise. The row is the after row; for a delete, the before row, its
// NOT NULL columns the source did not send filled as in the envelope's before (the column's
// default, else Debezium's fallback for the type).
func (e *Encoder) EncodeRecord(ctx context.Context, rec *transform.Record) (topic string, key, value []byte, err error) {
	return e.EncodeRecordInTransaction(ctx, rec, nil)
}

// deriveFlatValue builds the value schema of a ShapeFlat record of t: its row record with the
// metadata fields after the columns.
func deriveFlatValue(prefix string, t *decoder.Table, fields transform.FlatFields, modes format.Modes) (name, text string, parsed avro.Schema, err error) {
	if fields&^(transform.FieldOp|transform.FieldDeleted) != 0 {
		return "", "", nil, fmt.Errorf("%w: table %s.%s: unknown flat fields %#x", ErrSchema, t.Namespace, t.Name, uint8(fields))
	}
	ns := recordNamespace(prefix, t)
	b := &builder{defined: map[string]bool{}, modes: modes}
	row, err := b.rowRecord(ns, "Value", t.Columns, t)
	if err != nil {
		return "", "", nil, err
	}
	fi := -1
	for i := range row {
		if row[i].k == "fields" {
			fi = i
		}
	}
	var cols []any
	if fi >= 0 {
		cols, _ = row[fi].v.([]any)
	}
	if cols == nil {
		return "", "", nil, fmt.Errorf("%w: table %s.%s: row record without fields", ErrSchema, t.Namespace, t.Name)
	}
	for _, f := range flatFieldNames(fields) {
		for i := range t.Columns {
			if sanitizeName(t.Columns[i].Name) == f {
				return "", "", nil, fmt.Errorf("%w: table %s.%s: column %q clashes with the unwrap field %s",
					ErrSchema, t.Namespace, t.Name, t.Columns[i].Name, f)
			}
		}
		cols = append(cols, optionalField(f, "string"))
	}
	row[fi].v = cols
	name = ns + ".Value"
	if text, parsed, err = marshalParse(row); err != nil {
		return "", "", nil, fmt.Errorf("%w: flat value of %s.%s: %w", ErrSchema, t.Namespace, t.Name, err)
	}
	return name, text, parsed, nil
}

// flatFieldNames lists the names of the fields f holds, in their order in a flat value.
func flatFieldNames(f transform.FlatFields) []string {
	var out []string
	if f.Has(transform.FieldOp) {
		out = append(out, transform.FieldOpName)
	}
	if f.Has(transform.FieldDeleted) {
		out = append(out, transform.FieldDeletedName)
	}
	return out
}

// appendFlat appends the wire-format flat value of c.
func appendFlat(dst []byte, tc *tableCodec, c *decoder.Change) ([]byte, error) {
	dst = appendHeader(dst, tc.valueID)
	var err error
	switch c.Op {
	case decoder.OpDelete:
		if dst, err = tc.row.appendRow(dst, c.Before, nullsAsZero); err != nil {
			return dst, fmt.Errorf("before: %w", err)
		}
	case decoder.OpTruncate:
		return dst, fmt.Errorf("%w: a truncate has no row to unwrap", ErrBadValue)
	default:
		if dst, err = tc.row.appendRow(dst, c.After, nullsRejected); err != nil {
			return dst, fmt.Errorf("after: %w", err)
		}
	}
	if tc.fields.Has(transform.FieldOp) {
		dst = append(dst, 2, 2, byte(c.Op)) // branch 1, a one-letter string
	}
	if tc.fields.Has(transform.FieldDeleted) {
		if c.Op == decoder.OpDelete {
			dst = appendString(append(dst, 2), "true")
		} else {
			dst = appendString(append(dst, 2), "false")
		}
	}
	return dst, nil
}
