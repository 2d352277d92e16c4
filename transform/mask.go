package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"

	"github.com/cdcd-dev/cdcd/decoder"
)

// ErrCannotMask means a masked column has no masked form: it is neither a string nor
// optional, or (hash) neither a string nor bytes.
var ErrCannotMask = errors.New("column type cannot be masked")

// DefaultMask is what Mask writes in place of a string value.
const DefaultMask = "****"

// MaskOption configures a Mask.
type MaskOption func(*Mask)

// MaskWith sets the string written in place of a string column's value, default
// [DefaultMask].
func MaskWith(s string) MaskOption { return func(m *Mask) { m.with = []byte(s) } }

// Mask replaces the values of named columns, in the tables matching its patterns, in both rows
// of a change: a string column's value becomes a fixed string ("****" by default); a column of
// another type becomes NULL if it is optional. A required non-string column cannot be masked:
// its changes fail with a *ChangeError wrapping ErrCannotMask naming it. NULL stays NULL, and a
// value the source did not send (unchanged TOAST) stays unsent. The column keeps its type, so
// the schema does not change.
type Mask struct {
	tables  tableSet
	columns []string
	with    []byte
	plans   *planCache[*maskPlan]
}

// Hash replaces the values of named string or bytes columns by the lowercase hex SHA-256 of
// the salt followed by the value's bytes (a string's UTF-8, a bytes column's bytes), so equal
// values stay equal (joinable) without being readable; a bytes column holds the hex text's
// bytes. A column of another type fails with a *ChangeError wrapping ErrCannotMask. NULL and
// unsent values stay as they are.
type Hash struct {
	tables  tableSet
	columns []string
	salt    []byte
	plans   *planCache[*maskPlan]
	pool    sync.Pool // hash.Hash
}

var (
	_ Transform = (*Mask)(nil)
	_ Transform = (*Hash)(nil)
)

// NewMask returns a Mask of columns in the tables matching tables.
func NewMask(tables, columns []string, opts ...MaskOption) (*Mask, error) {
	ts, cols, err := tablesColumns("mask", tables, columns)
	if err != nil {
		return nil, err
	}
	m := &Mask{tables: ts, columns: cols, with: []byte(DefaultMask)}
	for _, o := range opts {
		o(m)
	}
	m.plans = newPlanCache(func(t *decoder.Table) *maskPlan { return newMaskPlan("mask", m.tables, m.columns, t, maskable) })
	return m, nil
}

// NewHash returns a Hash of columns in the tables matching tables, salted with salt
// (required: an unsalted hash of a small domain, like e-mail addresses, is easily reversed).
func NewHash(tables, columns []string, salt []byte) (*Hash, error) {
	ts, cols, err := tablesColumns("hash", tables, columns)
	if err != nil {
		return nil, err
	}
	if len(salt) == 0 {
		return nil, &SettingError{Transform: "hash", Setting: "salt", Reason: "required"}
	}
	h := &Hash{tables: ts, columns: cols, salt: slices.Clone(salt)}
	h.pool.New = func() any { return sha256.New() }
	h.plans = newPlanCache(func(t *decoder.Table) *maskPlan { return newMaskPlan("hash", h.tables, h.columns, t, hashable) })
	return h, nil
}

func tablesColumns(typ string, tables, columns []string) (tableSet, []string, error) {
	ts, err := parseTables("tables", tables)
	if err != nil {
		err.(*SettingError).Transform = typ
		return nil, nil, err
	}
	if len(columns) == 0 {
		return nil, nil, &SettingError{Transform: typ, Setting: "columns", Reason: "required"}
	}
	return ts, slices.Clone(columns), nil
}

// maskPlan is the columns of one table that a Mask or Hash changes.
type maskPlan struct {
	cols []int // indexes of the masked columns; none: pass the change on
	err  error
}

func maskable(c *decoder.Column) bool { return c.Type == decoder.TypeString || c.Optional }

func hashable(c *decoder.Column) bool {
	return c.Type == decoder.TypeString || c.Type == decoder.TypeBytes
}

func newMaskPlan(typ string, ts tableSet, names []string, t *decoder.Table, ok func(*decoder.Column) bool) *maskPlan {
	p := &maskPlan{}
	if !ts.matches(t) {
		return p
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if !slices.Contains(names, c.Name) {
			continue
		}
		if !ok(c) {
			p.err = &ChangeError{Transform: typ, Table: qualified(t), Column: c.Name,
				Err: fmt.Errorf("%w: %s of type %s", ErrCannotMask, typ, c.SourceType)}
			return p
		}
		p.cols = append(p.cols, i)
	}
	return p
}

// Apply returns c unchanged when the table has no masked column, else a copy whose rows hold
// the masked values (c is not modified).
func (m *Mask) Apply(c *decoder.Change) (*decoder.Change, error) {
	return rewrite(c, "mask", m.plans, func(col *decoder.Column, v *decoder.Value) {
		if col.Type == decoder.TypeString {
			*v = decoder.Value{State: decoder.ValueSet, Bytes: m.with}
		} else {
			*v = decoder.Value{}
		}
	})
}

// Apply returns c unchanged when the table has no hashed column, else a copy whose rows hold
// the hashes (c is not modified).
func (h *Hash) Apply(c *decoder.Change) (*decoder.Change, error) {
	sum := h.pool.Get().(hash.Hash)
	defer h.pool.Put(sum)
	var digest [sha256.Size]byte
	return rewrite(c, "hash", h.plans, func(_ *decoder.Column, v *decoder.Value) {
		sum.Reset()
		sum.Write(h.salt)
		sum.Write(v.Bytes)
		out := make([]byte, hex.EncodedLen(sha256.Size))
		hex.Encode(out, sum.Sum(digest[:0]))
		*v = decoder.Value{State: decoder.ValueSet, Bytes: out}
	})
}

// rewrite copies c's rows and applies set to each set value of the plan's columns.
func rewrite(c *decoder.Change, typ string, plans *planCache[*maskPlan], set func(*decoder.Column, *decoder.Value)) (*decoder.Change, error) {
	if c == nil || c.Table == nil {
		return nil, &ChangeError{Transform: typ, Table: qualified(nil), Err: errors.New("change without table")}
	}
	p := plans.get(c.Table)
	if p.err != nil {
		return nil, p.err
	}
	if len(p.cols) == 0 {
		return c, nil
	}
	out := *c
	for _, row := range []*[]decoder.Value{&out.Before, &out.After} {
		if *row == nil {
			continue
		}
		r := slices.Clone(*row)
		for _, i := range p.cols {
			if i < len(r) && r[i].State == decoder.ValueSet {
				set(&c.Table.Columns[i], &r[i])
			}
		}
		*row = r
	}
	return &out, nil
}
