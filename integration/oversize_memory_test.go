package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/integration/internal/procmem"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// The buffers the large-value test configures, small so that the value dominates the bound.
const (
	largeValueQueueBytes    = 4 << 20
	largeValueProducerBytes = 16 << 20
)

// largeValue is the bytea the large-value test writes: large enough that a few copies of it
// stand out from everything else cdcd holds, below logical_decoding_work_mem (64 MB by
// default) so that PostgreSQL sends it in the commit's stream, not as a streamed transaction.
const largeValue = 48 << 20

// TestPostgresLargeValueMemory writes one large bytea through cdcd, under error_policy skip
// and dlq, to a topic whose max.message.bytes refuses it (so the shared broker needs no large
// message size), and checks that cdcd's peak resident memory (VmHWM) stays within its baseline
// plus its configured buffers plus twice the value (docs/operations.md, "Memory"): pgoutput's
// binary format sends the bytea as its bytes, and the decoder copies the row out of the
// message (two copies), then the encoder holds the row and its encoding (two again). Before
// cdcd asked for the binary format it took three times the value: the message held the bytea
// as hex text, twice its size, while the row was copied out of it. Before the decoder owned its
// rows and the encoder sized its buffer once, five times.
func TestPostgresLargeValueMemory(t *testing.T) {
	for _, policy := range []string{"skip", "dlq"} {
		t.Run(policy, func(t *testing.T) { testPostgresLargeValueMemory(t, policy) })
	}
}

// passedLog is the log message of a poison change under each error policy that lets it pass.
var passedLog = map[string]string{
	"skip": "poison change skipped",
	"dlq":  "poison change written to the dead-letter topic",
}

func testPostgresLargeValueMemory(t *testing.T, policy string) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE files (id int PRIMARY KEY, data bytea NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.files")
	c.ConnectorExtra = []string{
		"error_policy: " + policy,
		fmt.Sprintf("max_queue_size_in_bytes: %d", largeValueQueueBytes),
		fmt.Sprintf("producer_buffer_bytes: %d", largeValueProducerBytes),
	}
	createLimitedTopic(t, c.Topic("files"), oversizeTopicMax)
	p := startPlainCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
	buffers := int64(largeValueQueueBytes + pipeline.DefaultEncodeQueueBytes + largeValueProducerBytes)
	if want := fmt.Sprintf(`"buffer_bytes":%d`, buffers); !strings.Contains(p.Logs(), want) {
		t.Fatalf("cdcd's log does not state its buffer bound %s", want)
	}
	// A first change through every stage, so that the baseline holds what any change costs.
	mustExec(t, conn, `INSERT INTO files VALUES (1, '\x00')`)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("files"))
	consumer.Collect(t, 1, 2*time.Minute)
	baseline, err := procmem.Peak(p.Pid())
	if err != nil {
		t.Fatal(err)
	}

	// The value is made by the server: the test sends a few bytes, not 2 x 48 MB of hex.
	mustExec(t, conn, `INSERT INTO files SELECT 2, decode(repeat('5a', $1), 'hex')`, largeValue)
	mustExec(t, conn, `INSERT INTO files VALUES (3, '\x00')`)
	if got := ids(consumer.Collect(t, 1, 2*time.Minute)); len(got) != 1 || got[0] != 3 {
		t.Fatalf("data topic ids %v after the large row, want [3]", got)
	}
	if !p.LogsContain(passedLog[policy]) {
		t.Fatalf("the large row was not let pass (%s)", passedLog[policy])
	}
	peak, err := procmem.Peak(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	bound := baseline + 2*largeValue + buffers
	t.Logf("VmHWM before the large value %d MiB, after %d MiB (+%d MiB for a %d MiB value); bound %d MiB",
		baseline>>20, peak>>20, (peak-baseline)>>20, largeValue>>20, bound>>20)
	if peak > bound {
		t.Errorf("VmHWM %d MiB, over the baseline %d MiB + 2 x %d MiB + buffers %d MiB", peak>>20, baseline>>20, largeValue>>20, buffers>>20)
	}
	p.Stop(time.Minute)
}

// largeBlob is the LONGBLOB the MariaDB large-value test writes: under the shared server's
// max_allowed_packet (16 MiB), which bounds a value a client can write.
const largeBlob = 15 << 20

