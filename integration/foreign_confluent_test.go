package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The formats the foreign reader decodes: avro through Confluent's AvroDeserializer and its
// SchemaRegistryClient against cdcd's embedded registry, json (with and without schemas) as
// plain JSON, cloudevents through the CNCF CloudEvents SDK (its data is the json format's rows
// without schemas); json-registry (foreign_jsonschema_test.go) through Confluent's
// JSONDeserializer.
type foreignFormat struct {
	name  string   // the subtest's name
	wire  string   // the reader's decoding: avro, json, json-registry or cloudevents
	extra []string // the connector's lines
}

var foreignFormats = []foreignFormat{
	{name: "avro", wire: "avro"},
	{name: "json", wire: "json", extra: []string{"format: json"}},
	{name: "json_schemaless", wire: "json", extra: []string{"format: json", "json:", "  schemas_enable: false"}},
	{name: "cloudevents", wire: "cloudevents", extra: []string{"format: cloudevents"}},
}

// foreignRecord is one record as Confluent's Python client decoded it: key and value are the
// JSON the reader printed (numbers kept as written), the value's envelope unwrapped from
// JsonConverter's {"schema", "payload"} when it has one.
type foreignRecord struct {
	Key, Value any
	// Schema tells whether the value (when not a tombstone) came with its schema.
	Schema bool
}

func (r foreignRecord) field(name string) any {
	m, _ := r.Value.(map[string]any)
	return m[name]
}

// Op is the envelope's op, or "tombstone".
func (r foreignRecord) Op() string {
	if r.Value == nil {
		return "tombstone"
	}
	return fmt.Sprint(r.field("op"))
}

func (r foreignRecord) row(which string) map[string]any {
	m, _ := r.field(which).(map[string]any)
	return m
}

// keyID is the key's id column (its payload with JsonConverter's schemas), or nil.
func (r foreignRecord) keyID() any {
	k, _ := r.Key.(map[string]any)
	if p, ok := k["payload"].(map[string]any); ok && k["schema"] != nil {
		k = p
	}
	if k == nil {
		return nil
	}
	return k["id"]
}

// pythonClients returns the python of the virtualenv deploy/dev/pyclients.sh fetch prints
// (installing it from PyPI if missing).
func pythonClients(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "deploy", "dev", "pyclients.sh"), "fetch")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("deploy/dev/pyclients.sh fetch: %v\n%s", err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	python := filepath.Join(dir, "bin", "python")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Fatalf("deploy/dev/pyclients.sh printed %q: %v", dir, err)
	}
	return python
}

// readWithConfluentPython reads n committed records of topic with Confluent's Python client
// (integration/testdata/foreign/confluent_reader.py) and returns them as it decoded them.
func readWithConfluentPython(t *testing.T, python, topic string, n int, f foreignFormat, registryURL string) []foreignRecord {
	t.Helper()
	waitTopics(t, topic)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	args := []string{filepath.Join("testdata", "foreign", "confluent_reader.py"), StackFromEnv().KafkaAddr, topic, fmt.Sprint(n), f.wire}
	if f.wire != "json" {
		args = append(args, registryURL)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("confluent_reader.py %s: %v\nstderr:\n%s\nstdout:\n%s", topic, err, lastLines(stderr.String(), 30), stdout.String())
	}
	var out []foreignRecord
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var line struct{ Key, Value any }
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("reader printed %q: %v", sc.Text(), err)
		}
		r := foreignRecord{Key: line.Key, Value: line.Value}
		if m, ok := line.Value.(map[string]any); ok && f.wire == "json" {
			if p, ok := m["payload"]; ok && m["schema"] != nil {
				r.Value, r.Schema = p, true
			}
		}
		out = append(out, r)
	}
	if len(out) != n {
		t.Fatalf("reader printed %d records, want %d:\n%s", len(out), n, stdout.String())
	}
	return out
}

// foreignJSON is v as JSON text, numbers as written: what the reader printed and what the test
// wrote compare as text.
func foreignJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("!%v", err)
	}
	return string(b)
}

// expectForeignRow compares a row decoded by the foreign reader with the values written,
// column by column, and finds no column more.
func expectForeignRow(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no row", what)
	}
	for col, w := range want {
		g, ok := got[col]
		if !ok {
			t.Errorf("%s: no column %s", what, col)
			continue
		}
		if foreignJSON(g) != foreignJSON(w) {
			t.Errorf("%s: %s = %s, want %s", what, col, foreignJSON(g), foreignJSON(w))
		}
	}
	for col := range got {
		if _, ok := want[col]; !ok {
			t.Errorf("%s: unexpected column %s", what, col)
		}
	}
}

