package mysql

import (
	"github.com/pingcap/tidb/pkg/parser/charset"
)

// ddlCharsets are the character sets of MariaDB and MySQL that the TiDB parser knows by name
// but refuses in a DDL ("Unknown character set") because TiDB itself does not store them.
// cdcd only reads DDL: a column in any of them must parse, so that the decoder can decode it
// (or refuse it by name: ErrMySQLUnsupportedCharset), not stop the stream at the statement.
var ddlCharsets = []string{
	"armscii8", "big5", "cp1250", "cp1251", "cp1256", "cp1257", "cp850", "cp852", "cp866", "cp932", "dec8",
	"eucjpms", "euckr", "gb2312", "geostd8", "greek", "hebrew", "hp8", "keybcs2", "koi8r", "koi8u",
	"latin2", "latin5", "latin7", "macce", "macroman", "sjis", "swe7", "tis620", "ucs2", "ujis",
	"utf16", "utf16le", "utf32",
}

// The parser's registry of character sets is global: it is completed once, before any parse.
func init() {
	for _, name := range ddlCharsets {
		// For a character set it knows but does not support, GetCharsetInfo returns its
		// description (with its collations) and an error.
		if cs, err := charset.GetCharsetInfo(name); cs != nil && err != nil {
			charset.AddCharset(cs)
		}
	}
}
