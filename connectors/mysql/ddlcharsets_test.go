package mysql

import (
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

// TestSchemaApplyAnyCharset: a DDL naming any of MariaDB's character sets parses; the decoder
// then decodes the columns, or refuses one whose character set it cannot convert by name.
func TestSchemaApplyAnyCharset(t *testing.T) {
	sc := newScope(Config{Databases: []string{"shop"}})
	for _, tc := range []struct {
		ddl, table, want string
		refused          bool
	}{
		{"ALTER TABLE orders ADD a varchar(5) CHARACTER SET cp1251, ADD b text CHARSET koi8r COLLATE koi8r_bin, ADD c char(2) CHARACTER SET ucs2",
			"shop.orders", "v2 utf8mb4 [id bigint(20) key, qty bigint(20) null, a varchar(5) cp1251 null, b text koi8r null, c char(2) ucs2 null]", false},
		{"ALTER TABLE orders ADD d varchar(5) CHARACTER SET utf16le, ADD e varchar(3) COLLATE sjis_japanese_ci, ADD f varchar(3) CHARACTER SET utf32",
			"shop.orders", "v2 utf8mb4 [id bigint(20) key, qty bigint(20) null, d varchar(5) utf16le null, e varchar(3) sjis null, f varchar(3) utf32 null]", false},
		{"CREATE TABLE t9 (a varchar(5), b enum('x') CHARACTER SET big5) DEFAULT CHARSET=ujis",
			"shop.t9", "v1 ujis [a varchar(5) ujis null, b enum('x') big5 null]", false},
		{"CREATE TABLE t10 (a varchar(5)) CHARSET=eucjpms COLLATE eucjpms_bin", "shop.t10", "v1 eucjpms [a varchar(5) eucjpms null]", false},
		{"ALTER TABLE orders ADD s char(3), CONVERT TO CHARACTER SET greek", "shop.orders",
			"v2 greek [id bigint(20) key, qty bigint(20) null, s char(3) greek null]", false},
		{"ALTER TABLE orders ADD g varchar(5) CHARACTER SET armscii8", "shop.orders",
			"v2 utf8mb4 [id bigint(20) key, qty bigint(20) null, g varchar(5) armscii8 null]", true},
	} {
		st := newSchemaTracker(testConfig(), testModel())
		if _, err := st.apply(sc, "shop", tc.ddl, "0-1-11", startPos(t)); err != nil {
			t.Errorf("%s: %v", tc.ddl, err)
			continue
		}
		if got := render(st.model.Tables[tc.table]); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.ddl, got, tc.want)
		}
		_, err := st.capturedTables()
		if refused := errors.Is(err, decoder.ErrMySQLUnsupportedCharset); refused != tc.refused || (err != nil && !refused) {
			t.Errorf("%s: capturedTables = %v, refused want %t", tc.ddl, err, tc.refused)
		}
	}
}
