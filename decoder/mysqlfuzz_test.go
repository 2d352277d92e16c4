package decoder

import (
	"errors"
	"testing"
)

// FuzzMySQLColumnType feeds COLUMN_TYPE strings (and a charset) to NewMySQLTable, then the
// value shapes go-mysql yields (text, bytes, an integer) to the resulting decoder: nothing may
// panic, every failure must be a *MySQLColumnError with one of the sentinels, and a table that
// builds must have a decoder. The seed corpus is in testdata/fuzz/FuzzMySQLColumnType.
func FuzzMySQLColumnType(f *testing.F) {
	for _, typ := range []string{"int(10) unsigned", "decimal(10,2)", `enum('a','it''s','c\\d')`,
		"set('x','y')", "datetime(6)", "timestamp(3)", "time(6)", "bit(12)", "binary(4)", "year(4)"} {
		f.Add(typ, "utf8mb4", "2024-01-02 03:04:05.5", int64(-1))
	}
	f.Add("varchar(20)", "latin1", "caf\xe9", int64(0))
	f.Add("text", "utf16", "\xd8\x3d\xde\x00", int64(3))
	f.Fuzz(func(t *testing.T, typ, charset, text string, n int64) {
		tbl, err := NewMySQLTable("db", "t", []MySQLColumnDef{{Name: "c", ColumnType: typ, Charset: charset, Nullable: n%2 == 0}}, 1)
		if err != nil {
			var ce *MySQLColumnError
			if !errors.As(err, &ce) || !(errors.Is(err, ErrMySQLBadColumnType) ||
				errors.Is(err, ErrMySQLUnsupportedType) || errors.Is(err, ErrMySQLUnsupportedCharset)) {
				t.Fatalf("NewMySQLTable(%q, %q): untyped error %v", typ, charset, err)
			}
			return
		}
		if tbl.Columns[0].Type == TypeInvalid {
			t.Fatalf("NewMySQLTable(%q): column without a type", typ)
		}
		d, err := NewMySQLRowDecoder(tbl)
		if err != nil {
			t.Fatalf("NewMySQLRowDecoder(%q): %v", typ, err)
		}
		dst := make([]Value, 1)
		for _, in := range []any{text, []byte(text), n, int8(n), uint64(n)} {
			err := d.Decode([]any{in}, dst)
			if err != nil && !errors.Is(err, ErrMySQLBadValue) && !errors.Is(err, ErrMySQLZeroDate) {
				t.Fatalf("Decode(%q, %T %v): untyped error %v", typ, in, in, err)
			}
		}
	})
}
