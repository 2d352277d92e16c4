package integration

import (
	"fmt"
	"testing"
	"time"
)

// TestMySQLSurvivesSIGKILLExactlyOnce kills cdcd with SIGKILL at random moments while a
// workload writes to MariaDB, crashCycles times, restarting it each time: a read_committed
// consumer must see every change exactly once and in per-key order.
func TestMySQLSurvivesSIGKILLExactlyOnce(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewMySQLConnector(t, m, "counters")
	cdcd := c.StartStreaming(t)
	// seq_1_to_N is MariaDB's sequence engine.
	mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO counters SELECT seq, 0 FROM seq_1_to_%d`, counterKeys))

	writer := startCounterWriter(t, mysqlIncrement(m.DB))
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	cdcd, records := killCycles(t, cdcd, consumer, nil)
	expected := writer.stop(t)
	records = collectCounters(t, consumer, records, expected)
	t.Logf("%d changes written across %d SIGKILL cycles, %d records read", expected, crashCycles, len(records))
	checkCounters(t, records, expected)
	cdcd.Stop(time.Minute)
}
