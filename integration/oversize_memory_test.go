package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/internal/procmem"
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

// largeValueBuffers is the bound of what cdcd's buffers hold in a large-value test.
const largeValueBuffers = int64(largeValueQueueBytes + pipeline.DefaultEncodeQueueBytes + largeValueProducerBytes)

// largeValueExtra is the connector lines of a large-value test: the error policy and the
// small buffers.
func largeValueExtra(policy string) []string {
	return []string{
		"error_policy: " + policy,
		fmt.Sprintf("max_queue_size_in_bytes: %d", largeValueQueueBytes),
		fmt.Sprintf("producer_buffer_bytes: %d", largeValueProducerBytes),
	}
}

// startLargeValueCDCD creates topic with a max.message.bytes that refuses the large value,
// and starts cdcd on config.
func startLargeValueCDCD(t *testing.T, topic, config string) *CDCD {
	t.Helper()
	createLimitedTopic(t, topic, oversizeTopicMax)
	return startPlainCDCD(t, config)
}

// largeValueBaseline returns cdcd's peak resident memory after a first change (written by
// insertFirst, read from consumer) went through every stage, so that the baseline holds what
// any change costs.
func largeValueBaseline(t *testing.T, p *CDCD, consumer *AvroConsumer, insertFirst func()) int64 {
	t.Helper()
	insertFirst()
	consumer.Collect(t, 1, 2*time.Minute)
	baseline, err := procmem.Peak(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	return baseline
}

// checkLargeValuePeak checks that cdcd's peak resident memory stays within baseline plus the
// buffers plus twice the value of value bytes (docs/operations.md, "Memory"), then stops cdcd.
func checkLargeValuePeak(t *testing.T, p *CDCD, baseline int64, value int64) {
	t.Helper()
	peak, err := procmem.Peak(p.Pid())
	if err != nil {
		t.Fatal(err)
	}
	bound := baseline + 2*value + largeValueBuffers
	t.Logf("VmHWM before the large value %d MiB, after %d MiB (+%d MiB for a %d MiB value); bound %d MiB",
		baseline>>20, peak>>20, (peak-baseline)>>20, value>>20, bound>>20)
	if peak > bound {
		t.Errorf("VmHWM %d MiB, over the baseline %d MiB + 2 x %d MiB + buffers %d MiB", peak>>20, baseline>>20, value>>20, largeValueBuffers>>20)
	}
	p.Stop(time.Minute)
}

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
	c.ConnectorExtra = largeValueExtra(policy)
	p := startLargeValueCDCD(t, c.Topic("files"), c.Config())
	c.WaitStreaming(t, conn)
	if want := fmt.Sprintf(`"buffer_bytes":%d`, largeValueBuffers); !strings.Contains(p.Logs(), want) {
		t.Fatalf("cdcd's log does not state its buffer bound %s", want)
	}
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("files"))
	baseline := largeValueBaseline(t, p, consumer, func() { mustExec(t, conn, `INSERT INTO files VALUES (1, '\x00')`) })

	// The value is made by the server: the test sends a few bytes, not 2 x 48 MB of hex.
	mustExec(t, conn, `INSERT INTO files SELECT 2, decode(repeat('5a', $1), 'hex')`, largeValue)
	mustExec(t, conn, `INSERT INTO files VALUES (3, '\x00')`)
	if got := ids(consumer.Collect(t, 1, 2*time.Minute)); len(got) != 1 || got[0] != 3 {
		t.Fatalf("data topic ids %v after the large row, want [3]", got)
	}
	if !p.LogsContain(passedLog[policy]) {
		t.Fatalf("the large row was not let pass (%s)", passedLog[policy])
	}
	checkLargeValuePeak(t, p, baseline, largeValue)
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
	c.ConnectorExtra = largeValueExtra("skip")
	p := startLargeValueCDCD(t, c.Topic("files"), c.Config())
	c.WaitReading(t, p)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("files"))
	baseline := largeValueBaseline(t, p, consumer, func() { mustExecMySQL(t, m.DB, `INSERT INTO files VALUES (1, X'00')`) })

	mustExecMySQL(t, m.DB, `INSERT INTO files VALUES (2, REPEAT('Z', ?))`, largeBlob)
	mustExecMySQL(t, m.DB, `INSERT INTO files VALUES (3, X'00')`)
	if got := ids(consumer.Collect(t, 1, 2*time.Minute)); len(got) != 1 || got[0] != 3 {
		t.Fatalf("data topic ids %v after the large row, want [3]", got)
	}
	if !p.LogsContain("poison change skipped") {
		t.Fatalf("the large row was not skipped")
	}
	checkLargeValuePeak(t, p, baseline, largeBlob)
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
	c.ConnectorExtra = largeValueExtra("skip")
	p := startLargeValueCDCD(t, c.Topic("files"), c.Config())
	c.WaitStreaming(t, conn)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("files"))
	baseline := largeValueBaseline(t, p, consumer, func() { mustExec(t, conn, `INSERT INTO files VALUES (1, '\x00')`) })

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
	checkLargeValuePeak(t, p, baseline, largeValue)
}
