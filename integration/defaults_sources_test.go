package integration

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
)

// rowFields returns the fields of the after record of a value schema: name -> "type default".
func rowFields(t *testing.T, s avro.Schema) map[string]string {
	t.Helper()
	env := s.(*avro.RecordSchema)
	for _, f := range env.Fields() {
		if f.Name() != "before" {
			continue
		}
		for _, b := range f.Type().(*avro.UnionSchema).Types() {
			if r, ok := b.(*avro.RecordSchema); ok {
				out := map[string]string{}
				for _, rf := range r.Fields() {
					d := "none"
					if rf.HasDefault() {
						d = fmt.Sprintf("%#v", rf.Default())
					}
					out[rf.Name()] = rf.Type().String() + " " + d
				}
				return out
			}
		}
	}
	t.Fatalf("no row record in %s", s)
	return nil
}

// TestPostgresDefaultsSameInSnapshotAndStream: a table whose columns have defaults is read by
// the snapshot (its description from the catalog's columns) and then streamed (from the
// Relation message): both carry the same defaults, so the subject keeps one version.
func TestPostgresDefaultsSameInSnapshotAndStream(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL DEFAULT 5,
		s varchar(10) NOT NULL DEFAULT 'x', price numeric(10,2) DEFAULT 1.5, at timestamptz NOT NULL DEFAULT now());
		INSERT INTO items (id) VALUES (1)`)
	c := NewPostgresConnector(t, db, "public.items")
	c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO items (id) VALUES (2)`)
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 2, 2*time.Minute)
	if got[0].Op() != "r" || got[1].Op() != "c" {
		t.Fatalf("ops %s %s, want r c", got[0].Op(), got[1].Op())
	}
	versions, err := httpGetBody(t.Context(), c.RegistryURL()+"/subjects/"+c.Topic("items")+"-value/versions")
	if err != nil {
		t.Fatal(err)
	}
	if v := strings.TrimSpace(string(versions)); v != "[1]" {
		t.Errorf("versions %s, want [1]: the snapshot and the stream described the table alike", v)
	}
	latest, text := latestValueSchema(t, c.RegistryURL(), c.Topic("items"))
	fields := rowFields(t, latest)
	for name, want := range map[string]string{"n": `"int" 5`, "s": `"string" "x"`, "at": "none",
		"price": `[]byte{0x0, 0x96}`} { // 1.50: unscaled 150
		if got := fields[name]; !strings.HasSuffix(got, want) {
			t.Errorf("field %s: %s, want ...%s (schema %s)", name, got, want, text)
		}
	}
	if !strings.HasPrefix(fields["price"], `["bytes"`) && !strings.HasPrefix(fields["price"], `[{"type":"bytes"`) {
		t.Errorf("price: %s, want the decimal first in its union, as it has a default", fields["price"])
	}
}

// TestMySQLDefaultsSameFromInformationSchemaAndDDL: a table that exists at the first start is
// described from information_schema, one created later from its DDL; with the same definition
// they carry the same defaults.
func TestMySQLDefaultsSameFromInformationSchemaAndDDL(t *testing.T) {
	m := NewMariaDB(t)
	const def = `(id int PRIMARY KEY, n int NOT NULL DEFAULT -5, s varchar(10) NOT NULL DEFAULT 'it''s',
		d decimal(10,2) NOT NULL DEFAULT 1.5, day date NOT NULL DEFAULT '2020-01-01', note varchar(5) DEFAULT 'none',
		ts timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, color enum('red','2','1') NOT NULL DEFAULT '1',
		tags set('a','b','c') NOT NULL DEFAULT 'c,a')`
	mustExecMySQL(t, m.DB, `CREATE TABLE before_start `+def)
	c := NewMySQLConnector(t, m) // the whole database, so the table created later is captured
	c.StartStreaming(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE after_start `+def)
	mustExecMySQL(t, m.DB, `INSERT INTO before_start (id) VALUES (1)`)
	mustExecMySQL(t, m.DB, `INSERT INTO after_start (id) VALUES (1)`)
	NewAvroConsumer(t, c.RegistryURL(), c.Topic("before_start"), c.Topic("after_start")).Collect(t, 2, 2*time.Minute)

	a, atext := latestValueSchema(t, c.RegistryURL(), c.Topic("before_start"))
	b, btext := latestValueSchema(t, c.RegistryURL(), c.Topic("after_start"))
	fa, fb := rowFields(t, a), rowFields(t, b)
	if !reflect.DeepEqual(fa, fb) {
		t.Errorf("defaults differ:\ninformation_schema: %s\nDDL:                %s", atext, btext)
	}
	for name, want := range map[string]string{"n": `"int" -5`, "s": `"string" "it's"`, "day": "18262", "ts": "none",
		"d": `[]byte{0x0, 0x96}`, "note": `"none"`, "color": ` "1"`, "tags": ` "a,c"`} {
		if got := fa[name]; !strings.HasSuffix(got, want) {
			t.Errorf("field %s: %s, want ...%s", name, got, want)
		}
	}
}
