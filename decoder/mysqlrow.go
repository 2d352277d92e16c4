package decoder

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
)

// ConfigureMySQLSyncer sets the decoding options of go-mysql's binlog syncer config that
// MySQLRowDecoder.Decode relies on; the connector calls it on its config before
// NewBinlogSyncer. Decimals come as their exact text (UseDecimal off: no float or
// shopspring round trip), datetimes as "YYYY-MM-DD HH:MM:SS[.ffffff]" text (ParseTime off, so
// zero and partial dates keep their digits), TIMESTAMP columns as the same text in UTC
// (TimestampStringLocation), floats as plain float32/float64.
//
// Decode also accepts the other shapes (time.Time, fmt.Stringer decimals, []byte text from a
// snapshot query), but TIMESTAMP text is only right in UTC: leaving TimestampStringLocation
// unset makes go-mysql format it in the process's local zone.
func ConfigureMySQLSyncer(cfg *replication.BinlogSyncerConfig) {
	cfg.UseDecimal = false
	cfg.ParseTime = false
	cfg.TimestampStringLocation = time.UTC
	cfg.UseFloatWithTrailingZero = false
}

// mysqlPlan decodes one non-NULL column value, in the Go type go-mysql's replication package
// yields for it, into v (whose State the caller has set to ValueSet; a plan sets ValueNull for
// a zero date). Memory for v.Bytes comes from the arena or aliases in (a []byte from the row
// event). Plans are chosen once per column by NewMySQLRowDecoder.
type mysqlPlan func(in any, v *Value, a *mysqlArena) error

// MySQLRowDecoder converts the values go-mysql's replication package decodes for one row of a
// table into Values; built once per *Table (plans per column), reused per row. It is not safe
// for concurrent use.
type MySQLRowDecoder struct {
	table *Table
	plans []mysqlPlan
	arena mysqlArena
}

// NewMySQLRowDecoder builds the decoder of a table NewMySQLTable built. It fails with a
// *MySQLColumnError when a column's SourceType has no plan (a Table not from NewMySQLTable).
func NewMySQLRowDecoder(t *Table) (*MySQLRowDecoder, error) {
	d := &MySQLRowDecoder{table: t, plans: make([]mysqlPlan, len(t.Columns))}
	for i, c := range t.Columns {
		// A text column's SourceType carries its charset when it is not UTF-8 already (see
		// NewMySQLTable), so the Table alone gives back the plan.
		def := MySQLColumnDef{Name: c.Name, ColumnType: c.SourceType, Nullable: c.Optional, Key: c.Key}
		got, plan, err := mysqlColumnPlan(def)
		if err == nil && got.Type != c.Type {
			err = fmt.Errorf("%w: column type %s does not give the table's type", ErrMySQLBadColumnType, c.SourceType)
		}
		if err != nil {
			return nil, &MySQLColumnError{Database: t.Namespace, Table: t.Name, Column: c.Name,
				ColumnType: c.SourceType, Err: err}
		}
		d.plans[i] = plan
	}
	return d, nil
}

// Decode fills dst (len = len(t.Columns)) from row (go-mysql's []any for one row image). A
// nil value is NULL (go-mysql also leaves nil the columns a minimal row image omits). A value
// that does not fit its column is a *MySQLColumnError; dst is then partly filled.
//
// dst's Bytes either alias row's []byte values (valid as long as the binlog event is) or
// point into memory the decoder never reuses.
func (d *MySQLRowDecoder) Decode(row []any, dst []Value) error {
	if len(row) != len(d.plans) || len(dst) != len(d.plans) {
		return fmt.Errorf("decoding a row of %s.%s: %d values into %d, table has %d columns: %w",
			d.table.Namespace, d.table.Name, len(row), len(dst), len(d.plans), ErrMySQLRowShape)
	}
	for i, plan := range d.plans {
		dst[i] = Value{}
		if row[i] == nil {
			continue
		}
		dst[i].State = ValueSet
		if err := plan(row[i], &dst[i], &d.arena); err != nil {
			c := &d.table.Columns[i]
			return &MySQLColumnError{Database: d.table.Namespace, Table: d.table.Name, Column: c.Name,
				ColumnType: c.SourceType, Err: err}
		}
	}
	return nil
}

