package transform

import (
	"math"
	"math/big"
	"reflect"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/cdcd-dev/cdcd/decoder"
)

// rowVal is a CEL map over one row of a change: a key is a column name, its value is converted
// when it is read (valueOf), so that an expression reading one column costs one conversion,
// not a map of the row. A nil row is the empty map.
type rowVal struct {
	plan *rowPlan
	vals []decoder.Value
}

var _ traits.Mapper = (*rowVal)(nil)

// find returns the column's value, or false when the row has no such column.
func (r *rowVal) find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok || r.vals == nil {
		return nil, false
	}
	i, ok := r.plan.index[string(k)]
	if !ok || i >= len(r.vals) {
		return nil, false
	}
	return valueOf(&r.plan.cols[i], &r.vals[i]), true
}

// Find implements traits.Mapper.
func (r *rowVal) Find(key ref.Val) (ref.Val, bool) {
	v, ok := r.find(key)
	if ok && types.IsError(v) {
		// An unreadable value (unchanged TOAST, a bad zoned timestamp) is an error, not absent.
		return v, true
	}
	return v, ok
}

// Get implements traits.Indexer: a missing column is an error naming it.
func (r *rowVal) Get(key ref.Val) ref.Val {
	if v, ok := r.find(key); ok {
		return v
	}
	return types.NewErr("no such column: %v", key)
}

// Contains implements traits.Container: has(after.x) is true when the row has column x.
func (r *rowVal) Contains(key ref.Val) ref.Val {
	_, ok := r.find(key)
	return types.Bool(ok)
}

// Size implements traits.Sizer.
func (r *rowVal) Size() ref.Val {
	if r.vals == nil {
		return types.IntZero
	}
	return types.Int(min(len(r.vals), len(r.plan.cols)))
}

// materialize builds the whole row as a CEL map, for the rare uses that need it (iteration,
// equality, conversion to Go).
func (r *rowVal) materialize() traits.Mapper {
	m := map[ref.Val]ref.Val{}
	if r.vals != nil {
		for i := range min(len(r.vals), len(r.plan.cols)) {
			m[types.String(r.plan.cols[i].Name)] = valueOf(&r.plan.cols[i], &r.vals[i])
		}
	}
	return types.NewRefValMap(types.DefaultTypeAdapter, m)
}

// Iterator implements traits.Iterable.
func (r *rowVal) Iterator() traits.Iterator { return r.materialize().Iterator() }

// ConvertToNative implements ref.Val.
func (r *rowVal) ConvertToNative(t reflect.Type) (any, error) {
	return r.materialize().ConvertToNative(t)
}

// ConvertToType implements ref.Val.
func (r *rowVal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return r
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to '%s'", t)
}

// Equal implements ref.Val.
func (r *rowVal) Equal(other ref.Val) ref.Val { return r.materialize().Equal(other) }

// Type implements ref.Val.
func (r *rowVal) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (r *rowVal) Value() any { return r.materialize().Value() }

// valueOf converts one column value to CEL by its logical type:
//
//	bool                                   bool
//	int16, int32, int64, year              int
//	float32, float64                       double
//	decimal, variable decimal              double (the nearest; exact to 15 significant digits)
//	string, json, uuid, enum, set,
//	zoned time                             string
//	bytes, bits                            bytes
//	date                                   google.protobuf.Timestamp, midnight UTC
//	timestamp (millis, micros), zoned
//	timestamp                              google.protobuf.Timestamp (UTC)
//	time (millis, micros), interval        google.protobuf.Duration
//	array                                  list of the element type's values
//
// NULL is null; a value the source did not send (unchanged TOAST) is an error.
func valueOf(c *decoder.Column, v *decoder.Value) ref.Val {
	switch v.State {
	case decoder.ValueNull:
		return types.NullValue
	case decoder.ValueUnchanged:
		return types.NewErr("column %s: unchanged value not sent by the source", c.Name)
	}
	switch c.Type {
	case decoder.TypeBool:
		return types.Bool(v.Int != 0)
	case decoder.TypeInt16, decoder.TypeInt32, decoder.TypeInt64, decoder.TypeYear:
		return types.Int(v.Int)
	case decoder.TypeFloat32, decoder.TypeFloat64:
		return types.Double(v.Float)
	case decoder.TypeDecimal:
		return types.Double(decimalFloat(v.Bytes, int32(c.Scale)))
	case decoder.TypeVariableDecimal:
		return types.Double(decimalFloat(v.Bytes, v.Scale))
	case decoder.TypeString, decoder.TypeJSON, decoder.TypeUUID, decoder.TypeEnum, decoder.TypeEnumSet,
		decoder.TypeZonedTime:
		return types.String(v.Bytes)
	case decoder.TypeBytes, decoder.TypeBits:
		return types.Bytes(v.Bytes)
	case decoder.TypeDate:
		return types.Timestamp{Time: time.Unix(v.Int*86400, 0).UTC()}
	case decoder.TypeTimestampMillis:
		return types.Timestamp{Time: time.UnixMilli(v.Int).UTC()}
	case decoder.TypeTimestampMicros:
		return types.Timestamp{Time: time.UnixMicro(v.Int).UTC()}
	case decoder.TypeZonedTimestamp:
		t, err := time.Parse(time.RFC3339Nano, string(v.Bytes))
		if err != nil {
			return types.NewErr("column %s: zoned timestamp %q: %v", c.Name, v.Bytes, err)
		}
		return types.Timestamp{Time: t.UTC()}
	case decoder.TypeTimeMillis:
		return types.Duration{Duration: time.Duration(v.Int) * time.Millisecond}
	case decoder.TypeTimeMicros, decoder.TypeIntervalMicros:
		return types.Duration{Duration: time.Duration(v.Int) * time.Microsecond}
	case decoder.TypeArray:
		if c.Elem == nil {
			return types.NewErr("column %s: array without element type", c.Name)
		}
		elems := make([]ref.Val, len(v.Elems))
		for i := range v.Elems {
			elems[i] = valueOf(c.Elem, &v.Elems[i])
		}
		return types.NewRefValList(types.DefaultTypeAdapter, elems)
	}
	return types.NewErr("column %s: type %d not readable by a filter", c.Name, c.Type)
}

var pow10 = func() [23]float64 {
	var p [23]float64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimalFloat converts an unscaled big-endian two's complement integer at scale to the
// nearest float64 (for unscaled values up to 2^53 and scales up to 22, exactly rounded).
func decimalFloat(unscaled []byte, scale int32) float64 {
	if len(unscaled) == 0 {
		return 0
	}
	if len(unscaled) <= 8 && scale >= 0 && int(scale) < len(pow10) {
		var u int64
		if unscaled[0]&0x80 != 0 {
			u = -1
		}
		for _, b := range unscaled {
			u = u<<8 | int64(b)
		}
		return float64(u) / pow10[scale]
	}
	n := new(big.Int).SetBytes(unscaled)
	if unscaled[0]&0x80 != 0 { // negative: subtract 2^(8*len)
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(unscaled))))
	}
	f, _ := new(big.Float).SetInt(n).Float64()
	return f / math.Pow(10, float64(scale))
}
