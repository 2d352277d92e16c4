package decoder

import (
	"context"
	"fmt"
	"slices"
)

// pgRelation is one cached relation: its published Table and, per column, one plan for each
// wire format.
type pgRelation struct {
	table    *Table
	plans    []pgPlan
	binPlans []pgBinPlan
}

// textOID is the type whose server text output a binary value of column i needs (its
// SourceTypeID), or 0 when the column has a binary plan.
func (rel *pgRelation) textOID(i int) uint32 {
	if c := &rel.table.Columns[i]; c.TextForm {
		return c.SourceTypeID
	}
	return 0
}

// pgColumnPlans are one column's plans: for its text and for its binary format.
type pgColumnPlans struct {
	text pgPlan
	bin  pgBinPlan
}

// pgRelColumn is a column as the Relation message describes it.
type pgRelColumn struct {
	flags  byte
	name   string
	typeID uint32
	typmod int32
}

// maxTypeDepth bounds the domain/array chain the catalog may describe, so that a catalog that
// answers in a cycle cannot loop the decoder.
const maxTypeDepth = 8

func (d *PGDecoder) decodeRelation(ctx context.Context, r *pgReader) (PGMessage, error) {
	m := PGMessage{Kind: PGRelation}
	var err error
	if m.XID, err = d.streamXID(r); err != nil {
		return m, err
	}
	relID, err := r.u32()
	if err != nil {
		return m, err
	}
	ns, err := r.cstring()
	if err != nil {
		return m, err
	}
	if ns == "" {
		ns = "pg_catalog" // the protocol's spelling of pg_catalog
	}
	name, err := r.cstring()
	if err != nil {
		return m, err
	}
	if _, err = r.u8(); err != nil { // replica identity setting: the catalog gives the key
		return m, err
	}
	ncols, err := r.u16()
	if err != nil {
		return m, err
	}
	const minColumnBytes = 1 + 1 + 4 + 4 // flags, empty name's NUL, type, typmod
	if int(ncols)*minColumnBytes > r.remaining() {
		return m, r.fail("column count exceeds the message")
	}
	cols := make([]pgRelColumn, ncols)
	for i := range cols {
		c := &cols[i]
		c.flags, _ = r.u8()
		if c.name, err = r.cstring(); err != nil {
			return m, err
		}
		if c.typeID, err = r.u32(); err != nil {
			return m, err
		}
		var mod uint32
		if mod, err = r.u32(); err != nil {
			return m, err
		}
		c.typmod = int32(mod)
	}
	if r.remaining() != 0 {
		return m, r.fail("trailing bytes after the columns")
	}

	table, plans, binPlans, err := d.describeRelation(ctx, relID, ns, name, cols)
	if err != nil {
		return m, err
	}
	if old, ok := d.relations[relID]; ok {
		if sameTable(old.table, table) {
			m.Table = old.table
			return m, nil
		}
		table.Version = old.table.Version + 1
	}
	d.relations[relID] = &pgRelation{table: table, plans: plans, binPlans: binPlans}
	d.reportUnmapped(table)
	m.Table = table
	return m, nil
}

// describeRelation builds a relation's Table (at Version 1) and one plan per column and wire
// format from its columns and the catalog. It is the one place where types, plans, keys and NOT NULL are
// chosen, for the stream's Relation messages and for DescribeTable alike; it reads nothing
// but the catalog, so it does not touch the relation cache. The key columns are the catalog's
// PrimaryKey, for both alike.
func (d *PGDecoder) describeRelation(ctx context.Context, relID uint32, ns, name string, cols []pgRelColumn) (*Table, []pgPlan, []pgBinPlan, error) {
	info, err := d.catalog.Relation(ctx, relID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("describing relation %s.%s (id %d): %w", ns, name, relID, err)
	}
	table := &Table{ID: relID, Namespace: ns, Name: name, Columns: make([]Column, len(cols)), Version: 1}
	plans := make([]pgPlan, len(cols))
	binPlans := make([]pgBinPlan, len(cols))
	for i, rc := range cols {
		col, plan, err := d.planColumn(ctx, rc.typeID, rc.typmod, 0)
		if err != nil {
			return nil, nil, nil, &PGColumnError{Namespace: ns, Table: name, Column: rc.name,
				SourceType: col.SourceType, Err: err}
		}
		col.Name = rc.name
		col.Optional = !slices.Contains(info.NotNull, rc.name)
		col.Key = slices.Contains(info.PrimaryKey, rc.name)
		col.Generated = slices.Contains(info.Generated, rc.name)
		if expr, ok := info.Defaults[rc.name]; ok {
			col.Default = pgDefault(expr, plan.text)
		}
		table.Columns[i] = col
		plans[i], binPlans[i] = plan.text, plan.bin
	}
	return table, plans, binPlans, nil
}

