package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// flinkDir returns the folder deploy/dev/flink.sh fetch prints: Flink's jars (libs/) and the
// FlinkSQL program (classes/), fetched and built if missing.
func flinkDir(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "deploy", "dev", "flink.sh"), "fetch")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("deploy/dev/flink.sh fetch: %v\n%s", err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Fatalf("deploy/dev/flink.sh printed %q: %v", dir, err)
	}
	return dir
}

// flinkChange is one row of the changelog a Flink query printed.
type flinkChange struct {
	Kind string
	Row  []any
}

// runFlinkSQL runs the statements in a Flink mini-cluster (one JVM) and returns the changelog
// of the last one, a query.
func runFlinkSQL(t *testing.T, dir string, statements ...string) []flinkChange {
	t.Helper()
	script := filepath.Join(t.TempDir(), "job.sql")
	if err := os.WriteFile(script, []byte(strings.Join(statements, ";\n")+";\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "java", "-Xmx512m",
		// What Flink's own launch scripts open on Java 17 (env.java.opts.all): its serializers
		// reach into the JDK's collections.
		"--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
		"--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
		"--add-opens=java.base/java.net=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
		"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.text=ALL-UNNAMED",
		"--add-opens=java.base/java.time=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
		"--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
		"-cp", filepath.Join(dir, "classes")+string(os.PathListSeparator)+filepath.Join(dir, "libs", "*"),
		"FlinkSQL", script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("Flink job: %v\nstderr:\n%s\nstdout:\n%s", err, lastLines(stderr.String(), 60), stdout.String())
	}
	var out []flinkChange
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var c flinkChange
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("Flink printed %q: %v", sc.Text(), err)
		}
		out = append(out, c)
	}
	return out
}

// materialise applies a changelog, as a sink keyed on the first two columns would: +I and +U
// put the row, -U and -D remove it and must name the row as it is.
func materialise(t *testing.T, changes []flinkChange) map[string]string {
	t.Helper()
	table := map[string]string{}
	for i, c := range changes {
		key, row := foreignJSON(c.Row[:2]), foreignJSON(c.Row)
		switch c.Kind {
		case "+I", "+U":
			if c.Kind == "+I" && table[key] != "" {
				t.Errorf("change %d: insert of %s, which is there: %s", i, row, table[key])
			}
			table[key] = row
		case "-U", "-D":
			if table[key] != row {
				t.Errorf("change %d: %s removes %s, but the table holds %q", i, c.Kind, row, table[key])
			}
			delete(table, key)
		default:
			t.Fatalf("change %d: kind %q", i, c.Kind)
		}
	}
	return table
}

// TestForeignFlinkMaterialisesATableFromDebeziumJSON has Apache Flink (its SQL in a local
// mini-cluster, the Kafka connector, the debezium-json format) read the topics of two cdcd
// connectors of one table, in format json without schemas and with them
// ('debezium-json.schema-include'), after inserts, updates, a key change and deletes on the
// source; the table Flink's changelog of each materialises equals the source table. One Flink
// job reads both (UNION ALL): its JVM's start is the test's largest cost.
func TestForeignFlinkMaterialisesATableFromDebeziumJSON(t *testing.T) {
	dir := flinkDir(t)
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	// Flink's debezium-json turns an update into -U (before) and +U (after): it needs the whole
	// old row, which PostgreSQL logs with REPLICA IDENTITY FULL only (as with Debezium).
	mustExec(t, conn, `CREATE TABLE shop (id int PRIMARY KEY, name text NOT NULL, qty int8, price float8, ok bool, cost numeric(10,2));
		ALTER TABLE shop REPLICA IDENTITY FULL`)
	variants := []string{"plain", "schemas"}
	conns := map[string]*PostgresConnector{}
	procs := map[string]*CDCD{}
	for _, v := range variants {
		c := NewPostgresConnector(t, db, "public.shop")
		// Flink's JSON reads a DECIMAL from a JSON number (or text), not from JsonConverter's
		// default base64.
		c.ConnectorExtra = []string{"format: json", "json:", fmt.Sprintf("  schemas_enable: %v", v == "schemas"),
			"  decimal_format: numeric"}
		conns[v], procs[v] = c, StartCDCD(t, c.Config())
	}
	for _, v := range variants {
		conns[v].WaitStreaming(t, conn)
	}

	mustExec(t, conn, `INSERT INTO shop VALUES (1, 'apple "red"', 10, 0.5, true, 1.10), (2, 'pear', 20, 1.25, false, -2.05),
		(3, 'plum', NULL, NULL, NULL, NULL), (4, 'fig', 40, 4.5, true, 12345678.99), (5, 'kiwi', 50, 5.75, false, 0)`)
	mustExec(t, conn, `UPDATE shop SET qty = qty + 1, ok = NOT ok WHERE id IN (1, 4)`)
	mustExec(t, conn, `UPDATE shop SET id = 20, name = 'pear moved' WHERE id = 2`)
	mustExec(t, conn, `DELETE FROM shop WHERE id = 3`)
	mustExec(t, conn, `BEGIN; UPDATE shop SET price = 9.5, cost = 0.01 WHERE id = 5; INSERT INTO shop VALUES (6, 'lime', 60, 6.5, true, 6.60);
		DELETE FROM shop WHERE id = 1; COMMIT`)

	statements := []string{}
	var selects []string
	for _, v := range variants {
		c := conns[v]
		// 5 inserts, 2 updates, the key change (delete, tombstone, create), a delete and its
		// tombstone, then an update, an insert, a delete and its tombstone: 16 records. Flink's
		// source stops at the offsets it finds at its start, so they must all be there.
		collectJSON(t, 16, c.Topic("shop"))
		with := fmt.Sprintf(`'connector' = 'kafka', 'topic' = '%s', 'properties.bootstrap.servers' = '%s',
			'properties.group.id' = '%s', 'properties.isolation.level' = 'read_committed',
			'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
			'format' = 'debezium-json'`, c.Topic("shop"), StackFromEnv().KafkaAddr, Name(t, "flink"))
		if v == "schemas" {
			with += `, 'debezium-json.schema-include' = 'true'`
		}
		statements = append(statements, `CREATE TABLE shop_`+v+
			` (id INT, name STRING, qty BIGINT, price DOUBLE, ok BOOLEAN, cost DECIMAL(10, 2)) WITH (`+with+`)`)
		selects = append(selects, `SELECT '`+v+`', id, name, qty, price, ok, cost FROM shop_`+v)
	}
	changes := runFlinkSQL(t, dir, append(statements, strings.Join(selects, " UNION ALL "))...)
	got := materialise(t, changes)

	want := map[string]string{}
	// cost as text: Flink prints a DECIMAL(10, 2) as its text, scale kept.
	rows, err := conn.Query(t.Context(), `SELECT id, name, qty, price, ok, cost::text FROM shop`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range variants {
			row := append([]any{v}, vals...)
			want[foreignJSON(row[:2])] = foreignJSON(row)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) != 8 {
		t.Fatalf("the source table has %d rows, want 4", len(want)/2)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Flink's tables:\n %v\nthe source table (once per variant):\n %v\nchangelog: %v", got, want, changes)
	}
	for _, v := range variants {
		if code := procs[v].Stop(time.Minute); code != 0 {
			t.Errorf("cdcd (%s) exited %d after SIGTERM, want 0", v, code)
		}
	}
}