// foreignBytes is how the reader prints bytes: AvroDeserializer returns Python bytes (printed
// tagged, base64), JsonConverter writes base64 text.
func foreignBytes(f foreignFormat, b []byte) any {
	s := base64.StdEncoding.EncodeToString(b)
	if f.wire == "avro" {
		return map[string]any{"$bytes": s}
	}
	return s
}

// foreignDecimal is a fixed-scale decimal as the reader prints it: AvroDeserializer returns a
// decimal.Decimal (printed tagged, its text), JsonConverter writes the base64 of the unscaled
// value (decimal.format base64, the default).
func foreignDecimal(f foreignFormat, text string, unscaled int64) any {
	switch f.wire {
	case "avro":
		return map[string]any{"$decimal": text}
	case "json-registry":
		return json.Number(text) // a JSON number, as JsonSchemaConverter writes a decimal
	}
	return base64.StdEncoding.EncodeToString(foreignUnscaled(unscaled))
}

func checkForeignOps(t *testing.T, got []foreignRecord, f foreignFormat, want []string) {
	t.Helper()
	var ops []string
	ids := map[string]bool{}
	for _, r := range got {
		ops = append(ops, r.Op())
		if r.Value != nil && f.wire == "json" && r.Schema != (f.name == "json") {
			t.Errorf("record %s: value with schema %v, want %v", r.Op(), r.Schema, f.name == "json")
		}
		if r.Value != nil && f.wire == "cloudevents" {
			checkForeignCloudEvent(t, r, ids)
		}
	}
	if !reflect.DeepEqual(ops, want) {
		t.Fatalf("ops = %v, want %v", ops, want)
	}
}

