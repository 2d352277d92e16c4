package integration

import (
	"fmt"
	"testing"
	"time"
)

// A partitioned table's rows land on one topic per the connector's publish_via_partition_root,
// the same for its snapshot and its stream: the table's own topic (true, the default), or its
// partitions' topics (false). Two rows are read by the snapshot, one per partition; then one
// insert per partition and an update are streamed. In the default case the publication exists
// already, made without the option: cdcd alters it.
func TestPostgresPartitionedTableTopics(t *testing.T) {
	for _, c := range []struct {
		name  string
		extra []string
		// topics maps each topic to the ops it must hold, in order (region in brackets).
		topics map[string][]string
		empty  []string
	}{
		{"via root (default)", nil,
			map[string][]string{"m": {"r eu", "r us", "c eu", "c us", "u eu"}}, []string{"m_eu", "m_us"}},
		{"via partitions", []string{"publish_via_partition_root: false"},
			map[string][]string{"m_eu": {"r eu", "c eu", "u eu"}, "m_us": {"r us", "c us"}}, []string{"m"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := NewPostgresDB(t)
			conn := db.Conn(t)
			mustExec(t, conn, `CREATE TABLE m (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
				CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu');
				CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us');
				INSERT INTO m VALUES (1, 'eu', 'a'), (2, 'us', 'b')`)
			pc := NewPostgresConnector(t, db, "public.m")
			pc.Extra = c.extra
			if c.extra == nil {
				mustExec(t, conn, `CREATE PUBLICATION `+pc.Name+` FOR TABLE m`)
			}
			StartCDCD(t, pc.Config())
			pc.WaitStreaming(t, conn)
			mustExec(t, conn, `INSERT INTO m VALUES (3, 'eu', 'c'), (4, 'us', 'd')`)
			mustExec(t, conn, `UPDATE m SET v = 'a2' WHERE id = 1`)

			for table, want := range c.topics {
				got := NewAvroConsumer(t, pc.RegistryURL(), pc.Topic(table)).Collect(t, len(want), 2*time.Minute)
				for i, r := range got {
					row := r.After()
					if g := fmt.Sprintf("%s %v", r.Op(), Unwrap(row["region"])); g != want[i] {
						t.Errorf("%s record %d: %s, want %s", table, i, g, want[i])
					}
				}
				if src := got[0].Source(); Unwrap(src["table"]) != table {
					t.Errorf("%s: source.table %v", table, src["table"])
				}
			}
			// Every record has arrived on the topics above; the others stayed empty.
			for _, table := range c.empty {
				if got := NewAvroConsumer(t, pc.RegistryURL(), pc.Topic(table)).Drain(t, 3*time.Second); len(got) != 0 {
					t.Errorf("topic %s holds %d records, want none", pc.Topic(table), len(got))
				}
			}
			var viaRoot bool
			if err := conn.QueryRow(t.Context(), `SELECT pubviaroot FROM pg_publication WHERE pubname = $1`, pc.Name).Scan(&viaRoot); err != nil {
				t.Fatal(err)
			}
			if want := c.extra == nil; viaRoot != want {
				t.Errorf("publication's pubviaroot = %t, want %t", viaRoot, want)
			}
		})
	}
}
