package transform

import (
	"errors"
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/cdcd-dev/cdcd/decoder"
)

// ErrFilterResult means a filter expression evaluated to something other than a bool.
var ErrFilterResult = errors.New("filter expression did not give a bool")

// Filter keeps the changes for which a CEL expression is true and drops the others.
//
// The expression sees four variables:
//
//	op     string: "c", "u", "d", "r" or "t"
//	table  string: "schema.table" (MySQL: "database.table")
//	before map(string, dyn): the row before the change, column name -> value; empty when the
//	       change has none (creates, reads, truncates)
//	after  map(string, dyn): the row after the change; empty for deletes and truncates
//
// Column values are converted by their logical type when the expression reads them (a row is
// not converted as a whole), see valueOf; NULL is null. A runtime error (a missing column, a
// column whose unchanged value the source did not send, a type mismatch) is the change's error,
// a *ChangeError: the error policy decides, the change is not silently kept or dropped.
//
// The expression is compiled and type-checked once, in NewFilter; Apply is safe for
// concurrent use.
type Filter struct {
	expr  string
	prg   cel.Program
	plans *planCache[*rowPlan]
	pool  sync.Pool // *activation
}

var _ Transform = (*Filter)(nil)

// NewFilter compiles expr. It fails with a *SettingError naming "expression" when expr is
// empty, does not compile, or cannot give a bool.
func NewFilter(expr string) (*Filter, error) {
	if expr == "" {
		return nil, &SettingError{Transform: "filter", Setting: "expression", Reason: "required"}
	}
	env, err := filterEnv()
	if err != nil {
		return nil, fmt.Errorf("transform filter: environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, &SettingError{Transform: "filter", Setting: "expression", Value: expr, Reason: iss.Err().Error()}
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		return nil, &SettingError{Transform: "filter", Setting: "expression", Value: expr,
			Reason: "gives " + out.String() + ", not bool"}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &SettingError{Transform: "filter", Setting: "expression", Value: expr, Reason: err.Error()}
	}
	f := &Filter{expr: expr, prg: prg, plans: newPlanCache(newRowPlan)}
	f.pool.New = func() any { return new(activation) }
	return f, nil
}

func filterEnv() (*cel.Env, error) {
	row := cel.MapType(cel.StringType, cel.DynType)
	return cel.NewEnv(
		cel.Variable("op", cel.StringType),
		cel.Variable("table", cel.StringType),
		cel.Variable("before", row),
		cel.Variable("after", row),
		// after.amount > 100 must work for a decimal (a double) or a bigint column alike.
		cel.CrossTypeNumericComparisons(true),
	)
}

// String returns the expression.
func (f *Filter) String() string { return "filter(" + f.expr + ")" }

// Apply returns c when the expression is true, nil when it is false, and a *ChangeError when
// it fails or gives no bool.
func (f *Filter) Apply(c *decoder.Change) (*decoder.Change, error) {
	if c == nil || c.Table == nil {
		return nil, &ChangeError{Transform: "filter", Table: qualified(nil), Err: errors.New("change without table")}
	}
	plan := f.plans.get(c.Table)
	a := f.pool.Get().(*activation)
	a.op = opVal(c.Op)
	a.table = plan.tableVal
	a.before = rowVal{plan: plan, vals: c.Before}
	a.after = rowVal{plan: plan, vals: c.After}
	out, _, err := f.prg.Eval(a)
	*a = activation{} // keep no row alive in the pool
	f.pool.Put(a)
	if err != nil {
		return nil, &ChangeError{Transform: "filter", Table: plan.name, Err: fmt.Errorf("%s: %w", f.expr, err)}
	}
	switch out {
	case types.True:
		return c, nil
	case types.False:
		return nil, nil
	}
	return nil, &ChangeError{Transform: "filter", Table: plan.name, Err: fmt.Errorf("%w: %s gave %v", ErrFilterResult, f.expr, out)}
}

// activation resolves the filter's variables for one change without building maps: before and
// after are views over the change's rows.
type activation struct {
	op, table     ref.Val
	before, after rowVal
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "op":
		return a.op, true
	case "table":
		return a.table, true
	case "before":
		return &a.before, true
	case "after":
		return &a.after, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// opVals holds the op letters as CEL values, so that resolving op allocates nothing.
var opVals = func() [256]ref.Val {
	var v [256]ref.Val
	for _, op := range []decoder.Op{decoder.OpCreate, decoder.OpUpdate, decoder.OpDelete, decoder.OpRead, decoder.OpTruncate} {
		v[op] = types.String(op.String())
	}
	return v
}()

func opVal(op decoder.Op) ref.Val {
	if v := opVals[op]; v != nil {
		return v
	}
	return types.String(op.String())
}

// rowPlan is what a filter needs of one table: its columns by name and its name as a value.
type rowPlan struct {
	name     string
	tableVal ref.Val
	index    map[string]int
	cols     []decoder.Column
}

func newRowPlan(t *decoder.Table) *rowPlan {
	p := &rowPlan{name: qualified(t), index: make(map[string]int, len(t.Columns)), cols: t.Columns}
	p.tableVal = types.String(p.name)
	for i, c := range t.Columns {
		p.index[c.Name] = i
	}
	return p
}
