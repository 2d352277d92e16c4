package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests of topics with many partitions: the topics are created with the topic_creation
// settings, every record lands on the partition Kafka's Java producer would pick for its key
// bytes, and exactly once and per-key order hold across partitions and SIGKILLs.

// tenPartitions is the partition count of the topics of these tests.
const tenPartitions = 10

// javaMurmur2 is Kafka's Utils.murmur2, written from the Java source's arithmetic (signed
// 32-bit ints, logical shifts), apart from cdcd's own: the tests compare the partitions cdcd
// chose with it.
func javaMurmur2(data []byte) int32 {
	const seed, m, r = int32(-1756908916), int32(0x5bd1e995), 24
	length := int32(len(data))
	h := seed ^ length
	length4 := len(data) / 4
	for i := range length4 {
		i4 := i * 4
		k := int32(data[i4]) | int32(data[i4+1])<<8 | int32(data[i4+2])<<16 | int32(data[i4+3])<<24
		k *= m
		k ^= int32(uint32(k) >> r)
		k *= m
		h *= m
		h ^= k
	}
	tail := len(data) % 4
	base := len(data) &^ 3
	if tail == 3 {
		h ^= int32(data[base+2]) << 16
	}
	if tail >= 2 {
		h ^= int32(data[base+1]) << 8
	}
	if tail >= 1 {
		h ^= int32(data[base])
		h *= m
	}
	h ^= int32(uint32(h) >> 13)
	h *= m
	h ^= int32(uint32(h) >> 15)
	return h
}

// javaPartition is the partition of n Kafka's default partitioner gives key:
// Utils.toPositive(Utils.murmur2(key)) % n.
func javaPartition(key []byte, n int) int32 {
	return int32(int(javaMurmur2(key)&0x7fffffff) % n)
}

func TestJavaMurmur2Vectors(t *testing.T) {
	// Kafka's UtilsTest.testMurmur2.
	for key, want := range map[string]int32{"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, "abc": 479470107} {
		if got := javaMurmur2([]byte(key)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
	}
}

// partitionKills is how many times the ten-partition tests (PostgreSQL, MariaDB) kill cdcd:
// CDCD_PARTITION_KILLS, else defaultPartitionKills (a handful; 20 under the chaos build tag).
func partitionKills(t *testing.T) int {
	if v := os.Getenv("CDCD_PARTITION_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("CDCD_PARTITION_KILLS=%q: want a number of kills", v)
		}
		return n
	}
	return defaultPartitionKills
}

// topicCreationTen is the connector's topic_creation section of these tests: ten partitions
// and lz4 for every topic, and for topic (group "main") one day of retention and zstd.
func topicCreationTen(topic string) []string {
	return []string{
		"topic_creation:",
		fmt.Sprintf("  default: {partitions: %d, replication_factor: 1, compression_type: lz4}", tenPartitions),
		"  groups:",
		fmt.Sprintf("    - {name: main, include: ['%s'], retention_ms: 86400000, compression_type: zstd, cleanup_policy: delete}",
			regexp.QuoteMeta(topic)),
	}
}

// TestPostgresTenPartitionsSurviveSIGKILL runs the counters workload on a topic of ten
// partitions made by topic_creation, killing cdcd with SIGKILL partitionKills times: every
// change arrives once, each key's changes in order, all on the partition murmur2 of the key
// bytes picks (one per key); the topic has the settings asked for.
func TestPostgresTenPartitionsSurviveSIGKILL(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.counters")
	topic := c.Topic("counters")
	c.ConnectorExtra = topicCreationTen(topic)
	cdcd := c.StartStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)

	writer := startCounterWriter(t, pgIncrement(db.Conn(t)))
	consumer := NewAvroConsumer(t, c.RegistryURL(), topic)
	cdcd, records := tenPartitionKills(t, cdcd, consumer, func() { checkSlotNotAheadOfOffset(t, conn, c) })
	checkTenPartitionCounters(t, cdcd, consumer, topic, writer, records)
}

// tenPartitionKills kills cdcd with SIGKILL partitionKills times, each after a random amount
// of progress (1 to 300 more records visible to consumer), calls whileDown, and restarts it.
// It returns the running process and the records read meanwhile.
func tenPartitionKills(t *testing.T, cdcd *CDCD, consumer *AvroConsumer, whileDown func()) (*CDCD, []ChangeRecord) {
	t.Helper()
	var records []ChangeRecord
	for range partitionKills(t) {
		records = append(records, consumer.Collect(t, 1+rand.IntN(300), 2*time.Minute)...)
		cdcd.Kill()
		whileDown()
		cdcd = cdcd.Restart()
	}
	return cdcd, records
}