// TestMySQLLargeValueMemory is TestPostgresLargeValueMemory on MariaDB, with a LONGBLOB,
// whose binlog row event holds the value in binary: its bound is twice the value (the event
// and the encoded value) plus the buffers.
func TestMySQLLargeValueMemory(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE files (id int PRIMARY KEY, data longblob NOT NULL)`)
	c := NewMySQLConnector(t, m, "files")
	c.ConnectorExtra = []string{
		"error_policy: skip",
		fmt.Sprintf("max_queue_size_in_bytes: %d", largeValueQueueBytes),
		fmt.Sprintf("producer_buffer_bytes: %d", largeValueProducerBytes),
	}
	createLimitedTopic(t, c.Topic("files"), oversizeTopicMax)
	p := startPlainCDCD(t, c.Config())
	WaitFor(t, time.Minute, "cdcd reading the binlog", func() error {
		if p.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", p.Logs())
		}
		ok, err := registeredReplica(t, m.DB, mysql.DefaultServerID(c.Name))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("not registered")
		}
		return nil
	})
	buffers := int64(largeValueQueueBytes + pipeline.DefaultEncodeQueueBytes + largeValueProducerBytes)
	mustExecMySQL(t, m.DB, `INSERT INTO files VALUES (1, X'00')`)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("files"))
	consumer.Collect(t, 1, 2*time.Minute)
	baseline, err := procmem.Peak(p.Pid())
	if err != nil {
		t.Fatal(err)
	}

	mustExecMySQL(t, m.DB, `INSERT INTO files VALUES (2, REPEAT('Z', ?))`, largeBlob)
	mustExecMySQL(t, m.DB, `INSERT INTO files VALUES (3, X'00')`)
	if got := ids(consumer.Collect(t, 1, 2*time.Minute)); len(got) != 1 || got[0] != 3 {
		t.Fatalf("data topic ids %v after the large row, want [3]", got)
	}
	if !p.LogsContain("poison change skipped") {
		t.Fatalf("the large row was not skipped")
	}
	peak, err := procmem.Peak(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	bound := baseline + 2*largeBlob + buffers
	t.Logf("VmHWM before the large value %d MiB, after %d MiB (+%d MiB for a %d MiB value); bound %d MiB",
		baseline>>20, peak>>20, (peak-baseline)>>20, largeBlob>>20, bound>>20)
	if peak > bound {
		t.Errorf("VmHWM %d MiB, over the baseline %d MiB + 2 x %d MiB + buffers %d MiB", peak>>20, baseline>>20, largeBlob>>20, buffers>>20)
	}
	p.Stop(time.Minute)
}

// TestPostgresSnapshotLargeValueMemory is TestPostgresLargeValueMemory for a snapshot: the
// large row is there before cdcd starts (snapshot_mode no_data), and an incremental snapshot
// reads it with COPY.
func TestPostgresSnapshotLargeValueMemory(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE files (id int PRIMARY KEY, data bytea NOT NULL);
		CREATE TABLE cdcd_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))`)
	mustExec(t, conn, `INSERT INTO files SELECT 2, decode(repeat('5a', $1), 'hex')`, largeValue)
	c := NewPostgresConnector(t, db, "public.files")
	c.Extra = []string{"snapshot_mode: no_data", "signal_table: public.cdcd_signal"}
	c.ConnectorExtra = []string{
		"error_policy: skip",
		fmt.Sprintf("max_queue_size_in_bytes: %d", largeValueQueueBytes),
		fmt.Sprintf("producer_buffer_bytes: %d", largeValueProducerBytes),
	}
	createLimitedTopic(t, c.Topic("files"), oversizeTopicMax)
	p := startPlainCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
	buffers := int64(largeValueQueueBytes + pipeline.DefaultEncodeQueueBytes + largeValueProducerBytes)
	mustExec(t, conn, `INSERT INTO files VALUES (1, '\x00')`)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("files"))
	consumer.Collect(t, 1, 2*time.Minute)
	baseline, err := procmem.Peak(p.Pid())
	if err != nil {
		t.Fatal(err)
	}

	mustExec(t, conn, `INSERT INTO cdcd_signal VALUES ('snap-1', 'execute-snapshot',
		'{"data-collections": ["public.files"], "type": "incremental"}')`)
	WaitFor(t, 2*time.Minute, "the incremental snapshot", func() error {
		if !p.LogsContain("incremental snapshot done") {
			return fmt.Errorf("not done")
		}
		return nil
	})
	if !p.LogsContain("poison change skipped") {
		t.Fatalf("the large row was not skipped")
	}
	peak, err := procmem.Peak(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	bound := baseline + 2*largeValue + buffers
	t.Logf("VmHWM before the large value %d MiB, after %d MiB (+%d MiB for a %d MiB value); bound %d MiB",
		baseline>>20, peak>>20, (peak-baseline)>>20, largeValue>>20, bound>>20)
	if peak > bound {
		t.Errorf("VmHWM %d MiB, over the baseline %d MiB + 2 x %d MiB + buffers %d MiB", peak>>20, baseline>>20, largeValue>>20, buffers>>20)
	}
	p.Stop(time.Minute)
}
