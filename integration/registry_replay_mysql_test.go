package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMySQLReplaysRowsOlderThanARegisteredSchema puts the registry in the state a cdcd killed
// between registering a table's new schema and committing its Kafka transaction leaves behind:
// the subject's latest version is the schema after `MODIFY c1 bigint` (c1 long), and the rows
// cdcd reads first after its restart are from before the DDL, whose schema (c1 int) is an
// earlier version. cdcd must reuse that version rather than check it as a new one against the
// newer (int after long fails BACKWARD), and go on: every row exactly once, with the schema of
// its time, and no version registered twice.
func TestMySQLReplaysRowsOlderThanARegisteredSchema(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (id int PRIMARY KEY, c1 int NOT NULL)`)
	c := NewMySQLConnector(t, m, "items")
	cdcd := c.StartStreaming(t)
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (1, 10)`)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	got := consumer.Collect(t, 1, time.Minute)

	// The killed run's registration: the schema of the table after the DDL, as the next
	// version of the subject, registered before anything written with it was committed.
	subject := c.Topic("items") + "-value"
	v1, err := httpGetBody(t.Context(), c.RegistryURL()+"/subjects/"+subject+"/versions/1/schema")
	if err != nil {
		t.Fatalf("reading version 1 of %s: %v", subject, err)
	}
	const intField, longField = `{"name":"c1","type":"int"}`, `{"name":"c1","type":"long"}`
	if n := strings.Count(string(v1), intField); n != 1 {
		t.Fatalf("version 1 of %s holds %s %d times, want once: %s", subject, intField, n, v1)
	}
	registerSchema(t, c.RegistryURL(), subject, strings.Replace(string(v1), intField, longField, 1))
	cdcd.Kill()

	// Rows of both schemas, read by the next run from the last committed position.
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (2, 20)`)
	mustExecMySQL(t, m.DB, `ALTER TABLE items MODIFY c1 bigint NOT NULL`)
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (3, 30000000000)`)
	cdcd = cdcd.Restart()
	WaitFor(t, 2*time.Minute, "the rows written across the DDL", func() error {
		if cdcd.Exited() {
			t.Fatalf("cdcd exited after its restart instead of replaying the rows")
		}
		got = append(got, consumer.Poll(t, time.Second)...)
		if len(got) < 3 {
			return fmt.Errorf("%d of 3 records", len(got))
		}
		return nil
	})
	got = append(got, consumer.Drain(t, 2*time.Second)...)
	if len(got) != 3 {
		t.Fatalf("%d records on %s, want 3: one per row", len(got), c.Topic("items"))
	}
	expectRow(t, "row 1", got[0].After(), map[string]any{"id": 1, "c1": 10})
	expectRow(t, "row 2 (before the DDL)", got[1].After(), map[string]any{"id": 2, "c1": 20})
	expectRow(t, "row 3 (after the DDL)", got[2].After(), map[string]any{"id": 3, "c1": int64(30000000000)})

	versions, err := httpGetBody(t.Context(), c.RegistryURL()+"/subjects/"+subject+"/versions")
	if err != nil {
		t.Fatalf("reading the subject's versions: %v", err)
	}
	if got := strings.TrimSpace(string(versions)); got != "[1,2]" {
		t.Errorf("%s versions = %s, want [1,2]: each schema once", subject, got)
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}

// registerSchema registers schema under subject in the registry at url, as a Confluent client
// does.
func registerSchema(t *testing.T, url, subject, schema string) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"schema": schema})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/subjects/"+subject+"/versions", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("registering under %s: %v", subject, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("registering under %s: %s: %s", subject, resp.Status, answer)
	}
}
