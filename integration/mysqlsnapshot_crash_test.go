package integration

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestMySQLSnapshotSurvivesSIGKILL snapshots a MariaDB table of 150 000 rows in chunks of 200,
// killing cdcd with SIGKILL ten times on the way: the snapshot resumes from the last committed
// chunk, and a read_committed consumer sees every row exactly once, with one "first" and one
// "last" marker. A row inserted after the snapshot then arrives streamed.
func TestMySQLSnapshotSurvivesSIGKILL(t *testing.T) {
	// Enough rows that ten kills, each after up to about 4 000 records, land inside the
	// snapshot even when a loaded machine slows the test's consumer more than cdcd.
	const rows = 150_000
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE snap (id int PRIMARY KEY, payload varchar(40) NOT NULL)`)
	// seq_1_to_N is MariaDB's sequence engine.
	mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO snap SELECT seq, md5(seq) FROM seq_1_to_%d`, rows))

	c := NewMySQLConnector(t, m, "snap")
	// The mysql section is the config's last: one more line of it.
	cdcd := StartCDCD(t, c.Config()+"      snapshot_chunk_rows: 200\n")
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("snap"))
	var records []ChangeRecord
	for range 10 {
		// The kill comes once this many more records are committed: somewhere inside the
		// snapshot, never at a chosen chunk boundary.
		// (A fetch may return more: up to about 2 000 records past the count.)
		records = append(records, consumer.Collect(t, 1+rand.IntN(2000), time.Minute)...)
		cdcd.Kill()
		cdcd = cdcd.Restart()
	}
	t.Logf("%d records committed before the last of 10 kills", len(records))
	if len(records) >= rows {
		t.Fatalf("the snapshot ended before the last kill (%d records)", len(records))
	}
	if len(records) < rows {
		records = append(records, consumer.Collect(t, rows-len(records), 3*time.Minute)...)
	}

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

	// Every row is read, so the snapshot's last chunk is committed: what is written now is
	// after the snapshot's point, and streamed.
	mustExecMySQL(t, m.DB, "INSERT INTO snap VALUES (?, 'after')", rows+1)
	more := consumer.Collect(t, 1, time.Minute)
	more = append(more, consumer.Drain(t, 3*time.Second)...)
	if len(more) != 1 || more[0].Op() != "c" || toInt64(more[0].After()["id"]) != rows+1 {
		var got []string
		for _, r := range more {
			got = append(got, fmt.Sprintf("%s %v", r.Op(), r.After()["id"]))
		}
		t.Errorf("after the snapshot: %v, want only the streamed c %d", got, rows+1)
	}
	if s := Unwrap(more[0].Source()["snapshot"]); s != "false" && s != nil {
		t.Errorf("the streamed record has source.snapshot %v", s)
	}
	cdcd.Stop(time.Minute)
}