// asInt reads any Go integer, or decimal text, as a signed value (ok) or as an unsigned one
// above MaxInt64 (big).
func asInt(in any) (n int64, u uint64, big, ok bool) {
	switch x := in.(type) {
	case int8:
		return int64(x), 0, false, true
	case int16:
		return int64(x), 0, false, true
	case int32:
		return int64(x), 0, false, true
	case int64:
		return x, 0, false, true
	case int:
		return int64(x), 0, false, true
	case uint8:
		return int64(x), 0, false, true
	case uint16:
		return int64(x), 0, false, true
	case uint32:
		return int64(x), 0, false, true
	case uint:
		return asInt(uint64(x))
	case uint64:
		if x > math.MaxInt64 {
			return 0, x, true, true
		}
		return int64(x), 0, false, true
	case string:
		return textInt(x)
	case []byte:
		return textInt(string(x))
	}
	return 0, 0, false, false
}

// isUnsignedGoInt tells whether go-mysql gave an integer as one of Go's unsigned types.
func isUnsignedGoInt(in any) bool {
	switch in.(type) {
	case uint8, uint16, uint32, uint64, uint:
		return true
	}
	return false
}

func textInt(s string) (int64, uint64, bool, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, 0, false, true
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return 0, u, true, true
	}
	return 0, 0, false, false
}

// mysqlIntPlan decodes an integer of the given width. go-mysql yields an unsigned column's
// value as a signed Go int of the column's width unless the table map carried the signedness
// (binlog_row_metadata=FULL), so a negative value in an unsigned column is taken modulo 2^bits.
// The other way round, go-mysql 1.16 misreads MySQL 8's signedness metadata after a YEAR
// column (it counts a bit for YEAR, which has none) and yields a signed column's value as an
// unsigned Go int: the server guarantees a signed column holds a signed value, so such a value
// is taken back modulo 2^bits.
func mysqlIntPlan(bits uint, unsigned bool) mysqlPlan {
	lo, hi := int64(-1)<<(bits-1), int64(uint64(1)<<(bits-1)-1)
	return func(in any, v *Value, _ *mysqlArena) error {
		n, u, big, ok := asInt(in)
		if !unsigned && ok && isUnsignedGoInt(in) {
			if big && bits == 64 {
				v.Int = int64(u)
				return nil
			}
			if !big && bits < 64 && n > hi && n < int64(1)<<bits {
				n -= int64(1) << bits
			}
		}
		switch {
		case !ok:
			return mysqlBadValue("integer", in)
		case big:
			if !unsigned || bits != 64 {
				return mysqlBadValue("integer out of range", in)
			}
			v.Int = int64(u) // bigint.unsigned.handling.mode=long: Java's long wraps too
			return nil
		case n < lo:
			return mysqlBadValue("integer out of range", in)
		case unsigned && n < 0 && bits < 64:
			n += int64(1) << bits
		case !unsigned && n > hi, unsigned && bits < 64 && n >= int64(1)<<bits:
			return mysqlBadValue("integer out of range", in)
		}
		v.Int = n
		return nil
	}
}

// planMySQLBool decodes bool/boolean (a tinyint) and bit(1): any non-zero value is true.
func planMySQLBool(in any, v *Value, _ *mysqlArena) error {
	if b, ok := in.(bool); ok {
		if b {
			v.Int = 1
		}
		return nil
	}
	if b, ok := in.([]byte); ok && len(b) == 1 && b[0] <= 1 { // bit(1) from a text query
		v.Int = int64(b[0])
		return nil
	}
	n, u, big, ok := asInt(in)
	if !ok {
		return mysqlBadValue("boolean", in)
	}
	if n != 0 || (big && u != 0) {
		v.Int = 1
	}
	return nil
}

