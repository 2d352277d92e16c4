package decoder

import (
	"bytes"
	"math"
	"slices"
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
