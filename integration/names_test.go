package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The tables of these tests have names that are neither Kafka topic names nor Avro names, nor
// SQL identifiers without quotes: each is captured end to end (snapshot, then stream) on the
// sanitised topic Debezium would use, one '_' per invalid character, its values read back
// through the registry.

// checkValueNamespace fails unless the latest value schema of topic is the envelope of
// namespace.
func checkValueNamespace(t *testing.T, registryURL, topic, namespace string) {
	t.Helper()
	body, err := httpGetBody(t.Context(), registryURL+"/subjects/"+topic+"-value/versions/latest")
	if err != nil {
		t.Fatalf("value schema of %s: %v", topic, err)
	}
	if want := `\"name\":\"` + namespace + `.Envelope\"`; !strings.Contains(string(body), want) {
		t.Errorf("value schema of %s is not in namespace %s: %s", topic, namespace, body)
	}
}

// checkNamedTableRecords checks the records of one table: a snapshot read of row 1, then
// the insert of row 2 and the update of row 1, streamed; col is the sanitised name of the
// value column, values its values in that order.
func checkNamedTableRecords(t *testing.T, got []ChangeRecord, col string, values ...string) {
	t.Helper()
	ops := make([]string, len(got))
	for i, r := range got {
		ops[i] = r.Op()
	}
	if strings.Join(ops, ",") != "r,c,u" {
		t.Fatalf("ops %v, want r, c, u", ops)
	}
	ids := []int{1, 2, 1}
	for i, r := range got {
		expectRow(t, fmt.Sprintf("record %d (%s) after", i, ops[i]), r.After(), map[string]any{"id": ids[i], col: values[i]})
		if r.Key["id"] != ids[i] {
			t.Errorf("record %d: key %v, want id %d", i, r.Key, ids[i])
		}
	}
}

func TestPostgresTableNamesThatNeedQuoting(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE SCHEMA "my schema";
		CREATE TABLE "my schema"."Ümlaut Tab" (id int PRIMARY KEY, "Wert €" text);
		CREATE TABLE public."o'brien" (id int PRIMARY KEY, "v" text);
		CREATE TABLE "my schema"."my.table" (id int PRIMARY KEY, v text);
		INSERT INTO "my schema"."my.table" VALUES (1, 'one');
		INSERT INTO "my schema"."Ümlaut Tab" VALUES (1, 'grün');
		INSERT INTO public."o'brien" VALUES (1, 'it''s')`)

	c := NewPostgresConnector(t, db, `'"my schema"."Ümlaut Tab"'`, `'public.o''brien'`, `'"my schema"."my.table"'`)
	c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO "my schema"."Ümlaut Tab" VALUES (2, 'ß');
		UPDATE "my schema"."Ümlaut Tab" SET "Wert €" = 'größer' WHERE id = 1;
		INSERT INTO public."o'brien" VALUES (2, 'o''neil');
		UPDATE public."o'brien" SET v = '"quoted"' WHERE id = 1;
		INSERT INTO "my schema"."my.table" VALUES (2, 'two');
		UPDATE "my schema"."my.table" SET v = 'uno' WHERE id = 1`)

	umlaut, obrien := c.Prefix+".my_schema._mlaut_Tab", c.Prefix+".public.o_brien"
	got := NewAvroConsumer(t, c.RegistryURL(), umlaut).Collect(t, 3, 2*time.Minute)
	checkNamedTableRecords(t, got, "Wert__", "grün", "ß", "größer")
	if src := got[2].Source(); Unwrap(src["schema"]) != "my schema" || Unwrap(src["table"]) != "Ümlaut Tab" {
		t.Errorf("source names %v.%v, want the table's own", src["schema"], src["table"])
	}
	got = NewAvroConsumer(t, c.RegistryURL(), obrien).Collect(t, 3, 2*time.Minute)
	checkNamedTableRecords(t, got, "v", "it's", "o'neil", `"quoted"`)
	checkValueNamespace(t, c.RegistryURL(), umlaut, umlaut)
	checkValueNamespace(t, c.RegistryURL(), obrien, obrien)
	// A dot inside a name stays in the topic, but not in the Avro name, where it would be a
	// namespace separator.
	dotted := c.Prefix + ".my_schema.my.table"
	got = NewAvroConsumer(t, c.RegistryURL(), dotted).Collect(t, 3, 2*time.Minute)
	checkNamedTableRecords(t, got, "v", "one", "two", "uno")
	checkValueNamespace(t, c.RegistryURL(), dotted, c.Prefix+".my_schema.my_table")
}

func TestMySQLTableNamesThatNeedQuoting(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, "CREATE TABLE `Ümlaut Tab` (id int PRIMARY KEY, `Wert €` text) DEFAULT CHARSET=utf8mb4")
	mustExecMySQL(t, m.DB, "CREATE TABLE `o'brien` (id int PRIMARY KEY, v text) DEFAULT CHARSET=utf8mb4")
	mustExecMySQL(t, m.DB, "INSERT INTO `Ümlaut Tab` VALUES (1, 'grün')")
	mustExecMySQL(t, m.DB, "INSERT INTO `o'brien` VALUES (1, 'it''s')")

	c := &MySQLConnector{testConnector: newTestConnector(t), DB: m,
		Tables: []string{`'"` + m.Name + `"."Ümlaut Tab"'`, `'` + m.Name + `.o''brien'`}}
	c.StartStreaming(t)
	mustExecMySQL(t, m.DB, "INSERT INTO `Ümlaut Tab` VALUES (2, 'ß')")
	mustExecMySQL(t, m.DB, "UPDATE `Ümlaut Tab` SET `Wert €` = 'größer' WHERE id = 1")
	mustExecMySQL(t, m.DB, "INSERT INTO `o'brien` VALUES (2, 'o''neil')")
	mustExecMySQL(t, m.DB, "UPDATE `o'brien` SET v = '\"quoted\"' WHERE id = 1")

	umlaut, obrien := c.Topic("_mlaut_Tab"), c.Topic("o_brien")
	got := NewAvroConsumer(t, c.RegistryURL(), umlaut).Collect(t, 3, 2*time.Minute)
	checkNamedTableRecords(t, got, "Wert__", "grün", "ß", "größer")
	if src := got[2].Source(); Unwrap(src["table"]) != "Ümlaut Tab" {
		t.Errorf("source.table %v, want the table's own name", src["table"])
	}
	got = NewAvroConsumer(t, c.RegistryURL(), obrien).Collect(t, 3, 2*time.Minute)
	checkNamedTableRecords(t, got, "v", "it's", "o'neil", `"quoted"`)
	checkValueNamespace(t, c.RegistryURL(), umlaut, umlaut)
	checkValueNamespace(t, c.RegistryURL(), obrien, obrien)
}

// Two listed tables whose names sanitise to one topic stop the connector at start, the error
// naming both; the file's only connector stopped, cdcd exits non-zero.
func TestPostgresTablesOfOneTopicRefused(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE "a b" (id int PRIMARY KEY); CREATE TABLE a_b (id int PRIMARY KEY)`)
	c := NewPostgresConnector(t, db, "public.a b", "public.a_b")
	p := StartCDCD(t, c.Config())
	if code := p.Wait(2 * time.Minute); code == 0 {
		t.Errorf("cdcd exited 0")
	}
	if !p.LogsContain("public.a b and public.a_b both map to topic") {
		t.Errorf("no error naming both tables; log:\n%s", p.Logs())
	}
}