// mysqlBitsPlan decodes bit(n), n > 1, into Debezium's Bits layout: the bits little-endian,
// in (n+7)/8 bytes. go-mysql yields the value as an int64; a text query yields big-endian bytes.
func mysqlBitsPlan(nbits int) mysqlPlan {
	size := (nbits + 7) / 8
	return func(in any, v *Value, a *mysqlArena) error {
		var x uint64
		switch b := in.(type) {
		case []byte:
			if len(b) > size {
				return mysqlBadValue("bit value longer than the column", in)
			}
			for _, c := range b {
				x = x<<8 | uint64(c)
			}
		default:
			n, u, big, ok := asInt(in)
			if !ok {
				return mysqlBadValue("bit", in)
			}
			x = uint64(n)
			if big {
				x = u
			}
		}
		if nbits < 64 && x>>nbits != 0 {
			return mysqlBadValue("bit value wider than the column", in)
		}
		out := a.start(size)
		for i := range size {
			out = append(out, byte(x>>(8*i)))
		}
		v.Bytes = a.commit(out)
		return nil
	}
}

func planMySQLFloat32(in any, v *Value, _ *mysqlArena) error {
	switch x := in.(type) {
	case float32:
		v.Float = float64(x)
	case float64:
		if x != 0 && !math.IsInf(x, 0) && (math.Abs(x) > math.MaxFloat32) {
			return mysqlBadValue("float out of range", in)
		}
		v.Float = float64(float32(x))
	case replication.FloatWithTrailingZero:
		v.Float = float64(float32(x))
	default:
		f, ok := textFloat(in, 32)
		if !ok {
			return mysqlBadValue("float", in)
		}
		v.Float = f
	}
	return nil
}

func planMySQLFloat64(in any, v *Value, _ *mysqlArena) error {
	switch x := in.(type) {
	case float64:
		v.Float = x
	case float32:
		v.Float = float64(x)
	case replication.FloatWithTrailingZero:
		v.Float = float64(x)
	default:
		f, ok := textFloat(in, 64)
		if !ok {
			return mysqlBadValue("double", in)
		}
		v.Float = f
	}
	return nil
}

func textFloat(in any, bits int) (float64, bool) {
	var s string
	switch x := in.(type) {
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, bits)
	return f, err == nil
}

// mysqlDecimalPlan decodes a decimal(p,s) (go-mysql's exact text with UseDecimal off, or a
// shopspring decimal.Decimal through fmt.Stringer with it on) into its unscaled
// two's-complement bytes at scale s.
func mysqlDecimalPlan(scale int) mysqlPlan {
	return func(in any, v *Value, a *mysqlArena) error {
		var s string
		switch x := in.(type) {
		case string:
			s = x
		case []byte:
			s = string(x) // does not escape: no allocation
		case fmt.Stringer:
			s = x.String()
		default:
			return mysqlBadValue("decimal", in)
		}
		// Copy the text into the arena: unscaledBytes writes its result over its input.
		text := a.copyString(s)
		neg, intPart, frac, ok := splitMySQLDecimal(text)
		if !ok {
			return mysqlBadValue("decimal", in)
		}
		for len(frac) > scale { // more digits than the scale: only zeros may go
			if frac[len(frac)-1] != '0' {
				return mysqlBadValue("decimal with more digits than its scale", in)
			}
			frac = frac[:len(frac)-1]
		}
		v.Bytes = unscaledBytes(text, neg, intPart, frac, scale-len(frac))
		return nil
	}
}

// splitMySQLDecimal splits [-+]digits[.digits] (exponents, as a Stringer may write, are not
// accepted).
func splitMySQLDecimal(s []byte) (neg bool, intPart, frac []byte, ok bool) {
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart = s[:i]
	if i < len(s) {
		if s[i] != '.' {
			return false, nil, nil, false
		}
		frac = s[i+1:]
		for _, c := range frac {
			if c < '0' || c > '9' {
				return false, nil, nil, false
			}
		}
	}
	return neg, intPart, frac, len(intPart)+len(frac) > 0
}

