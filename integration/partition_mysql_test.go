package integration

import (
	"fmt"
	"testing"
)

// TestMySQLTenPartitionsSurviveSIGKILL is TestPostgresTenPartitionsSurviveSIGKILL's twin on
// MariaDB: the counters workload on a topic of ten partitions made by topic_creation, cdcd
// killed with SIGKILL partitionKills times; every change arrives once, each key's changes in
// order, all on the partition murmur2 of the key bytes picks.
func TestMySQLTenPartitionsSurviveSIGKILL(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewMySQLConnector(t, m, "counters")
	topic := c.Topic("counters")
	c.ConnectorExtra = topicCreationTen(topic)
	cdcd := c.StartStreaming(t)
	// seq_1_to_N is MariaDB's sequence engine.
	mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO counters SELECT seq, 0 FROM seq_1_to_%d`, counterKeys))

	writer := startCounterWriter(t, mysqlIncrement(m.DB))
	consumer := NewAvroConsumer(t, c.RegistryURL(), topic)
	cdcd, records := tenPartitionKills(t, cdcd, consumer, func() {})
	checkTenPartitionCounters(t, cdcd, consumer, topic, writer, records)
}
