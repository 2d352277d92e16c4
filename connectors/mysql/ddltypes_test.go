package mysql

import "testing"

func TestRewriteDDLTypes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ALTER TABLE t ADD COLUMN g geometry NOT NULL", "ALTER TABLE t ADD COLUMN g enum('__cdcd_type__geometry') NOT NULL"},
		{"ALTER TABLE t ADD point POINT, ADD `uuid` uuid DEFAULT 'uuid'", "ALTER TABLE t ADD point enum('__cdcd_type__point'), ADD `uuid` enum('__cdcd_type__uuid') DEFAULT 'uuid'"},
		{"CREATE TABLE x (point point, i6 inet6, KEY (point), g int) COMMENT 'a point point'",
			"CREATE TABLE x (point enum('__cdcd_type__point'), i6 enum('__cdcd_type__inet6'), KEY (point), g int) COMMENT 'a point point'"},
		{"ALTER TABLE t CHANGE COLUMN a b inet4, CHANGE c d uuid, MODIFY e linestring",
			"ALTER TABLE t CHANGE COLUMN a b enum('__cdcd_type__inet4'), CHANGE c d enum('__cdcd_type__uuid'), MODIFY e enum('__cdcd_type__linestring')"},
		{"ALTER TABLE t ADD COLUMN IF NOT EXISTS g /* geometry */ geometry -- point point\n", "ALTER TABLE t ADD COLUMN IF NOT EXISTS g /* geometry */ enum('__cdcd_type__geometry') -- point point\n"},
		{"ALTER TABLE t CHANGE point uuid int", "ALTER TABLE t CHANGE point uuid int"},
		{"INSERT INTO t VALUES (point(1, 2))", "INSERT INTO t VALUES (point(1, 2))"},
		{"ALTER TABLE t ADD v varchar(10)", "ALTER TABLE t ADD v varchar(10)"},
	} {
		if got := rewriteDDLTypes(tc.in); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// A DDL with the types the parser does not know gives the model the columns information_schema
// would, which the decoder maps.
func TestSchemaApplyExtraTypes(t *testing.T) {
	sc := newScope(Config{Databases: []string{"shop"}})
	st := newSchemaTracker(testConfig(), testModel())
	_, err := st.apply(sc, "shop", "ALTER TABLE orders ADD COLUMN g geometry, ADD p point NOT NULL, ADD u uuid DEFAULT '6ccd780c-baba-1026-9564-5b8c656024db', "+
		"ADD i4 inet4, ADD i6 inet6", "0-1-11", startPos(t))
	if err != nil {
		t.Fatal(err)
	}
	want := `v2 utf8mb4 [id bigint(20) key, qty bigint(20) null, g geometry null, p point, u uuid null default "6ccd780c-baba-1026-9564-5b8c656024db", i4 inet4 null, i6 inet6 null]`
	if got := render(st.model.Tables["shop.orders"]); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if _, err := st.capturedTables(); err != nil {
		t.Error(err)
	}
}