// TestForeignConfluentPythonReadsEveryPostgresType streams the rows of
// TestPostgresEveryTypeReachesKafkaAsWritten (every type, a TOASTed column left alone by an
// update, a key change, a delete, an all-NULL row, a truncate) in each format, and Confluent's
// own Python client (confluent-kafka, its SchemaRegistryClient against cdcd's embedded registry
// and AvroDeserializer for avro; plain JSON for json) decodes every record: the values equal
// what was written, field by field. cdcd's decoder plays no part on the reading side.
func TestForeignConfluentPythonReadsEveryPostgresType(t *testing.T) {
	python := pythonClients(t)
	for _, f := range foreignFormats {
		t.Run(f.name, func(t *testing.T) {
			db := NewPostgresDB(t)
			conn := db.Conn(t)
			mustExec(t, conn, `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
				CREATE TABLE everything (
					id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
					n numeric(10,2), nu numeric, t text, vc varchar(20), c char(3), by bytea,
					d date, tm time, tm3 time(3), ttz timetz, ts timestamp, ts3 timestamp(3), tstz timestamptz,
					iv interval, u uuid, j json, jb jsonb, e mood, ip inet, cidr cidr, mac macaddr,
					ai int4[], at text[], big text)`)
			c := NewPostgresConnector(t, db, "public.everything")
			c.ConnectorExtra = append([]string{"skipped_operations: [none]"}, f.extra...)
			cdcd := c.StartStreaming(t, conn)

			mustExec(t, conn, `INSERT INTO everything VALUES (1, true, -32768, 2147483647, -9223372036854775808,
				1.5, 2.25, 12.34, 3.14159, 'text é', 'varchar', 'ab', '\xdeadbeef',
				'2024-02-29', '12:34:56.789012', '12:34:56.789', '12:30:00.5+02', '2024-02-29 11:14:15.123456',
				'2024-02-29 11:14:15.123', '2024-02-29 13:14:15.1+02', '1 day 02:03:04',
				'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1}', '{"b": 2, "a": 1}', 'happy',
				'192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '{1,2,NULL}', '{"a b","c"}',
				(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 500) i))`)
			mustExec(t, conn, `UPDATE everything SET t = 'changed' WHERE id = 1`)
			mustExec(t, conn, `UPDATE everything SET id = 2 WHERE id = 1`)
			mustExec(t, conn, `DELETE FROM everything WHERE id = 2`)
			mustExec(t, conn, `INSERT INTO everything (id) VALUES (3)`)
			mustExec(t, conn, `TRUNCATE everything`)

			got := readWithConfluentPython(t, python, c.Topic("everything"), 9, f, c.RegistryURL())
			checkForeignOps(t, got, f, []string{"c", "u", "d", "tombstone", "c", "d", "tombstone", "c", "t"})

			var bigText string
			if err := conn.QueryRow(t.Context(), `SELECT string_agg(md5(i::text), '') FROM generate_series(1, 500) i`).Scan(&bigText); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"id": 1, "b": true, "i2": -32768, "i4": 2147483647, "i8": int64(-9223372036854775808),
				"f4": 1.5, "f8": 2.25, "n": foreignDecimal(f, "12.34", 1234),
				"nu": map[string]any{"scale": 5, "value": foreignBytes(f, big.NewInt(314159).Bytes())},
				"t":  "text é", "vc": "varchar", "c": "ab ", "by": foreignBytes(f, []byte{0xde, 0xad, 0xbe, 0xef}),
				"d": 19782, "tm": int64(45296789012), "tm3": 45296789, "ttz": "10:30:00.5Z",
				"ts": int64(1709205255123456), "ts3": int64(1709205255123), "tstz": "2024-02-29T11:14:15.100000Z",
				"iv": int64(93784000000), "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
				"j": `{"a": 1}`, "jb": `{"a": 1, "b": 2}`, "e": "happy",
				"ip": "192.168.0.1/24", "cidr": "10.0.0.0/8", "mac": "08:00:2b:01:02:03",
				"ai": []any{1, 2, nil}, "at": []any{"a b", "c"}, "big": bigText,
			}
			expectForeignRow(t, "insert after", got[0].row("after"), want)
			if got[0].field("before") != nil {
				t.Errorf("insert has a before: %v", got[0].field("before"))
			}
			src := got[0].row("source")
			if src["connector"] != "postgresql" || src["db"] != db.Name || src["table"] != "everything" {
				t.Errorf("insert source %v", src)
			}
			want["t"], want["big"] = "changed", "__debezium_unavailable_value"
			expectForeignRow(t, "update after", got[1].row("after"), want)
			want["id"] = 2
			expectForeignRow(t, "key change create", got[4].row("after"), want)

			keys := []any{1, 1, 1, 1, 2, 2, 2, 3}
			for i, k := range keys {
				if foreignJSON(got[i].keyID()) != foreignJSON(k) {
					t.Errorf("record %d (%s): key %v, want id %v", i, got[i].Op(), foreignJSON(got[i].Key), k)
				}
			}
			if id := got[2].row("before")["id"]; foreignJSON(id) != "1" || got[2].field("after") != nil {
				t.Errorf("key change delete: before %v after %v", got[2].field("before"), got[2].field("after"))
			}
			if id := got[5].row("before")["id"]; foreignJSON(id) != "2" {
				t.Errorf("delete: before %v", got[5].field("before"))
			}
			nulls := map[string]any{}
			for col := range want {
				nulls[col] = nil
			}
			nulls["id"] = 3
			expectForeignRow(t, "all-NULL row", got[7].row("after"), nulls)
			if got[8].Key != nil || got[8].field("before") != nil || got[8].field("after") != nil {
				t.Errorf("truncate: key %v before %v after %v, want all null", got[8].Key, got[8].field("before"), got[8].field("after"))
			}
			if code := cdcd.Stop(time.Minute); code != 0 {
				t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
			}
		})
	}
}

