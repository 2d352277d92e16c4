package decoder

import (
	"context"
	"fmt"
)

// UnknownTypes says what a decoder does with a column whose type no mapping knows.
type UnknownTypes uint8

// The unknown-type policies.
const (
	// UnknownTypesAsText decodes such a column as a TypeString holding the type's text output,
	// marked Unmapped so that its schema names the source type (Debezium's
	// __debezium.source.column.type parameter): include.unknown.datatypes true, the default.
	UnknownTypesAsText UnknownTypes = iota
	// UnknownTypesFail refuses such a column with ErrPGUnknownType (or the MySQL decoder's
	// error), stopping the connector at the relation: include.unknown.datatypes false.
	UnknownTypesFail
)

// String names the policy as the configuration spells it (include.unknown.datatypes).
func (u UnknownTypes) String() string {
	if u == UnknownTypesFail {
		return "false"
	}
	return "true"
}

// UnmappedColumn names a column decoded as its type's text because no mapping knows its type.
type UnmappedColumn struct {
	Namespace, Table, Column, SourceType string
}

// HStoreMode is how a PGDecoder maps PostgreSQL's hstore (Debezium's hstore.handling.mode).
type HStoreMode uint8

// The hstore modes.
const (
	// HStoreJSON maps an hstore to a JSON object in a string (io.debezium.data.Json), its NULL
	// values as null: the default.
	HStoreJSON HStoreMode = iota
	// HStoreMap maps an hstore to a map of strings to optional strings (TypeStringMap).
	HStoreMap
)

// String names the mode as the configuration spells it.
func (m HStoreMode) String() string {
	if m == HStoreMap {
		return "map"
	}
	return "json"
}

// WithPGHStoreMode sets how hstore columns are mapped; the default is HStoreJSON.
func WithPGHStoreMode(m HStoreMode) PGOption {
	return func(o *pgOptions) { o.hstore = m }
}

// PGOption configures a PGDecoder.
type PGOption func(*pgOptions)

type pgOptions struct {
	unknown    UnknownTypes
	hstore     HStoreMode
	onUnmapped func(UnmappedColumn)
}

// WithPGUnknownTypes sets what the decoder does with a column of a type no mapping knows; the
// default is UnknownTypesAsText.
func WithPGUnknownTypes(u UnknownTypes) PGOption {
	return func(o *pgOptions) { o.unknown = u }
}

// WithPGUnmappedColumn calls f each time a relation is described (a Relation message with a
// changed shape, or DescribeTable) with a column decoded as text because no mapping knows its
// type, so that the caller can warn once per column. f must not block; it runs on the
// decoding goroutine. The default does nothing.
func WithPGUnmappedColumn(f func(UnmappedColumn)) PGOption {
	return func(o *pgOptions) { o.onUnmapped = f }
}

// PGTypeTexter is what a PGCatalog may also implement: the text output of one value that
// pgoutput sent in binary (its type's send function's output) for a column whose values are
// their type's text (Column.TextForm) and for which the decoder has no binary plan: an
// unmapped type, a range. The decoder calls it once per such value while it decodes a row,
// so those columns cost a round trip each in a stream with the binary option; all other
// columns cost none. It blocks on the network; an error fails the row.
type PGTypeTexter interface {
	TypeText(ctx context.Context, oid uint32, binary []byte) ([]byte, error)
}

// serverText decodes a binary value of a TextForm column through the catalog: the server's
// text output of it, appended to scratch.
func (d *PGDecoder) serverText(ctx context.Context, oid uint32, data []byte, v *Value, scratch *[]byte) error {
	t, ok := d.catalog.(PGTypeTexter)
	if !ok {
		return fmt.Errorf("%w: type %d needs the server's text output, which the catalog does not give", ErrPGBinaryFormat, oid)
	}
	text, err := t.TypeText(ctx, oid, data)
	if err != nil {
		return fmt.Errorf("reading the text output of a value of type %d: %w", oid, err)
	}
	start := len(*scratch)
	*scratch = append(*scratch, text...)
	v.Bytes = (*scratch)[start:len(*scratch):len(*scratch)]
	return nil
}

// unmappedColumn is the Column of a type no mapping knows, decoded as its text output.
func unmappedColumn(name string, oid uint32) (Column, pgColumnPlans) {
	return Column{Type: TypeString, SourceType: name, SourceTypeID: oid, Unmapped: true, TextForm: true},
		pgColumnPlans{text: planText} // no binary plan: the server's text (serverText)
}

// reportUnmapped tells the option's callback about the table's unmapped columns.
func (d *PGDecoder) reportUnmapped(t *Table) {
	if d.opts.onUnmapped == nil {
		return
	}
	for i := range t.Columns {
		if c := &t.Columns[i]; c.Unmapped {
			d.opts.onUnmapped(UnmappedColumn{Namespace: t.Namespace, Table: t.Name, Column: c.Name, SourceType: c.SourceType})
		}
	}
}
