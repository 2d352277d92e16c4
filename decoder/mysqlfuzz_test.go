package decoder

import (
	"errors"
	"testing"
	"unicode/utf8"
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
	f.Add("varchar(20)", "sjis", "\x81\x5f\x81\x60\x82", int64(0))
	f.Add("text", "gb2312", "\xa1\xa4\xa1\xa4a\xa1", int64(0))
	f.Add("varchar(20)", "eucjpms", "\x8f\xa2\xc3\x8f", int64(0))
	f.Add("varchar(20)", "koi8u", "\xae\xff", int64(0))
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
		// Text converted from another charset is UTF-8 whatever its bytes (UTF-8 text is
		// passed as the server validated it).
		_, converted := MySQLConvertedText(MySQLColumnDef{Name: "c", ColumnType: typ, Charset: charset})
		dst := make([]Value, 1)
		for _, in := range []any{text, []byte(text), n, int8(n), uint64(n)} {
			err := d.Decode([]any{in}, dst)
			if err != nil && !errors.Is(err, ErrMySQLBadValue) && !errors.Is(err, ErrMySQLZeroDate) {
				t.Fatalf("Decode(%q, %T %v): untyped error %v", typ, in, in, err)
			}
			if err == nil && converted && dst[0].State == ValueSet && !utf8.Valid(dst[0].Bytes) {
				t.Fatalf("Decode(%q in %s, %q): not UTF-8: %q", typ, charset, in, dst[0].Bytes)
			}
		}
	})
}
