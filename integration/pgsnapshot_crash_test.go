package integration

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestPostgresSnapshotSurvivesSIGKILL snapshots a table of 100 000 rows in chunks of 1 000,
// killing cdcd with SIGKILL ten times on the way: the snapshot resumes from the last committed
// chunk, and a read_committed consumer sees every row exactly once, with one "first" and one
// "last" marker.
func TestPostgresSnapshotSurvivesSIGKILL(t *testing.T) {
	const rows = 100_000
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE snap (id int PRIMARY KEY, payload text NOT NULL)`)
	mustExec(t, conn, `INSERT INTO snap SELECT i, md5(i::text) FROM generate_series(1, $1) i`, rows)

	c := NewPostgresConnector(t, db, "public.snap")
	c.Extra = []string{"snapshot_chunk_rows: 1000"}
	cdcd := StartCDCD(t, c.Config())
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("snap"))
	var records []ChangeRecord
	for range 10 {
		records = append(records, consumer.Collect(t, 1+rand.IntN(5000), time.Minute)...)
		cdcd.Kill()
		cdcd = cdcd.Restart()
	}
	if len(records) < rows {
		records = append(records, consumer.Collect(t, rows-len(records), 3*time.Minute)...)
	}
	records = append(records, consumer.Drain(t, 3*time.Second)...)

	seen := make([]bool, rows+1)
	markers := map[string]int{}
	for _, r := range records {
		if r.Op() != "r" {
			t.Fatalf("record at offset %d has op %s, want r (snapshot read)", r.Offset, r.Op())
		}
		id := toInt64(r.After()["id"])
		if id < 1 || id > rows {
			t.Fatalf("record at offset %d has id %d", r.Offset, id)
		}
		if seen[id] {
			t.Fatalf("row %d arrived twice (offset %d)", id, r.Offset)
		}
		seen[id] = true
		markers[Unwrap(r.Source()["snapshot"]).(string)]++
	}
	if len(records) != rows {
		t.Errorf("read %d records, want %d", len(records), rows)
	}
	if markers["first"] != 1 || markers["last"] != 1 {
		t.Errorf("snapshot markers = %v, want exactly one first and one last", markers)
	}
	cdcd.Stop(time.Minute)
}