// checkTenPartitionCounters ends the counters workload of a ten-partition test and checks it:
// every change once and each key's changes in order (the consumer reads each partition in
// order), cdcd stops cleanly, the topic has topicCreationTen's settings, and every record is
// on the partition murmur2 of its key bytes picks, one partition per key, the keys spread.
func checkTenPartitionCounters(t *testing.T, cdcd *CDCD, consumer *AvroConsumer, topic string, writer *counterWriter, records []ChangeRecord) {
	t.Helper()
	expected := writer.stop(t)
	records = collectCounters(t, consumer, records, expected)
	t.Logf("%d changes written across %d SIGKILLs, %d records read", expected, partitionKills(t), len(records))
	checkCounters(t, records, expected)
	cdcd.Stop(time.Minute)

	checkTopicSettings(t, topic, tenPartitions, map[string]string{"compression.type": "zstd", "retention.ms": "86400000", "cleanup.policy": "delete"})
	raw := readRaw(t, topic, expected)
	partitionOf := map[string]int32{}
	used := map[int32]bool{}
	for _, r := range raw {
		want := javaPartition(r.Key, tenPartitions)
		if r.Partition != want {
			t.Fatalf("key %x on partition %d, murmur2 picks %d", r.Key, r.Partition, want)
		}
		if p, ok := partitionOf[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("key %x on partitions %d and %d", r.Key, p, r.Partition)
		}
		partitionOf[string(r.Key)] = r.Partition
		used[r.Partition] = true
	}
	if len(partitionOf) != counterKeys || len(used) < 3 {
		t.Errorf("%d keys on %d partitions, want %d keys spread over several", len(partitionOf), len(used), counterKeys)
	}
}

// checkTopicSettings checks topic's partition count and configurations with kadm.
func checkTopicSettings(t *testing.T, topic string, partitions int, configs map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(NewKafkaClient(t))
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("listing %s: %v", topic, err)
	}
	if n := len(details[topic].Partitions); n != partitions {
		t.Errorf("%s has %d partitions, want %d", topic, n, partitions)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("describing %s: %v", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatalf("describing %s: %v", topic, err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = c.MaybeValue()
	}
	for k, v := range configs {
		if got[k] != v {
			t.Errorf("%s: %s is %q, want %q", topic, k, got[k], v)
		}
	}
}

// readRaw reads n committed records of topic from every partition, undecoded.
func readRaw(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	client := NewKafkaClient(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d of %d records before the deadline", topic, len(out), n)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("reading %s: %v", errs[0].Topic, errs[0].Err)
		}
		out = append(out, fetches.Records()...)
	}
	return out
}

