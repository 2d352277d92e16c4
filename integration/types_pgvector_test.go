package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTypesPgvectorOnRealServer loads pgvector (the `vector` extension the PyPI PostgreSQL 18
// wheel of deploy/dev/pgversions.sh ships) on a private PostgreSQL 18 and captures vector,
// vector(3), halfvec and sparsevec columns: rows of the initial snapshot, then streamed
// inserts, an update and a row of NULLs. vector is Debezium's DoubleVector (each element the
// double of the decimal written: 0.1 is 0.1), halfvec its FloatVector (each element the half
// the server stored, as a float), sparsevec its SparseVector struct (the dimension count and a
// map of the 1-based indexes written to their values, as doubles).
func TestTypesPgvectorOnRealServer(t *testing.T) {
	pg := StartPrivatePostgresVersion(t, "18")
	db := pg.NewDB(t)
	conn := db.Conn(t)
	checkServerMajor(t, conn, "18")
	mustExec(t, conn, `CREATE EXTENSION vector;
		CREATE TABLE embeddings (id int PRIMARY KEY, v vector, v3 vector(3), h halfvec, s sparsevec)`)
	type row struct {
		id       int
		v, v3, h string
		s        string
		wantV    []float64
		wantH    []float32
		wantS    map[string]any
	}
	rows := []row{
		{id: 1, v: "[1,2.5,-3]", v3: "[0.1,0.2,0.3]", h: "[1,-2.5,0.1]", s: "{1:1.5,3:-2}/5",
			wantV: []float64{1, 2.5, -3}, wantH: []float32{1, -2.5, 0.0999755859375},
			wantS: map[string]any{"dimensions": 5, "vector": []any{map[string]any{"key": 1, "value": 1.5},
				map[string]any{"key": 3, "value": -2.0}}}},
		{id: 2, v: "[0.12345679,-1e-07,3.4028235e+38]", v3: "[-0.5,0,16777216]", h: "[65504,6.1035156e-05,-0.33325195]",
			s: "{2:0.1}/3", wantV: []float64{0.12345679, -1e-07, 3.4028235e+38}, wantH: []float32{65504, 6.1035156e-05, -0.33325195},
			wantS: map[string]any{"dimensions": 3, "vector": []any{map[string]any{"key": 2, "value": 0.1}}}},
		{id: 3, v: "[7]", v3: "[1,2,3]", h: "[0.5]", s: "{}/1",
			wantV: []float64{7}, wantH: []float32{0.5}, wantS: map[string]any{"dimensions": 1, "vector": []any{}}},
	}
	insert := func(r row) {
		t.Helper()
		mustExec(t, conn, `INSERT INTO embeddings VALUES ($1, $2::vector, $3::vector, $4::halfvec, $5::sparsevec)`, r.id, r.v, r.v3, r.h, r.s)
	}
	insert(rows[0])

	c := NewPostgresConnector(t, db, "public.embeddings")
	cdcd := c.StartStreaming(t, conn)
	insert(rows[1])
	mustExec(t, conn, `UPDATE embeddings SET v = $1::vector, v3 = $2::vector, h = $3::halfvec, s = $4::sparsevec WHERE id = 1`,
		rows[2].v, rows[2].v3, rows[2].h, rows[2].s)
	mustExec(t, conn, `INSERT INTO embeddings (id) VALUES (4)`)

	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("embeddings")).Collect(t, 4, 2*time.Minute)
	for i, tc := range []struct {
		op string
		id int
		r  row
	}{{"r", 1, rows[0]}, {"c", 2, rows[1]}, {"u", 1, rows[2]}} {
		what := fmt.Sprintf("record %d (op %s)", i+1, tc.op)
		if got[i].Op() != tc.op {
			t.Errorf("%s: op %s", what, got[i].Op())
		}
		after := got[i].After()
		if after == nil {
			t.Fatalf("%s: no after", what)
		}
		if toInt64(after["id"]) != int64(tc.id) {
			t.Errorf("%s: id %v, want %d", what, after["id"], tc.id)
		}
		v3 := parseFloatList(t, tc.r.v3, 64)
		checkFloats(t, what+": v", after["v"], tc.r.wantV)
		checkFloats(t, what+": v3", after["v3"], v3)
		want32 := make([]float64, len(tc.r.wantH))
		for j, f := range tc.r.wantH {
			want32[j] = float64(f)
		}
		checkFloats(t, what+": h", after["h"], want32)
		if s := Unwrap(after["s"]); fmt.Sprint(s) != fmt.Sprint(tc.r.wantS) {
			t.Errorf("%s: s = %#v, want %v", what, s, tc.r.wantS)
		}
	}
	expectRow(t, "the row of NULLs", got[3].After(), map[string]any{"id": 4, "v": nil, "v3": nil, "h": nil, "s": nil})

	// The server's own text of what it stored agrees with the values expected.
	var v, h string
	if err := conn.QueryRow(t.Context(), `SELECT v::text, h::text FROM embeddings WHERE id = 2`).Scan(&v, &h); err != nil {
		t.Fatal(err)
	}
	if v != rows[1].v || h != rows[1].h {
		t.Errorf("the server prints %s and %s, the test expects %s and %s", v, h, rows[1].v, rows[1].h)
	}
	body, err := httpGetBody(t.Context(), c.RegistryURL()+"/subjects/"+c.Topic("embeddings")+"-value/versions/latest")
	if err != nil {
		t.Fatal(err)
	}
	schema := strings.ReplaceAll(string(body), `\"`, `"`)
	for _, s := range []string{`"connect.name":"io.debezium.data.DoubleVector"`, `"items":"double"`,
		`"connect.name":"io.debezium.data.FloatVector"`, `"items":"float"`, `"connect.name":"io.debezium.data.SparseVector"`,
		`"name":"io.confluent.connect.avro.MapEntry"`} {
		if !strings.Contains(schema, s) {
			t.Errorf("the value schema lacks %s: %s", s, body)
		}
	}
	if cdcd.Exited() {
		t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
	}
}

// parseFloatList parses "[a,b,...]" at bits.
func parseFloatList(t *testing.T, s string, bits int) []float64 {
	t.Helper()
	var out []float64
	for f := range strings.SplitSeq(strings.Trim(s, "[]"), ",") {
		x, err := strconv.ParseFloat(f, bits)
		if err != nil {
			t.Fatalf("parsing %s: %v", s, err)
		}
		out = append(out, x)
	}
	return out
}

// checkFloats compares a decoded Avro array of float or double with want, exactly.
func checkFloats(t *testing.T, what string, got any, want []float64) {
	t.Helper()
	arr, ok := Unwrap(got).([]any)
	if !ok || len(arr) != len(want) {
		t.Errorf("%s = %#v, want %v", what, got, want)
		return
	}
	for i, e := range arr {
		var f float64
		switch x := e.(type) {
		case float32:
			f = float64(x)
		case float64:
			f = x
		default:
			t.Errorf("%s[%d] = %#v (%T), want a number", what, i, e, e)
			continue
		}
		if f != want[i] {
			t.Errorf("%s[%d] = %v, want %v", what, i, f, want[i])
		}
	}
}
