package transform

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
)

// ErrNoKeyColumn means message.key.columns names a column the table does not have.
var ErrNoKeyColumn = errors.New("message key column not in the table")

// KeyColumns chooses the columns of the record key of the tables it matches, as Debezium's
// message.key.columns: the key is made of those columns instead of the primary key (or replica
// identity), and so is the partition a record goes to. A change of a matching table comes out
// with a derived *decoder.Table whose Key flags are the chosen columns (built once per source
// Table, as ColumnSelect does, since the encoders cache schemas per *Table); its rows are
// untouched. A column the table lacks makes a *ChangeError wrapping ErrNoKeyColumn.
//
// The pipeline applies it before an update is split into a delete and a create when its key
// changed, so that the split follows the chosen key. A delete (and an update's before image)
// holds the chosen columns only if the source sends them: a PostgreSQL table needs REPLICA
// IDENTITY FULL when they are not its identity, as with Debezium.
type KeyColumns struct {
	rules []keyRule
	plans *planCache[*keyPlan]
}

var _ Transform = (*KeyColumns)(nil)

// keyRule is one entry: tables whose "namespace.name" the pattern matches whole take columns.
type keyRule struct {
	table   *regexp.Regexp
	columns []string
}

type keyPlan struct {
	pass  bool
	err   error
	table *decoder.Table
}

// ParseKeyColumns reads Debezium's syntax: entries separated by ';', each
// "<fully-qualified table regex>:<column>,<column>...", the table name "schema.table" for
// PostgreSQL and "database.table" for MySQL, matched whole (e.g. `inventory.customers:pk1,pk2;
// (.*).purchaseorders:pk3`). The first entry whose table matches applies. An empty spec gives
// nil.
func ParseKeyColumns(spec string) (*KeyColumns, error) {
	var rules []keyRule
	for entry := range strings.SplitSeq(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		i := strings.LastIndexByte(entry, ':')
		if i <= 0 {
			return nil, &SettingError{Transform: "message.key.columns", Setting: "entry", Value: entry,
				Reason: "want <schema.table regex>:<column>,<column>..."}
		}
		re, err := regexp.Compile(`^(?:` + strings.TrimSpace(entry[:i]) + `)$`)
		if err != nil {
			return nil, &SettingError{Transform: "message.key.columns", Setting: "entry", Value: entry,
				Reason: fmt.Sprintf("the table is not a regular expression: %v", err)}
		}
		cols := splitList(entry[i+1:])
		if len(cols) == 0 {
			return nil, &SettingError{Transform: "message.key.columns", Setting: "entry", Value: entry, Reason: "no column"}
		}
		rules = append(rules, keyRule{table: re, columns: cols})
	}
	if len(rules) == 0 {
		return nil, nil
	}
	k := &KeyColumns{rules: rules}
	k.plans = newPlanCache(k.plan)
	return k, nil
}

func (k *KeyColumns) plan(t *decoder.Table) *keyPlan {
	name := t.Namespace + "." + t.Name
	i := slices.IndexFunc(k.rules, func(r keyRule) bool { return r.table.MatchString(name) })
	if i < 0 {
		return &keyPlan{pass: true}
	}
	cols := k.rules[i].columns
	for _, c := range cols {
		if !slices.ContainsFunc(t.Columns, func(col decoder.Column) bool { return col.Name == c }) {
			return &keyPlan{err: &ChangeError{Transform: "message.key.columns", Table: name, Column: c, Err: ErrNoKeyColumn}}
		}
	}
	d := *t
	d.Columns = slices.Clone(t.Columns)
	for j := range d.Columns {
		d.Columns[j].Key = slices.Contains(cols, d.Columns[j].Name)
	}
	return &keyPlan{table: &d}
}

// Apply returns c with the derived table of its table, or c itself for a table no entry
// matches. The rows are shared with c.
func (k *KeyColumns) Apply(c *decoder.Change) (*decoder.Change, error) {
	if c == nil || c.Table == nil {
		return c, nil
	}
	p := k.plans.get(c.Table)
	switch {
	case p.pass:
		return c, nil
	case p.err != nil:
		return nil, p.err
	}
	out := *c
	out.Table = p.table
	return &out, nil
}
