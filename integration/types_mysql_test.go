package integration

import (
	"encoding/hex"
	"fmt"
	"testing"
	"time"
)

// TestTypesMySQLSpatialAndMariaDBTypes snapshots rows of MySQL's spatial types and MariaDB's
// UUID, INET4 and INET6, streams the same rows from the binlog, and checks each value as a
// consumer decodes it through the registry: Debezium's Geometry (WKB and SRID) for the
// spatial ones, the server's text for the others, alike in the snapshot and the stream; then
// columns of these types added by a DDL while streaming.
func TestTypesMySQLSpatialAndMariaDBTypes(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE geo (id int PRIMARY KEY, g geometry, p point, ls linestring,
		mp multipolygon, u uuid, u4 uuid, i4 inet4, i4z inet4, i6 inet6, i6z inet6, i6m inet6)`)
	// MariaDB stores a v1 UUID with its segments swapped and a v4 one too; the binlog has them
	// in display order.
	values := func(id int) string {
		return fmt.Sprintf(`(%d, ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POINT(1 2)', 4326),
			ST_GeomFromText('LINESTRING(1 1,2 2,3 3)', 3857), ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))'),
			'6ccd780c-baba-1026-9564-5b8c656024db', '123e4567-e89b-42d3-a456-426614174000', '1.2.0.0', '0.0.0.0',
			'2001:db8::1:0:0:1', '::', '::ffff:1.2.3.4')`, id)
	}
	mustExecMySQL(t, m.DB, `INSERT INTO geo VALUES `+values(1)+`, (3, NULL, NULL, NULL, NULL, '00000000-0000-0000-0000-000000000000',
		'ffffffff-ffff-ffff-ffff-ffffffffffff', NULL, NULL, NULL, NULL, NULL)`)
	c := NewMySQLConnector(t, m, "geo")
	cdcd := c.StartStreaming(t)
	mustExecMySQL(t, m.DB, `INSERT INTO geo VALUES `+values(2)+`, (4, NULL, NULL, NULL, NULL, '00000000-0000-0000-0000-000000000000',
		'ffffffff-ffff-ffff-ffff-ffffffffffff', NULL, NULL, NULL, NULL, NULL)`)

	// The expected WKB, as the server writes it.
	wkb := map[string][]byte{}
	for col, srid := range map[string]int{"g": 0, "p": 4326, "ls": 3857, "mp": 0} {
		var h string
		var s int
		if err := m.DB.QueryRowContext(t.Context(), `SELECT HEX(ST_AsBinary(`+col+`)), ST_SRID(`+col+`) FROM geo WHERE id = 1`).Scan(&h, &s); err != nil {
			t.Fatal(err)
		}
		if s != srid {
			t.Fatalf("%s: SRID %d, want %d", col, s, srid)
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		wkb[col] = b
	}
	geometry := func(col string, srid int) map[string]any {
		g := map[string]any{"wkb": wkb[col], "srid": nil}
		if srid != 0 {
			g["srid"] = srid
		}
		return g
	}
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("geo")).Collect(t, 4, 2*time.Minute)
	want := map[string]any{
		"g": geometry("g", 0), "p": geometry("p", 4326), "ls": geometry("ls", 3857), "mp": geometry("mp", 0),
		"u": "6ccd780c-baba-1026-9564-5b8c656024db", "u4": "123e4567-e89b-42d3-a456-426614174000",
		"i4": "1.2.0.0", "i4z": "0.0.0.0", "i6": "2001:db8::1:0:0:1", "i6z": "::", "i6m": "::ffff:1.2.3.4",
	}
	nulls := map[string]any{"g": nil, "p": nil, "ls": nil, "mp": nil, "u": "00000000-0000-0000-0000-000000000000",
		"u4": "ffffffff-ffff-ffff-ffff-ffffffffffff", "i4": nil, "i4z": nil, "i6": nil, "i6z": nil, "i6m": nil}
	for i, r := range []struct {
		id   int
		op   string
		want map[string]any
	}{{1, "r", want}, {3, "r", nulls}, {2, "c", want}, {4, "c", nulls}} {
		if got[i].Op() != r.op {
			t.Errorf("record %d: op %s, want %s", i+1, got[i].Op(), r.op)
		}
		w := map[string]any{"id": r.id}
		for k, v := range r.want {
			w[k] = v
		}
		expectRow(t, fmt.Sprintf("row %d (op %s)", r.id, r.op), got[i].After(), w)
	}

	// Columns of these types added by a DDL while streaming (the TiDB parser reads it).
	mustExecMySQL(t, m.DB, `ALTER TABLE geo ADD COLUMN g2 point, ADD COLUMN u2 uuid NOT NULL DEFAULT '6ccd780c-baba-1026-9564-5b8c656024db', ADD i62 inet6`)
	mustExecMySQL(t, m.DB, `INSERT INTO geo (id, g2, i62) VALUES (5, ST_GeomFromText('POINT(1 2)', 4326), '::1')`)
	more := NewAvroConsumer(t, c.RegistryURL(), c.Topic("geo")).Collect(t, 5, 2*time.Minute)
	w := map[string]any{"id": 5, "g2": geometry("p", 4326), "u2": "6ccd780c-baba-1026-9564-5b8c656024db", "i62": "::1"}
	for k := range want {
		w[k] = nil
	}
	w["u"], w["u4"] = nil, nil
	expectRow(t, "row 5, after the DDL", more[4].After(), w)
	if cdcd.Exited() {
		t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
	}
}