// mysqlTextPlan decodes char, varchar and the text types: go-mysql yields a string for the
// first two and []byte for the others, both in the column's charset; a snapshot reads the
// same bytes (see MySQLConvertedText), so both go through this one conversion.
func mysqlTextPlan(cs mysqlCharset) mysqlPlan {
	return func(in any, v *Value, a *mysqlArena) error {
		var ok bool
		switch x := in.(type) {
		case []byte:
			if cs.utf8Already() {
				v.Bytes = x
				return nil
			}
			v.Bytes, ok = cs.toUTF8(x, a)
		case string:
			if cs.utf8Already() {
				v.Bytes = a.copyString(x)
				return nil
			}
			v.Bytes, ok = cs.toUTF8([]byte(x), a)
		}
		if !ok {
			return mysqlBadValue("text in the column's character set", in)
		}
		return nil
	}
}

// mysqlBytesPlan decodes binary, varbinary and the blobs (binary.handling.mode=bytes). A
// binary(n) (pad > 0) is padded with the zero bytes the binlog leaves off.
func mysqlBytesPlan(pad int) mysqlPlan {
	return func(in any, v *Value, a *mysqlArena) error {
		var b []byte
		switch x := in.(type) {
		case []byte:
			b = x
		case string:
			b = a.copyString(x)
		default:
			return mysqlBadValue("binary", in)
		}
		if pad > 0 && len(b) > pad {
			return mysqlBadValue("binary value longer than the column", in)
		}
		if len(b) < pad {
			out := append(a.start(pad), b...)
			for len(out) < pad {
				out = append(out, 0)
			}
			b = a.commit(out)
		}
		v.Bytes = b
		return nil
	}
}

// mysqlJSONPlan passes JSON text through. MySQL's binary JSON comes decoded by go-mysql as a
// string; an empty document (written by INSERT IGNORE or a non-strict mode) comes as empty
// bytes and, as Debezium emits it, is NULL in a nullable column and {} otherwise.
func mysqlJSONPlan(nullable bool) mysqlPlan {
	return func(in any, v *Value, a *mysqlArena) error {
		switch x := in.(type) {
		case string:
			v.Bytes = a.copyString(x)
		case []byte:
			v.Bytes = x
		default:
			return mysqlBadValue("json", in)
		}
		if len(v.Bytes) == 0 {
			if nullable {
				*v = Value{}
			} else {
				v.Bytes = a.copyString("{}")
			}
		}
		return nil
	}
}

// mysqlEnumPlan decodes an ENUM: go-mysql yields the 1-based index of the label (0 is the
// empty string MySQL stores for an invalid value); a snapshot query selects the same index
// (column+0), as text. Both take the label from labels.
func mysqlEnumPlan(labels []string) mysqlPlan {
	return func(in any, v *Value, a *mysqlArena) error {
		n, _, big, ok := asInt(in)
		switch {
		case !ok || big || n < 0 || n > int64(len(labels)):
			return mysqlBadValue("enum index", in)
		case n == 0:
			v.Bytes = a.copyString("")
		default:
			v.Bytes = a.copyString(labels[n-1])
		}
		return nil
	}
}

// mysqlSetPlan decodes a SET: go-mysql yields the bitmap of its labels (bit i for the label
// i), which becomes the labels in the column's order joined with commas, as Debezium's
// EnumSet writes them; a snapshot query selects the same bitmap (column+0), as text.
func mysqlSetPlan(labels []string) mysqlPlan {
	return func(in any, v *Value, a *mysqlArena) error {
		n, u, big, ok := asInt(in)
		if !ok {
			return mysqlBadValue("set bitmap", in)
		}
		bits := uint64(n)
		if big {
			bits = u
		}
		if len(labels) < 64 && bits>>len(labels) != 0 {
			return mysqlBadValue("set bitmap with bits beyond its labels", in)
		}
		size := 0
		for i, l := range labels {
			if bits&(1<<i) != 0 {
				size += len(l) + 1
			}
		}
		out := a.start(size)
		first := true
		for i, l := range labels {
			if bits&(1<<i) != 0 {
				if !first {
					out = append(out, ',')
				}
				out = append(out, l...)
				first = false
			}
		}
		v.Bytes = a.commit(out)
		return nil
	}
}
