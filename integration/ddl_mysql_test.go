package integration

import (
	"strings"
	"testing"
	"time"
)

// TestMySQLSchemaChangesApplyExactlyAtTheirRows changes a captured table mid-stream (ADD
// COLUMN, then a SIGKILL and restart, MODIFY to a wider type, DROP COLUMN, RENAME TABLE): each
// row must reach Kafka with the schema of its time, and each change must be a new registered
// schema version.
func TestMySQLSchemaChangesApplyExactlyAtTheirRows(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewMySQLConnector(t, m) // the whole database, so the renamed table stays captured
	cdcd := c.StartStreaming(t)

	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (1, 10)`)
	mustExecMySQL(t, m.DB, `ALTER TABLE items ADD COLUMN note varchar(20) NULL`)
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (2, 20, 'two')`)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items"))
	got := consumer.Collect(t, 2, time.Minute)

	// A restart between two schema changes: the schema must come back from the history.
	cdcd.Kill()
	cdcd = cdcd.Restart()
	mustExecMySQL(t, m.DB, `ALTER TABLE items MODIFY qty bigint NOT NULL`)
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (3, 30000000000, 'three')`)
	mustExecMySQL(t, m.DB, `ALTER TABLE items DROP COLUMN note`)
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (4, 40)`)
	got = append(got, consumer.Collect(t, 2, time.Minute)...)

	mustExecMySQL(t, m.DB, `RENAME TABLE items TO items2`)
	mustExecMySQL(t, m.DB, `INSERT INTO items2 VALUES (5, 50)`)
	renamed := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items2")).Collect(t, 1, time.Minute)

	expectRow(t, "row 1 (original)", got[0].After(), map[string]any{"id": 1, "qty": 10})
	expectRow(t, "row 2 (note added)", got[1].After(), map[string]any{"id": 2, "qty": 20, "note": "two"})
	expectRow(t, "row 3 (qty widened)", got[2].After(), map[string]any{"id": 3, "qty": int64(30000000000), "note": "three"})
	expectRow(t, "row 4 (note dropped)", got[3].After(), map[string]any{"id": 4, "qty": int64(40)})
	expectRow(t, "row 5 (renamed table)", renamed[0].After(), map[string]any{"id": 5, "qty": int64(50)})
	if extra := consumer.Drain(t, 2*time.Second); len(extra) != 0 {
		t.Errorf("%d records more than the 4 rows on %s", len(extra), c.Topic("items"))
	}

	versions, err := httpGetBody(t.Context(), c.RegistryURL()+"/subjects/"+c.Topic("items")+"-value/versions")
	if err != nil {
		t.Fatalf("reading the subject's versions: %v", err)
	}
	if got := strings.TrimSpace(string(versions)); got != "[1,2,3,4]" {
		t.Errorf("%s-value versions = %s, want [1,2,3,4]: one per schema", c.Topic("items"), got)
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}
