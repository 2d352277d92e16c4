package integration

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// newTypesSchema is a table with a column of each PostgreSQL type issue 18 maps (those whose
// extension ships with PostgreSQL: hstore, citext and ltree; PostGIS and pgvector have tests
// of their own on private servers, types_postgis_test.go and types_pgvector_test.go), and columns
// of types no mapping knows: an extension's base type (cube), a domain over it, a composite, a
// user-defined range, and a built-in type cdcd does not map (pg_lsn).
const newTypesSchema = `
CREATE EXTENSION hstore; CREATE EXTENSION citext; CREATE EXTENSION ltree; CREATE EXTENSION cube;
CREATE DOMAIN cubed AS cube;
CREATE TYPE pair AS (a int, b text);
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE TABLE new_types (
	id int PRIMARY KEY, hs hstore, ci citext, mo money, b1 bit(1), b10 bit(10), vb varbit, vb8 varbit(8),
	r4 int4range, r8 int8range, nr numrange, tsr tsrange, tstzr tstzrange, dr daterange,
	lt ltree, x xml, tv tsvector, hsa hstore[],
	cu cube, cud cubed, pr pair, fr floatrange, ls pg_lsn
)`

const newTypesValues = `'a=>1, "b c"=>NULL, "q\""=>"x\\y"', 'MiXed Case', '-1234.56', B'1', B'1011000001', B'101', B'1',
	'[1,10)', '(,5]', '[1.5,2.5]', '[2020-01-01 10:00,2020-01-02)', '[2020-01-01 10:00+02,)', '[2020-01-01,2020-02-01)',
	'Top.Science.Astronomy', '<a>b &amp; c</a>', 'a fat:2A cat''s:3 \\tail', ARRAY['k=>v']::hstore[],
	'(1,2),(3,4)', '(5)', '(1,"x y")', '[1.5,2.5)', '16/B374D848'`

// The columns whose values are their type's text: the server's own text of them is expected.
var newTypesTextColumns = []string{"r4", "r8", "nr", "tsr", "tstzr", "dr", "tv", "cu", "cud", "pr", "fr", "ls"}