// TestForeignConfluentPythonReadsEveryMariaDBType streams the row of
// TestMySQLTypesReachKafkaAsWritten (every MySQL type, updated, deleted, an all-NULL row) in
// each format, and Confluent's Python client decodes every record with the values written,
// field by field.
func TestForeignConfluentPythonReadsEveryMariaDBType(t *testing.T) {
	python := pythonClients(t)
	for _, f := range foreignFormats {
		t.Run(f.name, func(t *testing.T) {
			m := NewMariaDB(t)
			mustExecMySQL(t, m.DB, `CREATE TABLE items (
				id int PRIMARY KEY, ti tinyint, si smallint unsigned, i int, iu int unsigned, bi bigint,
				d decimal(10,2), f float, db double, vc varchar(20), l1 varchar(20) CHARACTER SET latin1,
				bl blob, dt date, tm time(6), dtm datetime(6), ts timestamp(3) NULL, e enum('sad','ok','happy'),
				j json, b1 bit(1), b12 bit(12), yr year, st set('r','w','x'), c char(3), tx text, mi mediumint,
				bn binary(4), dt3 datetime(3), bu bigint unsigned, vb varbinary(8)) DEFAULT CHARSET=utf8mb4`)
			c := NewMySQLConnector(t, m, "items")
			c.ConnectorExtra = f.extra
			cdcd := c.StartStreaming(t)

			mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (1, -128, 65535, -2147483648, 4294967295,
				-9223372036854775808, 12.34, 1.5, 2.25, 'text é', 'café', X'DEADBEEF', '2024-02-29',
				'-12:34:56.789012', '2024-02-29 11:14:15.123456', '2024-02-29 11:14:15.123', 'happy', '{"a": 1}',
				b'1', b'101000000011', 2024, 'r,x', 'ab', 'long text', -8388608, X'0102', '2024-02-29 11:14:15.123',
				9223372036854775807, X'00FF')`)
			mustExecMySQL(t, m.DB, `UPDATE items SET vc = 'changed' WHERE id = 1`)
			mustExecMySQL(t, m.DB, `DELETE FROM items WHERE id = 1`)
			mustExecMySQL(t, m.DB, `INSERT INTO items (id) VALUES (2)`)

			got := readWithConfluentPython(t, python, c.Topic("items"), 5, f, c.RegistryURL())
			checkForeignOps(t, got, f, []string{"c", "u", "d", "tombstone", "c"})
			want := map[string]any{
				"id": 1, "ti": -128, "si": 65535, "i": -2147483648, "iu": int64(4294967295),
				"bi": int64(-9223372036854775808), "d": foreignDecimal(f, "12.34", 1234), "f": 1.5, "db": 2.25,
				"vc": "text é", "l1": "café", "bl": foreignBytes(f, []byte{0xde, 0xad, 0xbe, 0xef}),
				"dt": 19782, "tm": int64(-45296789012), "dtm": int64(1709205255123456),
				"ts": "2024-02-29T11:14:15.123Z", "e": "happy", "j": `{"a": 1}`,
				// bit(12) b'101000000011' = 0xA03, little-endian as Debezium's Bits.
				"b1": true, "b12": foreignBytes(f, []byte{0x03, 0x0a}), "yr": 2024, "st": "r,x",
				"c": "ab", "tx": "long text", "mi": -8388608, "bn": foreignBytes(f, []byte{1, 2, 0, 0}),
				"dt3": int64(1709205255123), "bu": int64(9223372036854775807), "vb": foreignBytes(f, []byte{0, 0xff}),
			}
			expectForeignRow(t, "insert after", got[0].row("after"), want)
			src := got[0].row("source")
			if src["connector"] != "mysql" || src["db"] != m.Name || src["table"] != "items" {
				t.Errorf("insert source %v", src)
			}
			expectForeignRow(t, "update before", got[1].row("before"), want)
			want["vc"] = "changed"
			expectForeignRow(t, "update after", got[1].row("after"), want)
			expectForeignRow(t, "delete before", got[2].row("before"), want)
			for i, k := range []any{1, 1, 1, 1, 2} {
				if foreignJSON(got[i].keyID()) != foreignJSON(k) {
					t.Errorf("record %d (%s): key %v, want id %v", i, got[i].Op(), foreignJSON(got[i].Key), k)
				}
			}
			nulls := map[string]any{}
			for col := range want {
				nulls[col] = nil
			}
			nulls["id"] = 2
			expectForeignRow(t, "all-NULL row", got[4].row("after"), nulls)
			if code := cdcd.Stop(time.Minute); code != 0 {
				t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
			}
		})
	}
}

// checkForeignCloudEvent checks the attributes the CloudEvents SDK read from r: Debezium's type
// and source for its connector, specversion 1.0, JSON data, and an id no other event has.
func checkForeignCloudEvent(t *testing.T, r foreignRecord, ids map[string]bool) {
	t.Helper()
	ce, _ := r.field("$ce").(map[string]any)
	connector := fmt.Sprint(r.row("source")["connector"])
	for attr, want := range map[string]string{
		"specversion": "1.0", "datacontenttype": "application/json",
		"type": "io.debezium.connector." + connector + ".DataChangeEvent",
	} {
		if got := fmt.Sprint(ce[attr]); got != want {
			t.Errorf("CloudEvent %s: %s = %q, want %q", r.Op(), attr, got, want)
		}
	}
	if src := fmt.Sprint(ce["source"]); !strings.HasPrefix(src, "/debezium/"+connector+"/") {
		t.Errorf("CloudEvent %s: source %q", r.Op(), src)
	}
	id := fmt.Sprint(ce["id"])
	if id == "" || ids[id] {
		t.Errorf("CloudEvent %s: id %q empty or seen before", r.Op(), id)
	}
	ids[id] = true
}