// planColumn chooses the Column description and plans of a type. The returned Column's
// SourceType is set even on error, for the message.
func (d *PGDecoder) planColumn(ctx context.Context, oid uint32, typmod int32, depth int) (Column, pgColumnPlans, error) {
	if c, plan, ok := builtinPlan(oid, typmod); ok {
		return c, pgColumnPlans{text: plan, bin: builtinBinPlan(oid, c, plan)}, nil
	}
	if c, plan, ok := extraBuiltinPlan(oid, typmod); ok {
		return c, plan, nil
	}
	if elem, ok := builtinArrays[oid]; ok {
		return d.planArray(ctx, oid, builtinArrayName(elem), elem, typmod, depth)
	}
	unknown := Column{SourceType: "oid " + utoa(oid), SourceTypeID: oid}
	if depth >= maxTypeDepth {
		return unknown, pgColumnPlans{}, fmt.Errorf("%w: type chain deeper than %d", ErrPGUnknownType, maxTypeDepth)
	}
	ti, err := d.catalog.Type(ctx, oid)
	if err != nil {
		return unknown, pgColumnPlans{}, fmt.Errorf("describing type %d: %w", oid, err)
	}
	switch ti.Kind {
	case PGTypeEnum:
		labels := slices.Clone(ti.EnumLabels)
		// enum_send writes the label, as enum_out does.
		return Column{Type: TypeEnum, SourceType: ti.Name, SourceTypeID: oid, EnumValues: labels},
			pgColumnPlans{text: planText, bin: binRaw}, nil
	case PGTypeDomain:
		// A domain decodes as its base type; the domain's own typmod is not in the Relation
		// message, so a domain over numeric(p,s) is an unconstrained numeric here.
		c, plan, err := d.planColumn(ctx, ti.BaseOID, typmod, depth+1)
		c.SourceType, c.SourceTypeID = ti.Name, oid
		return c, plan, err
	case PGTypeArray:
		return d.planArray(ctx, oid, ti.Name, ti.ElemOID, typmod, depth)
	default:
		if c, plan, ok := extensionPlan(ti, d.opts.hstore); ok {
			return c, plan, nil
		}
		name := ti.Name
		if name == "" {
			name = unknown.SourceType
		}
		if d.opts.unknown == UnknownTypesFail {
			return Column{SourceType: name, SourceTypeID: oid}, pgColumnPlans{}, ErrPGUnknownType
		}
		c, plan := unmappedColumn(name, oid)
		return c, plan, nil
	}
}

func (d *PGDecoder) planArray(ctx context.Context, oid uint32, name string, elemOID uint32, typmod int32, depth int) (Column, pgColumnPlans, error) {
	elem, elemPlan, err := d.planColumn(ctx, elemOID, typmod, depth+1)
	c := Column{Type: TypeArray, SourceType: name, SourceTypeID: oid}
	if err != nil {
		return c, pgColumnPlans{}, err
	}
	if elem.Type == TypeArray {
		return c, pgColumnPlans{}, fmt.Errorf("%w: array of arrays", ErrPGMultiDimArray)
	}
	if elem.TextForm {
		// An array of text-form values (an unmapped type's, a range's) is its array literal
		// as a whole: its elements' binary forms have no plan either.
		c, plan := unmappedColumn(name, oid)
		return c, plan, nil
	}
	elem.Optional = true
	c.Elem = &elem
	return c, pgColumnPlans{text: arrayPlan(elemPlan.text), bin: binArrayPlan(elemPlan.bin)}, nil
}

// sameTable tells whether two descriptions of a relation have the same shape.
func sameTable(a, b *Table) bool {
	return a.ID == b.ID && a.Namespace == b.Namespace && a.Name == b.Name &&
		slices.EqualFunc(a.Columns, b.Columns, sameColumn)
}

func sameColumn(a, b Column) bool {
	if a.Name != b.Name || a.Type != b.Type || a.SourceType != b.SourceType ||
		a.SourceTypeID != b.SourceTypeID || a.Precision != b.Precision || a.Scale != b.Scale ||
		a.Optional != b.Optional || a.Key != b.Key || !slices.Equal(a.EnumValues, b.EnumValues) ||
		a.Unmapped != b.Unmapped || a.TextForm != b.TextForm ||
		!SameDefault(a.Default, b.Default) || a.Generated != b.Generated {
		return false
	}
	if a.Elem == nil || b.Elem == nil {
		return a.Elem == b.Elem
	}
	return sameColumn(*a.Elem, *b.Elem)
}

// readTuple reads a TupleData into a new []Value following the relation's columns, each value
// with the plan of its format (pgoutput's binary option sends 'b' for every type with a send
// function, which every supported type has). Binary plans may write values to scratch.
func (rel *pgRelation) readTuple(ctx context.Context, d *PGDecoder, r *pgReader, scratch *[]byte) ([]Value, error) {
	n, err := r.u16()
	if err != nil {
		return nil, err
	}
	if int(n) != len(rel.plans) {
		return nil, r.failAt(r.off-2, fmt.Sprintf("tuple has %d columns, relation %s.%s has %d",
			n, rel.table.Namespace, rel.table.Name, len(rel.plans)))
	}
	vals := make([]Value, n)
	for i := range vals {
		tag, err := r.u8()
		if err != nil {
			return nil, err
		}
		switch tag {
		case 'n': // the zero Value is NULL
		case 'u':
			vals[i].State = ValueUnchanged
		case 't', 'b':
			size, err := r.u32()
			if err != nil {
				return nil, err
			}
			text, err := r.bytes(size)
			if err != nil {
				return nil, err
			}
			switch {
			case tag == 't':
				err = rel.plans[i](text, &vals[i])
			case rel.binPlans[i] == nil:
				// A TextForm column's value in binary: the server's text output of it.
				if oid := rel.textOID(i); oid != 0 {
					err = d.serverText(ctx, oid, text, &vals[i], scratch)
				} else {
					err = ErrPGBinaryFormat // every other supported type has one: a guard
				}
			default:
				err = rel.binPlans[i](text, &vals[i], scratch)
			}
			if err != nil {
				return nil, rel.columnError(i, err)
			}
			vals[i].State = ValueSet
		default:
			return nil, r.failAt(r.off-1, fmt.Sprintf("unknown tuple column kind %q", tag))
		}
	}
	return vals, nil
}

func (rel *pgRelation) columnError(i int, err error) error {
	c := &rel.table.Columns[i]
	return &PGColumnError{Namespace: rel.table.Namespace, Table: rel.table.Name, Column: c.Name,
		SourceType: c.SourceType, Err: err}
}
