package integration

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

const (
	// parallelPairs is the row count of the composite-key table: a = i / 1000, b = 'k' and i
	// % 1000 on five digits, so that key order is (a, b) in any collation.
	parallelPairs = 50_000
	// parallelLoose is the row count of the keyless table.
	parallelLoose = 3_000
)

// setupParallelSnapshot creates the two tables and a connector that snapshots them with three
// worker connections in small chunks.
func setupParallelSnapshot(t *testing.T) (*PostgresDB, *PostgresConnector) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE pairs (a int, b text, payload text NOT NULL, PRIMARY KEY (a, b));
		CREATE TABLE loose (x int NOT NULL, y text)`)
	mustExec(t, conn, `INSERT INTO pairs SELECT i / 1000, 'k' || lpad((i % 1000)::text, 5, '0'), md5(i::text)
		FROM generate_series(0, $1 - 1) i`, parallelPairs)
	mustExec(t, conn, `INSERT INTO loose SELECT i, md5(i::text) FROM generate_series(0, $1 - 1) i`, parallelLoose)
	// Holes in the keyless table's pages, and statistics for the page span of its chunks.
	mustExec(t, conn, `DELETE FROM loose WHERE x % 7 = 3`)
	mustExec(t, conn, `ANALYZE pairs; ANALYZE loose`)
	c := NewPostgresConnector(t, db, "public.pairs", "public.loose")
	c.Extra = []string{"snapshot_chunk_rows: 700", "snapshot_max_threads: 3"}
	return db, c
}

// parallelLooseRows is the number of rows left in loose.
func parallelLooseRows() int {
	n := 0
	for x := range parallelLoose {
		if x%7 != 3 {
			n++
		}
	}
	return n
}

// snapshotOracle checks snapshot records as they are read: every row once, op r, and (when
// ordered) the keyed table's rows in key order.
type snapshotOracle struct {
	t         *testing.T
	pairs     map[[2]any]bool
	loose     map[int64]bool
	lastPair  [2]any
	pairTopic string
	markers   map[string]int
	ordered   bool
}

func (o *snapshotOracle) add(records []ChangeRecord) {
	t := o.t
	t.Helper()
	for _, r := range records {
		if r.Op() != "r" {
			t.Fatalf("%s offset %d: op %s, want r", r.Topic, r.Offset, r.Op())
		}
		o.markers[Unwrap(r.Source()["snapshot"]).(string)]++
		after := r.After()
		if r.Topic == o.pairTopic {
			key := [2]any{toInt64(after["a"]), Unwrap(after["b"]).(string)}
			if o.pairs[key] {
				t.Fatalf("pairs row %v arrived twice (offset %d)", key, r.Offset)
			}
			o.pairs[key] = true
			if o.ordered && len(o.pairs) > 1 {
				prev := o.lastPair
				if key[0].(int64) < prev[0].(int64) || key[0] == prev[0] && key[1].(string) <= prev[1].(string) {
					t.Fatalf("pairs row %v after %v (offset %d): not in key order", key, prev, r.Offset)
				}
			}
			o.lastPair = key
			continue
		}
		x := toInt64(after["x"])
		if x%7 == 3 || x < 0 || x >= parallelLoose {
			t.Fatalf("loose row x=%d should not exist", x)
		}
		if o.loose[x] {
			t.Fatalf("loose row x=%d arrived twice (offset %d)", x, r.Offset)
		}
		o.loose[x] = true
	}
}

func (o *snapshotOracle) check() {
	o.t.Helper()
	if len(o.pairs) != parallelPairs || len(o.loose) != parallelLooseRows() {
		o.t.Errorf("read %d pairs rows and %d loose rows, want %d and %d", len(o.pairs), len(o.loose), parallelPairs, parallelLooseRows())
	}
	if o.markers["first"] != 1 || o.markers["last"] != 1 {
		o.t.Errorf("snapshot markers = %v, want exactly one first and one last", o.markers)
	}
}

func newSnapshotOracle(t *testing.T, c *PostgresConnector, ordered bool) *snapshotOracle {
	return &snapshotOracle{t: t, pairs: map[[2]any]bool{}, loose: map[int64]bool{}, pairTopic: c.Topic("pairs"),
		markers: map[string]int{}, ordered: ordered}
}

// TestPostgresParallelSnapshot snapshots a composite-key table of 50 000 rows and a keyless one
// with three worker connections: every row arrives once, each keyed table in key order, with
// one first and one last marker, and a change made afterwards is streamed.
func TestPostgresParallelSnapshot(t *testing.T) {
	db, c := setupParallelSnapshot(t)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("pairs"), c.Topic("loose"))
	cdcd := StartCDCD(t, c.Config())

	oracle := newSnapshotOracle(t, c, true)
	total := parallelPairs + parallelLooseRows()
	oracle.add(consumer.Collect(t, total, 3*time.Minute))
	oracle.check()
	if !cdcd.LogsContain(`"threads":3`) {
		t.Errorf("the snapshot did not log 3 threads:\n%s", cdcd.Logs())
	}

	mustExec(t, db.Conn(t), `INSERT INTO pairs VALUES (999, 'streamed', 'after the snapshot')`)
	rest := consumer.Collect(t, 1, time.Minute)
	rest = append(rest, consumer.Drain(t, 2*time.Second)...)
	if len(rest) != 1 || rest[0].Op() != "c" || toInt64(rest[0].After()["a"]) != 999 {
		t.Fatalf("after the snapshot got %d records (%v), want the one insert", len(rest), rest)
	}
	cdcd.Stop(time.Minute)
}

// TestPostgresParallelSnapshotSurvivesSIGKILL kills cdcd three times during a parallel
// snapshot, each time a few chunks after its start: each restart resumes in a snapshot the
// snapshot connection exports for its workers, and every row still arrives exactly once, in
// key order.
func TestPostgresParallelSnapshotSurvivesSIGKILL(t *testing.T) {
	_, c := setupParallelSnapshot(t)
	c.Extra = []string{"snapshot_chunk_rows: 300", "snapshot_max_threads: 3"}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("pairs"), c.Topic("loose"))
	cdcd := StartCDCD(t, c.Config())
	for i := range 3 {
		// The snapshot outruns any consumer: kill on the log's word, a few chunks on.
		n := snapshotCommits(cdcd) + 1 + rand.IntN(5)
		deadline := time.Now().Add(2 * time.Minute)
		for snapshotCommits(cdcd) < n {
			if time.Now().After(deadline) || cdcd.Exited() {
				t.Fatalf("run %d: no %d snapshot chunks committed:\n%s", i+1, n, cdcd.Logs())
			}
			time.Sleep(time.Millisecond)
		}
		cdcd.Kill()
		cdcd = cdcd.Restart()
	}
	oracle := newSnapshotOracle(t, c, true)
	oracle.add(consumer.Collect(t, parallelPairs+parallelLooseRows(), 3*time.Minute))
	oracle.add(consumer.Drain(t, 3*time.Second))
	oracle.check()
	// Each restart resumed a snapshot in progress, in a snapshot of its own exported to the
	// workers (the slot's exported snapshot died with the first run).
	if n := strings.Count(cdcd.Logs(), `"exported":false,"resumed":true,"tables":2,"threads":3`); n != 3 {
		t.Errorf("%d runs resumed the parallel snapshot, want 3:\n%s", n, cdcd.Logs())
	}
	cdcd.Stop(time.Minute)
}

// snapshotCommits counts the Kafka transactions the log says were committed with a snapshot
// position: the chunks committed so far, by every run.
func snapshotCommits(p *CDCD) int {
	n := 0
	for _, line := range strings.Split(p.Logs(), "\n") {
		if strings.Contains(line, "kafka transaction committed") && strings.Contains(line, `\"snapshot\":{`) {
			n++
		}
	}
	return n
}
