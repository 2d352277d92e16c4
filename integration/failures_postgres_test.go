package integration

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/schemaregistry"
)

// TestPostgresIncompatibleSchemaChangeStopsTheConnector changes a column's type to one the
// BACKWARD level forbids: cdcd must stop with an error naming the table, the column and the
// rule, and write nothing a consumer could not decode.
func TestPostgresIncompatibleSchemaChangeStopsTheConnector(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.items")
	cdcd := c.StartStreaming(t, conn)

	mustExec(t, conn, `INSERT INTO items VALUES (1, 10)`)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	first := consumer.Collect(t, 1, time.Minute)

	mustExec(t, conn, `ALTER TABLE items ALTER COLUMN qty TYPE text`)
	mustExec(t, conn, `INSERT INTO items VALUES (2, 'twenty')`)

	if code := cdcd.Wait(time.Minute); code == 0 {
		t.Errorf("cdcd exited 0 after an incompatible change; want a failure")
	}
	for _, want := range []string{"public.items", `column "qty"`, "BACKWARD"} {
		if !cdcd.LogsContain(want) {
			t.Errorf("the error does not name %s; log:\n%s", want, cdcd.Logs())
		}
	}
	if extra := consumer.Drain(t, 2*time.Second); len(extra) != 0 {
		t.Errorf("records after the incompatible change: %d (first: %v)", len(extra), extra[0].Value)
	}
	if first[0].After()["qty"] != 10 {
		t.Errorf("first record = %v, want qty 10", first[0].After())
	}
	versions, err := httpGetBody(t.Context(), c.RegistryURLWhileDown(t)+"/subjects/"+c.Topic("items")+"-value/versions")
	if err != nil || strings.TrimSpace(string(versions)) != "[1]" {
		t.Errorf("the value subject's versions = %s (%v), want only [1]", versions, err)
	}
}

// RegistryURLWhileDown serves the connector's registry topic in the test process: the embedded
// registry went down with cdcd, and what it stored is in its topic.
func (c *PostgresConnector) RegistryURLWhileDown(t *testing.T) string {
	t.Helper()
	reg, err := schemaregistry.Open(t.Context(), schemaregistry.WithBrokers(StackFromEnv().KafkaAddr),
		schemaregistry.WithTopic(c.Prefix+"_schemas"))
	if err != nil {
		t.Fatalf("opening the registry topic: %v", err)
	}
	t.Cleanup(reg.Close)
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestPostgresSecondProcessIsFenced starts a second cdcd on the same connector while the first
// runs under a steady write load: the first is fenced and stops, the second takes over, and a
// read_committed consumer sees every change exactly once.
func TestPostgresSecondProcessIsFenced(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.counters")
	first := c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)

	writer := startCounterWriter(t, pgIncrement(db.Conn(t)))
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	records := consumer.Collect(t, 200, time.Minute)

	// The second process: same connector, its own registry port.
	second := *c
	second.Registry = FreeAddr(t)
	other := StartCDCD(t, second.Config())
	if code := first.Wait(2 * time.Minute); code == 0 {
		t.Errorf("the first cdcd exited 0 when fenced; want a failure")
	}
	if !first.LogsContain("fenced") {
		t.Errorf("the first cdcd's log does not say it was fenced:\n%s", first.Logs())
	}
	records = append(records, consumer.Collect(t, 200, time.Minute)...)
	expected := writer.stop(t)
	records = collectCounters(t, consumer, records, expected)
	checkCounters(t, records, expected)
	other.Stop(time.Minute)
}

// TestBadConfigFailsFast runs cdcd on configs that cannot work: each must exit non-zero within
// seconds, with a message that names the problem.
func TestBadConfigFailsFast(t *testing.T) {
	db := NewPostgresDB(t)
	mustExec(t, db.Conn(t), `CREATE TABLE items (id int PRIMARY KEY)`)
	base := NewPostgresConnector(t, db, "public.items").Config()
	for _, tc := range []struct {
		name    string
		edit    func(string) string
		mention []string
	}{
		{"unknown field", func(s string) string { return strings.Replace(s, "log:", "lgo:", 1) }, []string{"lgo: unknown field; did you mean log?"}},
		{"missing table", func(s string) string { return strings.Replace(s, "public.items", "public.nope", 1) }, []string{"public.nope"}},
		{"wrong user", func(s string) string { return strings.Replace(s, "user: postgres", "user: nobody_here", 1) }, []string{"nobody_here"}},
		{"wrong database", func(s string) string {
			return strings.Replace(s, "database: "+db.Name, "database: no_such_db", 1)
		}, []string{"no_such_db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := StartCDCD(t, tc.edit(base))
			if code := p.Wait(90 * time.Second); code == 0 {
				t.Fatalf("cdcd exited 0; log:\n%s", p.Logs())
			}
			for _, m := range tc.mention {
				if !p.LogsContain(m) {
					t.Errorf("the error does not mention %s; log:\n%s", m, p.Logs())
				}
			}
		})
	}
}
