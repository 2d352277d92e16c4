package transform

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cdcd-dev/cdcd/decoder"
)

// ErrKeyColumn means a column selection would remove a key column: the record key is made of
// them, so they always stay.
var ErrKeyColumn = errors.New("key column cannot be removed")

// SelectMode says whether a ColumnSelect keeps or removes the columns it names.
type SelectMode uint8

// The selection modes.
const (
	// IncludeColumns keeps only the named columns (include_columns).
	IncludeColumns SelectMode = iota + 1
	// ExcludeColumns removes the named columns (exclude_columns).
	ExcludeColumns
)

func (m SelectMode) String() string {
	if m == IncludeColumns {
		return "include_columns"
	}
	return "exclude_columns"
}

// ColumnSelect keeps or removes columns of the tables matching its patterns. The Change it
// returns has a derived *decoder.Table with the kept columns (same ID, namespace, name and
// version, so the same topic) and rows holding only their values. The derived Table is built
// once per source *decoder.Table and reused, because the encoder caches schemas per *Table:
// the same input Table always gives the same output pointer.
//
// Named columns a table does not have are ignored (the patterns may match tables of different
// shapes). A key column cannot be removed: a change of a table whose key column is excluded
// (or, with IncludeColumns, not included) fails with a *ChangeError wrapping ErrKeyColumn that
// names it; the table is known only then.
type ColumnSelect struct {
	mode    SelectMode
	tables  tableSet
	columns []string
	plans   *planCache[*selectPlan]
}

var _ Transform = (*ColumnSelect)(nil)

// NewColumnSelect returns the selection of columns in the tables matching tables.
func NewColumnSelect(mode SelectMode, tables, columns []string) (*ColumnSelect, error) {
	typ := mode.String()
	if mode != IncludeColumns && mode != ExcludeColumns {
		return nil, &SettingError{Transform: "columns", Setting: "type", Value: fmt.Sprint(mode), Reason: "unknown selection mode"}
	}
	ts, err := parseTables("tables", tables)
	if err != nil {
		err.(*SettingError).Transform = typ
		return nil, err
	}
	if len(columns) == 0 {
		return nil, &SettingError{Transform: typ, Setting: "columns", Reason: "required"}
	}
	s := &ColumnSelect{mode: mode, tables: ts, columns: slices.Clone(columns)}
	s.plans = newPlanCache(s.plan)
	return s, nil
}

// selectPlan is a ColumnSelect's decision for one table.
type selectPlan struct {
	pass  bool           // the table does not match, or keeps every column
	err   error          // a key column would go
	table *decoder.Table // the derived table
	keep  []int          // the source indexes of the derived table's columns
}

func (s *ColumnSelect) plan(t *decoder.Table) *selectPlan {
	if !s.tables.matches(t) {
		return &selectPlan{pass: true}
	}
	p := &selectPlan{}
	for i, c := range t.Columns {
		named := slices.Contains(s.columns, c.Name)
		if named == (s.mode == IncludeColumns) {
			p.keep = append(p.keep, i)
			continue
		}
		if c.Key {
			p.err = &ChangeError{Transform: s.mode.String(), Table: qualified(t), Column: c.Name, Err: ErrKeyColumn}
			return p
		}
	}
	if len(p.keep) == len(t.Columns) {
		return &selectPlan{pass: true}
	}
	d := *t
	d.Columns = make([]decoder.Column, len(p.keep))
	for j, i := range p.keep {
		d.Columns[j] = t.Columns[i]
	}
	p.table = &d
	return p
}

// Apply returns c unchanged for a table the selection does not touch, else a new Change with
// the derived table and the kept values (which share c's value memory).
func (s *ColumnSelect) Apply(c *decoder.Change) (*decoder.Change, error) {
	if c == nil || c.Table == nil {
		return nil, &ChangeError{Transform: s.mode.String(), Table: qualified(nil), Err: errors.New("change without table")}
	}
	p := s.plans.get(c.Table)
	if p.pass {
		return c, nil
	}
	if p.err != nil {
		return nil, p.err
	}
	out := &decoder.Change{Op: c.Op, Table: p.table, Source: c.Source}
	// One allocation holds both rows.
	n := len(p.keep)
	var buf []decoder.Value
	if c.Before != nil && c.After != nil {
		buf = make([]decoder.Value, 2*n)
	} else if c.Before != nil || c.After != nil {
		buf = make([]decoder.Value, n)
	}
	if c.Before != nil {
		out.Before = selectRow(buf[:n:n], c.Before, p.keep)
		buf = buf[n:]
	}
	if c.After != nil {
		out.After = selectRow(buf[:n:n], c.After, p.keep)
	}
	return out, nil
}

// selectRow fills dst with row's kept values; a row shorter than its table (which a decoder
// does not produce) gives NULLs rather than a panic.
func selectRow(dst, row []decoder.Value, keep []int) []decoder.Value {
	for j, i := range keep {
		if i < len(row) {
			dst[j] = row[i]
		} else {
			dst[j] = decoder.Value{}
		}
	}
	return dst
}
