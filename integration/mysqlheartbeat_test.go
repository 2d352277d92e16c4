package integration

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/offsets"
)

// TestMySQLHeartbeatsMoveTheOffsetPastUncapturedWrites runs two connectors on one MariaDB
// database holding a captured table and an uncaptured one, one with heartbeat_interval 1s and
// one without, and writes to the uncaptured table only. The heartbeat connector's committed
// offset comes to include the GTIDs of those writes; the other's stays where its last captured
// row left it. The heartbeat connector is then killed with SIGKILL and restarted: its captured
// rows each arrive exactly once, its offset moves past later uncaptured writes again, and its
// heartbeat topic holds Debezium's records, about one a second.
func TestMySQLHeartbeatsMoveTheOffsetPastUncapturedWrites(t *testing.T) {
	const noiseTxns = 20
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE captured (id int PRIMARY KEY, n int)`)
	mustExecMySQL(t, m.DB, `CREATE TABLE noise (id int AUTO_INCREMENT PRIMARY KEY, pad varchar(64))`)
	hb := NewMySQLConnector(t, m, "captured")
	ctl := NewMySQLConnector(t, m, "captured")
	// The mysql section is the config's last: one more line of it.
	hbConfig := hb.Config() + "      heartbeat_interval: 1s\n"

	started := time.Now()
	hbProc := StartCDCD(t, hbConfig)
	ctlProc := StartCDCD(t, ctl.Config())
	for _, c := range []struct {
		conn *MySQLConnector
		proc *CDCD
	}{{hb, hbProc}, {ctl, ctlProc}} {
		c.conn.WaitReading(t, c.proc)
	}
	// cdcd created the sources' own topics before they read: the schema history kept forever,
	// the heartbeats' of one partition and the broker's defaults.
	checkSourceTopic(t, hb.Name+mysql.DefaultHistoryTopicSuffix, 1,
		map[string]string{"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"})
	checkSourceTopic(t, "__debezium-heartbeat."+hb.Prefix, 1, map[string]string{})

	// A first captured row gives both a committed offset to compare with.
	hbRows := NewAvroConsumer(t, hb.RegistryURL(), hb.Topic("captured"))
	ctlRows := NewAvroConsumer(t, ctl.RegistryURL(), ctl.Topic("captured"))
	captured := 1
	mustExecMySQL(t, m.DB, `INSERT INTO captured VALUES (1, 1)`)
	records := hbRows.Collect(t, 1, time.Minute)
	ctlRows.Collect(t, 1, time.Minute)
	ctlKey := offsets.Key{Connector: ctl.Name, Server: ctl.Prefix}
	ctlBase := committedWhileDown(t, ctl.Prefix+"_offsets", ctlKey)
	if ctlBase.IsZero() {
		t.Fatal("the connector without heartbeats has no committed offset after its first row")
	}

	// Uncaptured writes only: heartbeats carry their GTIDs into the committed offset.
	noise := func() mysql.GTIDSet {
		t.Helper()
		for range noiseTxns {
			mustExecMySQL(t, m.DB, `INSERT INTO noise (pad) VALUES (md5(rand()))`)
		}
		var pos string
		if err := m.DB.QueryRowContext(t.Context(), `SELECT @@gtid_binlog_pos`).Scan(&pos); err != nil {
			t.Fatalf("reading the server's GTID position: %v", err)
		}
		set, err := mysql.ParseGTIDSet(mysql.FlavorMariaDB, pos)
		if err != nil {
			t.Fatalf("the server's GTID position %q: %v", pos, err)
		}
		return set
	}
	committedGTIDs := func(c *MySQLConnector) mysql.GTIDSet {
		t.Helper()
		// Read while cdcd runs: the stable end of the offsets topic covers exactly the
		// transactions decided so far.
		pos := committedWhileDown(t, c.Prefix+"_offsets", offsets.Key{Connector: c.Name, Server: c.Prefix})
		p, err := mysql.ParsePosition(string(pos.Source))
		if err != nil {
			t.Fatalf("committed offset %s: %v", pos, err)
		}
		return p.GTIDs
	}
	waitPast := func(target mysql.GTIDSet) {
		t.Helper()
		WaitFor(t, 15*time.Second, "the heartbeat connector's offset past the uncaptured writes", func() error {
			if hbProc.Exited() {
				t.Fatalf("cdcd exited; log:\n%s", hbProc.Logs())
			}
			if got := committedGTIDs(hb); !got.Contains(target) {
				return fmt.Errorf("committed GTIDs %s, want at least %s", got, target)
			}
			return nil
		})
	}
	target := noise()
	waitPast(target)
	if got := committedWhileDown(t, ctl.Prefix+"_offsets", ctlKey); string(got.Source) != string(ctlBase.Source) || got.Skip != ctlBase.Skip {
		t.Errorf("without heartbeats the committed offset moved from %s to %s", ctlBase, got)
	}
	if got := committedGTIDs(ctl); got.Contains(target) {
		t.Errorf("without heartbeats the committed GTIDs %s include the uncaptured writes up to %s", got, target)
	}
	ctlProc.Stop(30 * time.Second)

	// SIGKILL between captured rows and heartbeats, then more of both after the restart.
	for ; captured < 5; captured++ {
		mustExecMySQL(t, m.DB, `INSERT INTO captured VALUES (?, ?)`, captured+1, captured+1)
	}
	hbProc.Kill()
	for ; captured < 8; captured++ {
		mustExecMySQL(t, m.DB, `INSERT INTO captured VALUES (?, ?)`, captured+1, captured+1)
	}
	hbProc = hbProc.Restart()
	waitPast(noise())
	for ; captured < 10; captured++ {
		mustExecMySQL(t, m.DB, `INSERT INTO captured VALUES (?, ?)`, captured+1, captured+1)
	}
	records = append(records, hbRows.Collect(t, captured-len(records), time.Minute)...)
	records = append(records, hbRows.Drain(t, 3*time.Second)...)
	seen := map[int64]int{}
	for _, r := range records {
		seen[toInt64(r.After()["id"])]++
	}
	for id := int64(1); id <= int64(captured); id++ {
		if seen[id] != 1 {
			t.Errorf("captured row %d arrived %d times, want once", id, seen[id])
		}
	}
	if len(records) != captured {
		t.Errorf("%d captured records, want %d", len(records), captured)
	}

	// The heartbeat topic, read to its end once cdcd is stopped: Debezium's key and value, in
	// order, about one per second of the connector's life (the first an interval after each
	// start, none while it was down).
	hbProc.Stop(30 * time.Second)
	lived := time.Since(started)
	beats := readHeartbeats(t, "__debezium-heartbeat."+hb.Prefix)
	if want := int(lived/time.Second) / 3; len(beats) < want {
		t.Errorf("%d heartbeat records in %s, want at least %d", len(beats), lived.Round(time.Second), want)
	}
	checkHeartbeatRecords(t, beats, hb.Prefix)
	t.Logf("%d heartbeats in %s", len(beats), lived.Round(time.Second))
}

// checkSourceTopic checks that topic has partitions partitions and, set on the topic itself,
// exactly the settings want (the broker's defaults otherwise).
func checkSourceTopic(t *testing.T, topic string, partitions int, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	admin := kadm.NewClient(NewKafkaClient(t))
	details, err := admin.ListTopics(ctx, topic)
	if err != nil || details[topic].Err != nil {
		t.Fatalf("listing topic %s: %v %v", topic, err, details[topic].Err)
	}
	if got := len(details[topic].Partitions); got != partitions {
		t.Errorf("topic %s has %d partitions, want %d", topic, got, partitions)
	}
	rcs, err := admin.DescribeTopicConfigs(ctx, topic)
	if err == nil {
		var rc kadm.ResourceConfig
		if rc, err = rcs.On(topic, nil); err == nil {
			got := map[string]string{}
			for _, c := range rc.Configs {
				if c.Source == 1 && c.Value != nil { // DYNAMIC_TOPIC_CONFIG: set on the topic
					got[c.Key] = *c.Value
				}
			}
			if !maps.Equal(got, want) {
				t.Errorf("topic %s settings %v, want %v", topic, got, want)
			}
		}
	}
	if err != nil {
		t.Fatalf("describing topic %s: %v", topic, err)
	}
}