// TestTypesPostgresNewTypesSnapshotAndStreaming snapshots a row of every newly mapped type,
// then streams the same row (with pgoutput's binary option, as the connector asks for it) and
// a row of NULLs, and checks each value field by field as a consumer decodes it through the
// registry: Debezium's value for each mapped type, the type's text for the unmapped ones, in
// the snapshot and the stream alike; the unmapped columns' schema names their types, a
// warning is logged once per column, and the connector keeps running.
func TestTypesPostgresNewTypesSnapshotAndStreaming(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	ctx := t.Context()
	mustExec(t, conn, xmlOrText(t, conn, newTypesSchema, "x xml"))
	mustExec(t, conn, `INSERT INTO new_types VALUES (1, `+newTypesValues+`)`)

	// The text forms, as the connector's sessions (UTC, ISO) write them.
	mustExec(t, conn, `SET TimeZone = UTC; SET DateStyle = ISO`)
	texts := map[string]any{}
	for _, col := range newTypesTextColumns {
		var s string
		if err := conn.QueryRow(ctx, `SELECT `+col+`::text FROM new_types WHERE id = 1`).Scan(&s); err != nil {
			t.Fatalf("reading %s as text: %v", col, err)
		}
		texts[col] = s
	}

	c := NewPostgresConnector(t, db, "public.new_types")
	cdcd := c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO new_types VALUES (2, `+newTypesValues+`)`)
	mustExec(t, conn, `INSERT INTO new_types (id) VALUES (3)`)

	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("new_types")).Collect(t, 3, 2*time.Minute)
	want := map[string]any{
		"hs":  `{"a":"1","q\"":"x\\y","b c":null}`,
		"ci":  "MiXed Case",
		"mo":  big.NewRat(-123456, 100),
		"b1":  true,
		"b10": []byte{0xc1, 0x02},
		"vb":  []byte{0x05},
		"vb8": []byte{0x01},
		"lt":  "Top.Science.Astronomy",
		"x":   "<a>b &amp; c</a>",
		"hsa": []any{`{"k":"v"}`},
	}
	for k, v := range texts {
		want[k] = v
	}
	for i, op := range []string{"r", "c"} {
		if got[i].Op() != op {
			t.Errorf("record %d: op %s, want %s", i+1, got[i].Op(), op)
		}
		w := map[string]any{"id": i + 1}
		for k, v := range want {
			w[k] = v
		}
		expectRow(t, fmt.Sprintf("row %d (op %s)", i+1, op), got[i].After(), w)
	}
	nulls := map[string]any{"id": 3}
	for k := range want {
		nulls[k] = nil
	}
	expectRow(t, "row 3 (NULLs)", got[2].After(), nulls)
	// A few spellings checked by hand too, not only as the server writes them.
	for col, s := range map[string]string{"r8": "(,6)", "dr": "[2020-01-01,2020-02-01)", "cud": "(5)",
		"pr": `(1,"x y")`, "tstzr": `["2020-01-01 08:00:00+00",)`, "tv": `'\\tail' 'a' 'cat''s':3 'fat':2A`} {
		if texts[col] != s {
			t.Errorf("%s as text: %q, want %q", col, texts[col], s)
		}
	}

	// The unmapped columns' schema names their source types.
	body, err := httpGetBody(ctx, c.RegistryURL()+"/subjects/"+c.Topic("new_types")+"-value/versions/latest")
	if err != nil {
		t.Fatal(err)
	}
	schema := strings.ReplaceAll(string(body), `\"`, `"`)
	for _, typ := range []string{"cube", "cubed", "pair", "floatrange", "pg_lsn"} {
		if !strings.Contains(schema, `"__debezium.source.column.type":"`+typ+`"`) {
			t.Errorf("the value schema does not name unmapped type %s: %s", typ, body)
		}
	}
	for _, typ := range []string{"int4range", "tsvector"} { // mapped as Debezium maps them: no parameter
		if strings.Contains(schema, `"__debezium.source.column.type":"`+typ+`"`) {
			t.Errorf("mapped type %s is named as unmapped", typ)
		}
	}
	// One warning per unmapped column, for the snapshot and the stream together.
	logs := cdcd.Logs()
	for _, col := range []string{"cu", "cud", "pr", "fr", "ls"} {
		if n := strings.Count(logs, `"column":"`+col+`"`); n != 1 {
			t.Errorf("%d warnings about column %s, want 1", n, col)
		}
	}
	if cdcd.Exited() {
		t.Fatalf("cdcd exited; log:\n%s", logs)
	}
}

// TestTypesPostgresUnknownTypeFailsWhenExcluded: with include_unknown_datatypes false, a
// column of a type no mapping knows stops the connector with an error naming the column and
// its type, as before issue 18.
func TestTypesPostgresUnknownTypeFailsWhenExcluded(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE EXTENSION cube; CREATE TABLE odd (id int PRIMARY KEY, cu cube);
		INSERT INTO odd VALUES (1, '(1,2)')`)
	c := NewPostgresConnector(t, db, "public.odd")
	c.Extra = []string{"include_unknown_datatypes: false"}
	cdcd := StartCDCD(t, c.Config())
	WaitFor(t, 2*time.Minute, "the unknown type's error in the log", func() error {
		if !cdcd.LogsContain("unsupported column type") || !cdcd.LogsContain("cube") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if cdcd.LogsContain("no mapping knows the column's type") {
		t.Error("the column was decoded as text although include_unknown_datatypes is false")
	}
	cdcd.Kill()
}

// TestTypesPostgresHStoreAsMap: with hstore_handling_mode map, an hstore is a map of strings
// to optional strings, in the snapshot and the stream.
func TestTypesPostgresHStoreAsMap(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE EXTENSION hstore; CREATE TABLE hs (id int PRIMARY KEY, h hstore, ha hstore[]);
		INSERT INTO hs VALUES (1, 'a=>1, "b c"=>NULL, "q\""=>"x\\y"', ARRAY['k=>v', '']::hstore[])`)
	c := NewPostgresConnector(t, db, "public.hs")
	c.Extra = []string{"hstore_handling_mode: map"}
	cdcd := c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO hs VALUES (2, 'a=>1, "b c"=>NULL, "q\""=>"x\\y"', ARRAY['k=>v', '']::hstore[]), (3, '', NULL)`)
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("hs")).Collect(t, 3, 2*time.Minute)
	h := map[string]any{"a": "1", "b c": nil, `q"`: `x\y`}
	ha := []any{map[string]any{"k": "v"}, map[string]any{}}
	expectRow(t, "snapshot row", got[0].After(), map[string]any{"id": 1, "h": h, "ha": ha})
	expectRow(t, "streamed row", got[1].After(), map[string]any{"id": 2, "h": h, "ha": ha})
	expectRow(t, "empty hstore", got[2].After(), map[string]any{"id": 3, "h": map[string]any{}, "ha": nil})
	if cdcd.Exited() {
		t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
	}
}
