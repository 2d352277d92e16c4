package integration

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"testing"
	"time"
)

// foreignUnscaled is the unscaled value of a decimal as Java's BigInteger.toByteArray writes
// it, the bytes of Connect's Decimal: big-endian two's complement in the fewest bytes that keep
// the sign.
func foreignUnscaled(n int64) []byte {
	v := big.NewInt(n)
	if v.Sign() >= 0 {
		b := v.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n in k bytes is 2^(8k) - |n|, with k the fewest bytes whose top bit is then set.
	for k := 1; ; k++ {
		m := new(big.Int).Lsh(big.NewInt(1), uint(8*k))
		if sum := new(big.Int).Add(m, v); sum.Sign() > 0 {
			if b := sum.Bytes(); len(b) == k && b[0]&0x80 != 0 {
				return b
			}
		}
	}
}

// TestForeignConfluentPythonReadsNewPostgresTypes snapshots and streams the row of
// TestTypesPostgresNewTypesSnapshotAndStreaming (hstore, citext, money, bit and varbit, ranges,
// ltree, xml, tsvector, an hstore array, and types no mapping knows) and a row of NULLs, in each
// format, and Confluent's Python client (the CloudEvents SDK for cloudevents) decodes every
// record with the values written, field by field.
func TestForeignConfluentPythonReadsNewPostgresTypes(t *testing.T) {
	python := pythonClients(t)
	for _, f := range foreignFormats {
		t.Run(f.name, func(t *testing.T) {
			db := NewPostgresDB(t)
			conn := db.Conn(t)
			mustExec(t, conn, xmlOrText(t, conn, newTypesSchema, "x xml"))
			mustExec(t, conn, `INSERT INTO new_types VALUES (1, `+newTypesValues+`)`)
			mustExec(t, conn, `SET TimeZone = UTC; SET DateStyle = ISO`)
			want := map[string]any{
				"hs": `{"a":"1","q\"":"x\\y","b c":null}`, "ci": "MiXed Case",
				"mo": foreignDecimal(f, "-1234.56", -123456), "b1": true,
				"b10": foreignBytes(f, []byte{0xc1, 0x02}), "vb": foreignBytes(f, []byte{0x05}),
				"vb8": foreignBytes(f, []byte{0x01}), "lt": "Top.Science.Astronomy", "x": "<a>b &amp; c</a>",
				"hsa": []any{`{"k":"v"}`},
			}
			for _, col := range newTypesTextColumns {
				var s string
				if err := conn.QueryRow(t.Context(), `SELECT `+col+`::text FROM new_types WHERE id = 1`).Scan(&s); err != nil {
					t.Fatalf("reading %s as text: %v", col, err)
				}
				want[col] = s
			}
			c := NewPostgresConnector(t, db, "public.new_types")
			c.ConnectorExtra = f.extra
			cdcd := c.StartStreaming(t, conn)
			mustExec(t, conn, `INSERT INTO new_types VALUES (2, `+newTypesValues+`)`)
			mustExec(t, conn, `INSERT INTO new_types (id) VALUES (3)`)

			got := readWithConfluentPython(t, python, c.Topic("new_types"), 3, f, c.RegistryURL())
			checkForeignReadCreateNulls(t, got, f, want)
			if code := cdcd.Stop(time.Minute); code != 0 {
				t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
			}
		})
	}
}

// TestForeignConfluentPythonReadsMariaDBSpatialTypes snapshots and streams rows of MySQL's
// spatial types (Debezium's Geometry: WKB and SRID) and MariaDB's UUID, INET4 and INET6 in each
// format, and Confluent's Python client decodes every record with the values written: the WKB
// bytes equal the server's ST_AsBinary.
func TestForeignConfluentPythonReadsMariaDBSpatialTypes(t *testing.T) {
	python := pythonClients(t)
	for _, f := range foreignFormats {
		t.Run(f.name, func(t *testing.T) {
			m := NewMariaDB(t)
			mustExecMySQL(t, m.DB, `CREATE TABLE geo (id int PRIMARY KEY, g geometry, p point, mp multipolygon,
				u uuid, i4 inet4, i6 inet6)`)
			values := func(id int) string {
				return fmt.Sprintf(`(%d, ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POINT(1 2)', 4326),
					ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))'), '6ccd780c-baba-1026-9564-5b8c656024db',
					'1.2.0.0', '2001:db8::1:0:0:1')`, id)
			}
			mustExecMySQL(t, m.DB, `INSERT INTO geo VALUES `+values(1))
			c := NewMySQLConnector(t, m, "geo")
			c.ConnectorExtra = f.extra
			cdcd := c.StartStreaming(t)
			mustExecMySQL(t, m.DB, `INSERT INTO geo VALUES `+values(2)+`, (3, NULL, NULL, NULL, NULL, NULL, NULL)`)

			want := map[string]any{"u": "6ccd780c-baba-1026-9564-5b8c656024db", "i4": "1.2.0.0", "i6": "2001:db8::1:0:0:1"}
			for col, srid := range map[string]any{"g": nil, "p": 4326, "mp": nil} {
				var h string
				if err := m.DB.QueryRowContext(t.Context(), `SELECT HEX(ST_AsBinary(`+col+`)) FROM geo WHERE id = 1`).Scan(&h); err != nil {
					t.Fatal(err)
				}
				wkb, err := hex.DecodeString(h)
				if err != nil {
					t.Fatal(err)
				}
				want[col] = map[string]any{"wkb": foreignBytes(f, wkb), "srid": srid}
			}
			got := readWithConfluentPython(t, python, c.Topic("geo"), 3, f, c.RegistryURL())
			checkForeignReadCreateNulls(t, got, f, want)
			if code := cdcd.Stop(time.Minute); code != 0 {
				t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
			}
		})
	}
}

// TestForeignConfluentPythonReadsPgvector captures pgvector's vector, halfvec and sparsevec (on
// a private PostgreSQL 18, whose wheel ships the extension) in each format, and Confluent's
// Python client decodes every record with the values written: Debezium's DoubleVector,
// FloatVector and SparseVector (in json-registry the JSONDeserializer validates the sparse
// vector's [index, value] pairs against the registered schema).
func TestForeignConfluentPythonReadsPgvector(t *testing.T) {
	python := pythonClients(t)
	pg := StartPrivatePostgresVersion(t, "18")
	for _, f := range foreignFormats {
		t.Run(f.name, func(t *testing.T) {
			db := pg.NewDB(t)
			conn := db.Conn(t)
			mustExec(t, conn, `CREATE EXTENSION vector;
				CREATE TABLE embeddings (id int PRIMARY KEY, v vector, h halfvec, s sparsevec);
				INSERT INTO embeddings VALUES (1, '[1.5,2.5,-3.5]', '[1.5,-2.5,0.5]', '{1:1.5,3:-2.5}/5')`)
			c := NewPostgresConnector(t, db, "public.embeddings")
			c.ConnectorExtra = f.extra
			cdcd := c.StartStreaming(t, conn)
			mustExec(t, conn, `INSERT INTO embeddings VALUES (2, '[1.5,2.5,-3.5]', '[1.5,-2.5,0.5]', '{1:1.5,3:-2.5}/5'), (3, NULL, NULL, NULL)`)

			pairs := []any{[]any{1, 1.5}, []any{3, -2.5}}
			if f.wire == "avro" { // Avro's map with int keys: Confluent's MapEntry records
				pairs = []any{map[string]any{"key": 1, "value": 1.5}, map[string]any{"key": 3, "value": -2.5}}
			}
			want := map[string]any{"v": []any{1.5, 2.5, -3.5}, "h": []any{1.5, -2.5, 0.5},
				"s": map[string]any{"dimensions": 5, "vector": pairs}}
			got := readWithConfluentPython(t, python, c.Topic("embeddings"), 3, f, c.RegistryURL())
			checkForeignReadCreateNulls(t, got, f, want)
			if code := cdcd.Stop(time.Minute); code != 0 {
				t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
			}
		})
	}
}

// checkForeignReadCreateNulls checks the three records of the foreign type tests: row 1 read by
// the snapshot and row 2 streamed, both with the values of want, then row 3 with every column
// of want NULL.
func checkForeignReadCreateNulls(t *testing.T, got []foreignRecord, f foreignFormat, want map[string]any) {
	t.Helper()
	checkForeignOps(t, got, f, []string{"r", "c", "c"})
	nulls := map[string]any{"id": 3}
	for i, r := range got[:2] {
		row := map[string]any{"id": i + 1}
		for k, v := range want {
			row[k] = v
			nulls[k] = nil
		}
		expectForeignRow(t, fmt.Sprintf("row %d (op %s)", i+1, r.Op()), r.row("after"), row)
	}
	expectForeignRow(t, "row of NULLs", got[2].row("after"), nulls)
}