// TestJavaConsumerSeesMurmur2Partitions streams a table whose key is chosen by
// message_key_columns (a customer column, many rows each) in format json, keys without
// schema, to a topic of ten partitions; Kafka's own console consumer (the Java client, with
// print.key and print.partition) reads it: each key it prints is on the partition murmur2 of
// its bytes picks, and all the rows of one customer are on one partition. A topic created
// beforehand with three partitions is used as it is, with a warning naming the difference.
func TestJavaConsumerSeesMurmur2Partitions(t *testing.T) {
	tools := kafkaToolsDir(t)
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, amount int NOT NULL)`)
	mustExec(t, conn, `ALTER TABLE orders REPLICA IDENTITY FULL`)
	mustExec(t, conn, `CREATE TABLE existing (id int PRIMARY KEY)`)
	c := NewPostgresConnector(t, db, "public.orders", "public.existing")
	topic := c.Topic("orders")
	// A topic that exists with other settings is used as it is, with a warning.
	existing := c.Topic("existing")
	if _, err := kadm.NewClient(NewKafkaClient(t)).CreateTopic(t.Context(), 3, 1, nil, existing); err != nil {
		t.Fatalf("creating %s: %v", existing, err)
	}
	c.ConnectorExtra = append([]string{"format: json", "json:", "  key_schemas_enable: false",
		"message_key_columns: 'public\\.ord.*:customer'"}, topicCreationTen(topic+"_none")...)
	cdcd := c.StartStreaming(t, conn)
	const rows, customers = 300, 23
	mustExec(t, conn, `INSERT INTO orders SELECT i, i % $2, 0 FROM generate_series(1, $1) i`, rows, customers)
	mustExec(t, conn, `UPDATE orders SET amount = amount + 1 WHERE id % 3 = 0`)
	mustExec(t, conn, `INSERT INTO existing VALUES (1)`)
	total := rows + rows/3

	// cdcd's consumer side first: every record committed, so the console consumer's read
	// ends.
	raw := readRaw(t, topic, total)
	readRaw(t, existing, 1)
	cdcd.Stop(time.Minute)
	if logs := cdcd.Logs(); !strings.Contains(logs, "the topic exists with other settings") ||
		!strings.Contains(logs, `partitions: has 3, configured 10`) {
		t.Errorf("no warning names the existing topic's partitions:\n%s", grepLines(logs, "warn"))
	}
	checkTopicSettings(t, existing, 3, nil)

	lines := consoleConsume(t, tools, topic, total)
	partitionOf := map[string]int32{}
	for _, l := range lines {
		if want := javaPartition([]byte(l.key), tenPartitions); l.partition != want {
			t.Errorf("the Java consumer shows key %s on partition %d, murmur2 picks %d", l.key, l.partition, want)
		}
		var key map[string]any
		if err := json.Unmarshal([]byte(l.key), &key); err != nil || len(key) != 1 || key["customer"] == nil {
			t.Fatalf("key %q is not {\"customer\": n}: %v", l.key, err)
		}
		if p, ok := partitionOf[l.key]; ok && p != l.partition {
			t.Errorf("customer key %s on partitions %d and %d", l.key, p, l.partition)
		}
		partitionOf[l.key] = l.partition
	}
	if len(partitionOf) != customers {
		t.Errorf("%d distinct keys, want %d customers", len(partitionOf), customers)
	}
	// The Java client and franz-go see the same key bytes on the same partitions.
	for _, r := range raw {
		if p, ok := partitionOf[string(r.Key)]; !ok || p != r.Partition {
			t.Errorf("key %s: partition %d read with franz-go, %d (seen: %v) with the Java consumer", r.Key, r.Partition, p, ok)
		}
	}
	checkTopicSettings(t, topic, tenPartitions, map[string]string{"compression.type": "lz4"})
}

// consoleLine is one record as kafka-console-consumer prints it with print.partition and
// print.key, without the value.
type consoleLine struct {
	partition int32
	key       string
}

// consoleConsume runs Kafka's console consumer (the class bin/kafka-console-consumer.sh runs)
// on topic from its start, read_committed, until it has printed n records.
func consoleConsume(t *testing.T, tools, topic string, n int) []consoleLine {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java", "-Xmx256m", "-cp", filepath.Join(tools, "*"),
		"org.apache.kafka.tools.consumer.ConsoleConsumer",
		"--bootstrap-server", StackFromEnv().KafkaAddr, "--topic", topic, "--from-beginning",
		"--max-messages", strconv.Itoa(n), "--isolation-level", "read_committed", "--timeout-ms", "120000",
		"--property", "print.partition=true", "--property", "print.key=true", "--property", "print.value=false",
		"--property", "key.separator=|")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kafka-console-consumer: %v\n%s", err, lastLines(stderr.String(), 20))
	}
	var out []consoleLine
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := sc.Text()
		// "Partition:3|{"customer":7}": the fields separated by key.separator.
		rest, ok := strings.CutPrefix(line, "Partition:")
		part, key, ok2 := strings.Cut(rest, "|")
		if !ok || !ok2 {
			t.Fatalf("kafka-console-consumer printed %q", line)
		}
		p, err := strconv.Atoi(part)
		if err != nil {
			t.Fatalf("kafka-console-consumer printed %q", line)
		}
		out = append(out, consoleLine{partition: int32(p), key: key})
	}
	if len(out) != n {
		t.Fatalf("kafka-console-consumer printed %d records, want %d:\n%s", len(out), n, lastLines(stderr.String(), 20))
	}
	return out
}

// kafkaToolsDir returns the folder of Kafka's tools jars that deploy/dev/kafkatools.sh fetch
// prints (fetching them if missing).
func kafkaToolsDir(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "deploy", "dev", "kafkatools.sh"), "fetch")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("deploy/dev/kafkatools.sh fetch: %v\n%s", err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Fatalf("deploy/dev/kafkatools.sh printed %q: %v", dir, err)
	}
	return dir
}
