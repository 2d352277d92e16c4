package integration

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgisColumns are the geometry and geography columns of TestTypesPostGISOnRealServer: a
// geometry of any SRID (the values have none, or one), one typed with SRID 4326, and a
// geography (SRID 4326 unless the value says otherwise).
var postgisColumns = []string{"g", "g4326", "gg"}

// postgisRow is a row of the shapes table: the WKT (or EWKT) of each column.
type postgisRow struct {
	id           int
	g, g4326, gg string
}

// TestTypesPostGISOnRealServer loads PostGIS (Debian's postgresql-15-postgis-3, which the
// stack script installs) on a private PostgreSQL 15 and captures points, linestrings and
// polygons (one with a hole), with SRID 4326 and without, in geometry and geography columns:
// rows of the initial snapshot, then streamed inserts, an update and a row of NULLs. Each
// value is Debezium's Geometry (or Geography) struct whose wkb is byte for byte what
// PostGIS's ST_AsBinary returns for the row, and whose srid is ST_SRID's (null for 0).
func TestTypesPostGISOnRealServer(t *testing.T) {
	pg := StartPrivatePostgresVersion(t, "15")
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE EXTENSION postgis;
		CREATE TABLE shapes (id int PRIMARY KEY, g geometry, g4326 geometry(Geometry, 4326), gg geography)`)
	insert := func(r postgisRow) {
		t.Helper()
		mustExec(t, conn, `INSERT INTO shapes VALUES ($1, $2::geometry, ST_GeomFromEWKT($3), $4::geography)`, r.id, r.g, r.g4326, r.gg)
	}
	snapshot := []postgisRow{
		{id: 1, g: "POINT(1 2)", g4326: "SRID=4326;POINT(13.4050 52.5200)", gg: "POINT(2.3522 48.8566)"},
		{id: 2, g: "LINESTRING(0 0,1 1,2 3.5)", g4326: "SRID=4326;LINESTRING(-1 -1,0.5 0.25)", gg: "SRID=4326;LINESTRING(0 0,10 10)"},
		{id: 3, g: "SRID=4326;POLYGON((0 0,4 0,4 4,0 4,0 0),(1 1,2 1,2 2,1 1))", g4326: "SRID=4326;POLYGON((0 0,1 0,1 1,0 0))",
			gg: "POLYGON((0 0,1 0,1 1,0 1,0 0))"},
	}
	for _, r := range snapshot {
		insert(r)
	}
	// What PostGIS says of each row now, before the update changes row 1.
	want := map[int]map[string]any{}
	for _, r := range snapshot {
		want[r.id] = postgisExpected(t, conn, r.id)
	}

	c := NewPostgresConnector(t, db, "public.shapes")
	cdcd := c.StartStreaming(t, conn)
	streamed := []postgisRow{
		{id: 4, g: "POINT(-71.0603 42.3583)", g4326: "SRID=4326;POINT(-0.1276 51.5072)", gg: "SRID=4326;POINT(139.6917 35.6895)"},
		{id: 5, g: "SRID=4326;LINESTRING(1 2,3 4,5 6)", g4326: "SRID=4326;LINESTRING(0 0,0 1)", gg: "LINESTRING(-10 -10,10 10)"},
		{id: 6, g: "POLYGON((10 10,20 10,20 20,10 10))", g4326: "SRID=4326;POLYGON((0 0,3 0,3 3,0 3,0 0),(1 1,2 1,2 2,1 1))",
			gg: "SRID=4326;POLYGON((0 0,2 0,2 2,0 2,0 0))"},
	}
	for _, r := range streamed {
		insert(r)
		want[r.id] = postgisExpected(t, conn, r.id)
	}
	mustExec(t, conn, `UPDATE shapes SET g = 'LINESTRING(5 5,6 6)', g4326 = ST_GeomFromEWKT('SRID=4326;POINT(1 1)'),
		gg = 'SRID=4326;POLYGON((1 1,2 1,2 2,1 1))' WHERE id = 1`)
	updated := postgisExpected(t, conn, 1)
	mustExec(t, conn, `INSERT INTO shapes (id) VALUES (7)`)

	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("shapes")).Collect(t, 8, 2*time.Minute)
	for i, r := range got[:6] {
		op := "r"
		if i >= 3 {
			op = "c"
		}
		if r.Op() != op {
			t.Errorf("record %d: op %s, want %s", i+1, r.Op(), op)
		}
		checkPostgisRow(t, fmt.Sprintf("record %d (op %s)", i+1, op), r.After(), want[i+1])
	}
	if got[6].Op() != "u" {
		t.Fatalf("record 7: op %s, want u", got[6].Op())
	}
	checkPostgisRow(t, "the update's after", got[6].After(), updated)
	nulls := map[string]any{"id": 7}
	for _, col := range postgisColumns {
		nulls[col] = nil
	}
	expectRow(t, "the row of NULLs", got[7].After(), nulls)
	if cdcd.Exited() {
		t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
	}
}

// postgisExpected reads what PostGIS returns for row id: each column's ST_AsBinary and ST_SRID
// (nil for SRID 0, as Debezium's struct has no SRID then), as {"wkb", "srid"} maps.
func postgisExpected(t *testing.T, conn *pgx.Conn, id int) map[string]any {
	t.Helper()
	out := map[string]any{"id": id}
	for _, col := range postgisColumns {
		var wkb []byte
		var srid int32
		if err := conn.QueryRow(t.Context(), fmt.Sprintf(`SELECT ST_AsBinary(%[1]s), ST_SRID(%[1]s) FROM shapes WHERE id = $1`, col), id).
			Scan(&wkb, &srid); err != nil {
			t.Fatalf("reading row %d's %s with ST_AsBinary: %v", id, col, err)
		}
		m := map[string]any{"wkb": wkb, "srid": nil}
		if srid != 0 {
			m["srid"] = srid
		}
		out[col] = m
	}
	return out
}

// checkPostgisRow compares a decoded after row with postgisExpected's: the WKB byte for byte,
// the SRID, and the id.
func checkPostgisRow(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no row", what)
	}
	if !sameDecoded(Unwrap(got["id"]), want["id"]) {
		t.Errorf("%s: id %v, want %v", what, got["id"], want["id"])
	}
	for _, col := range postgisColumns {
		g, ok := Unwrap(got[col]).(map[string]any)
		w := want[col].(map[string]any)
		if !ok {
			t.Errorf("%s: %s = %#v, want a {wkb, srid} struct", what, col, got[col])
			continue
		}
		wkb, _ := Unwrap(g["wkb"]).([]byte)
		if !bytes.Equal(wkb, w["wkb"].([]byte)) {
			t.Errorf("%s: %s wkb %x, ST_AsBinary gives %x", what, col, wkb, w["wkb"])
		}
		srid := Unwrap(g["srid"])
		if w["srid"] == nil && srid != nil || w["srid"] != nil && (srid == nil || toInt64(srid) != int64(w["srid"].(int32))) {
			t.Errorf("%s: %s srid %#v, ST_SRID gives %v", what, col, srid, w["srid"])
		}
		if len(g) != 2 {
			t.Errorf("%s: %s has fields %v, want wkb and srid", what, col, g)
		}
	}
}
