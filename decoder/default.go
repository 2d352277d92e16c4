package decoder

import (
	"bytes"
	"math"
	"slices"
	"strings"
)

// SameDefault tells whether two column defaults (Column.Default) are the same value; nil is
// no default.
func SameDefault(a, b *Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	return equalValue(a, b)
}

func equalValue(a, b *Value) bool {
	return a.State == b.State && a.Int == b.Int && a.Scale == b.Scale &&
		math.Float64bits(a.Float) == math.Float64bits(b.Float) && bytes.Equal(a.Bytes, b.Bytes) &&
		slices.EqualFunc(a.Elems, b.Elems, func(x, y Value) bool { return equalValue(&x, &y) })
}

// ownedDefault returns a copy of v that owns its bytes, for a Column.Default: a plan's Value
// may point into the text it was parsed from.
func ownedDefault(v Value) *Value {
	v.State = ValueSet
	c := cloneValues([]Value{v})
	return &c[0]
}

// pgDefault returns the Column.Default of a PostgreSQL column whose default PostgreSQL
// deparses as expr, parsed by the column's plan as a value of the stream; nil when the
// default is not a constant (now(), nextval('s'::regclass), (2 + 3)) or is NULL, and when the
// column's type cannot hold it as the stream would send it (a literal a plan refuses).
func pgDefault(expr string, plan pgPlan) *Value {
	lit, ok := pgDefaultLiteral(expr)
	if !ok {
		return nil
	}
	var v Value
	if err := plan([]byte(lit), &v); err != nil {
		return nil
	}
	return ownedDefault(v)
}

// pgDefaultLiteral returns the value text of a constant default as pg_get_expr deparses it:
// a quoted literal (quotes in it doubled) followed by casts ('x'::text, '-3'::integer,
// '{}'::text[]), a bare number (5, 12.5) or a boolean (true, false: the text "t" or "f", as
// pgoutput sends booleans). ok is false for anything else: a function call, an operator,
// NULL, an escape string (E'...').
func pgDefaultLiteral(expr string) (string, bool) {
	expr = strings.TrimSpace(expr)
	switch expr {
	case "true":
		return "t", true
	case "false":
		return "f", true
	}
	if isPGNumber(expr) {
		return expr, true
	}
	if !strings.HasPrefix(expr, "'") {
		return "", false
	}
	var b strings.Builder
	i := 1
	for {
		j := strings.IndexByte(expr[i:], '\'')
		if j < 0 {
			return "", false
		}
		b.WriteString(expr[i : i+j])
		i += j + 1
		if i < len(expr) && expr[i] == '\'' { // a doubled quote
			b.WriteByte('\'')
			i++
			continue
		}
		break
	}
	casts := expr[i:]
	if casts == "" {
		return b.String(), true
	}
	if !strings.HasPrefix(casts, "::") {
		return "", false
	}
	for _, c := range casts {
		// A type name: letters, digits, spaces, quotes, a schema's dot, a typmod, array brackets.
		if !(c == ':' || c == ' ' || c == '_' || c == '"' || c == '.' || c == '(' || c == ')' || c == ',' ||
			c == '[' || c == ']' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return "", false
		}
	}
	return b.String(), true
}

// isPGNumber tells whether s is a numeric constant as pg_get_expr writes one: digits with an
// optional fraction (a negative number is deparsed quoted, with a cast).
func isPGNumber(s string) bool {
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// mysqlDefault returns the Column.Default of a MySQL column whose constant default has the
// value text lit, parsed by the column's plan as a snapshot's text; nil when the plan refuses
// it (a zero date in a NOT NULL column, a value out of the column's range). A string's
// default is taken as is: the DDL and information_schema give it in UTF-8 whatever the
// column's character set.
func mysqlDefault(c Column, plan mysqlPlan, lit string) *Value {
	switch c.Type {
	case TypeString:
		return ownedDefault(Value{Bytes: []byte(lit)})
	case TypeEnum, TypeEnumSet:
		// The plans read the index or bitmap the binlog and the snapshot (column+0) carry;
		// a default is the label text.
		return mysqlLabelsDefault(c, lit)
	}
	var v Value
	var a mysqlArena
	if err := plan([]byte(lit), &v, &a); err != nil {
		return nil
	}
	return ownedDefault(v)
}

// mysqlLabelsDefault returns the default of an ENUM (one label) or SET (labels joined by
// commas) column: the labels lit names, matched as MySQL does without regard to case, spelt
// as the column defines them and, for a SET, in its order, as the plans write values; nil
// when lit names a label the column lacks.
func mysqlLabelsDefault(c Column, lit string) *Value {
	label := func(s string) int {
		return slices.IndexFunc(c.EnumValues, func(l string) bool { return strings.EqualFold(l, s) })
	}
	if c.Type == TypeEnum {
		if i := label(lit); i >= 0 {
			return ownedDefault(Value{Bytes: []byte(c.EnumValues[i])})
		}
		return nil
	}
	in := make([]bool, len(c.EnumValues))
	if lit != "" {
		for part := range strings.SplitSeq(lit, ",") {
			i := label(part)
			if i < 0 {
				return nil
			}
			in[i] = true
		}
	}
	var out []string
	for i, l := range c.EnumValues {
		if in[i] {
			out = append(out, l)
		}
	}
	return ownedDefault(Value{Bytes: []byte(strings.Join(out, ","))})
}
