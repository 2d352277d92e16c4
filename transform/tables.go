package transform

import (
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/cdcd-dev/cdcd/decoder"
)

// tableSet is a list of table patterns: "schema.table" in the sources' table-name syntax (a
// part double-quoted when it holds a '.' or a ','), each part exact or with path.Match globs
// ("*" matches any run of characters, "?" one, "[...]" a class), matched against the table's
// namespace and name apart, so that public.* is the tables of schema public only, whatever
// their names hold. A pattern that is not two such parts ("*", a.b.c) is matched against
// Namespace + "." + Name joined, as before the quoted syntax.
type tableSet []tablePattern

// tablePattern is one pattern of a tableSet: ns and name when split, else joined.
type tablePattern struct {
	ns, name string
	split    bool
	joined   string
}

// parseTables checks each pattern.
func parseTables(setting string, items []string) (tableSet, error) {
	var out tableSet
	for _, p := range items {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		tp := tablePattern{joined: p}
		if ns, name, ok := splitPattern(p); ok {
			tp = tablePattern{ns: ns, name: name, split: true}
		}
		for _, part := range []string{tp.ns, tp.name, tp.joined} {
			if _, err := path.Match(part, ""); err != nil {
				return nil, &SettingError{Setting: setting, Value: p, Reason: "not a table pattern (schema.table, * and ? allowed)"}
			}
		}
		out = append(out, tp)
	}
	if len(out) == 0 {
		return nil, &SettingError{Setting: setting, Reason: "required: at least one table pattern"}
	}
	return out, nil
}

// splitPattern splits p into its two parts, as a table name (TablePart); ok is false unless p
// is exactly two parts.
func splitPattern(p string) (ns, name string, ok bool) {
	ns, rest, err := TablePart(p)
	if err != nil || !strings.HasPrefix(rest, ".") {
		return "", "", false
	}
	name, rest, err = TablePart(rest[1:])
	if err != nil || rest != "" {
		return "", "", false
	}
	return ns, name, true
}

func (s tableSet) matches(t *decoder.Table) bool {
	for _, p := range s {
		if p.split {
			if ok, _ := path.Match(p.ns, t.Namespace); ok {
				if ok, _ := path.Match(p.name, t.Name); ok {
					return true
				}
			}
			continue
		}
		if ok, _ := path.Match(p.joined, t.Namespace+"."+t.Name); ok {
			return true
		}
	}
	return false
}

// splitTableList splits a comma-separated list of table patterns at the commas outside double
// quotes (SplitTableList), trimming blanks and dropping empty items.
func splitTableList(list string) []string {
	var out []string
	for _, s := range SplitTableList(list) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// splitList splits a comma-separated list, trimming blanks and dropping empty items.
func splitList(list string) []string {
	var out []string
	for s := range strings.SplitSeq(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// planCache keeps one plan per source *decoder.Table. A Table is immutable and a new
// description is a new pointer, so a plan is built once per table version. The cache keeps
// only the newest version of each table (by namespace and name): a stream never goes back to an
// older description, so this bounds the cache by the number of tables; if one came back, its
// plan would be built again, equal but not the same pointer.
//
// It is safe for concurrent use; last makes the common case (the same table as the previous
// change) a pointer comparison under a read lock.
type planCache[P any] struct {
	mu     sync.RWMutex
	plans  map[*decoder.Table]P
	byName map[tableName]*decoder.Table
	build  func(*decoder.Table) P
}

type tableName struct{ ns, name string }

func newPlanCache[P any](build func(*decoder.Table) P) *planCache[P] {
	return &planCache[P]{plans: map[*decoder.Table]P{}, byName: map[tableName]*decoder.Table{}, build: build}
}

// get returns t's plan, building it at t's first sight.
func (c *planCache[P]) get(t *decoder.Table) P {
	c.mu.RLock()
	p, ok := c.plans[t]
	c.mu.RUnlock()
	if ok {
		return p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.plans[t]; ok {
		return p
	}
	p = c.build(t)
	n := tableName{t.Namespace, t.Name}
	if old, ok := c.byName[n]; ok && old != t {
		delete(c.plans, old)
	}
	c.byName[n] = t
	c.plans[t] = p
	return p
}

// SettingError is a transform setting that is missing or wrong, found when the transform is
// built.
type SettingError struct {
	// Transform is the transform's name in the configuration (its alias), or its type.
	Transform string
	// Setting is the setting's key within the transform, e.g. "expression".
	Setting string
	// Value is the value given ("" when missing).
	Value string
	// Reason says what is wrong.
	Reason string
}

func (e *SettingError) Error() string {
	var b strings.Builder
	b.WriteString("transform")
	if e.Transform != "" {
		b.WriteString(" " + e.Transform)
	}
	fmt.Fprintf(&b, ": setting %s", e.Setting)
	if e.Value != "" {
		fmt.Fprintf(&b, " = %q", e.Value)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// ChangeError is a change a transform cannot handle (a poison change): the error policy decides
// what becomes of it.
type ChangeError struct {
	// Transform is the transform's type, e.g. "filter".
	Transform string
	// Table is the change's table, "schema.table".
	Table string
	// Column is the column at fault, if one is.
	Column string
	// Err is what went wrong.
	Err error
}

func (e *ChangeError) Error() string {
	s := "transform " + e.Transform + ": table " + e.Table
	if e.Column != "" {
		s += ", column " + e.Column
	}
	return s + ": " + e.Err.Error()
}

func (e *ChangeError) Unwrap() error { return e.Err }

func qualified(t *decoder.Table) string {
	if t == nil {
		return "<no table>"
	}
	return t.Namespace + "." + t.Name
}
