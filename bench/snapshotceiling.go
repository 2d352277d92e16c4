package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcd-dev/cdcd/pipeline"
)

// snapshotCodecNames are the codecs -snapshot-codecs accepts: cdcd's kafka.compression values.
var snapshotCodecNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// ErrCeiling is wrapped by the failures of the snapshot ceiling's tools.
var ErrCeiling = errors.New("snapshot ceiling")

// perfRate is the rate in kafka-producer-perf-test's summary line.
var perfRate = regexp.MustCompile(`(\d+) records sent, ([0-9.]+) records/sec`)

// snapshotCeiling measures what a snapshot could reach on this machine if cdcd cost nothing:
// psql's COPY of the table and Kafka's own producer (kafka-producer-perf-test, Kafka's Java
// client: ProducerPerformance of the tools deploy/dev/kafkatools.sh fetches) writing as many
// records of size bytes with codec, both at the same time, as a snapshot runs them; the
// producer once transactional as cdcd's, once not. The slower of the two is the ceiling of
// the ratio to COPY alone (copyAlone, this run's rate).
func (b *bench) snapshotCeiling(ctx context.Context, db *pgDatabase, codec string, size int, copyAlone float64,
	label func(string) string, add func(measurement string, value float64, unit, note string)) error {
	tools, err := b.kafkaTools(ctx)
	if err != nil {
		return err
	}
	if codec == "" {
		codec = "snappy" // cdcd's default
	}
	n := b.s.snapshotRows
	if cpu, ok, err := b.copyBackendCPU(ctx, db); err != nil {
		return err
	} else if ok {
		add(label("ceiling: COPY backend CPU per row"), float64(cpu.Nanoseconds())/1e3/float64(n), "µs/row",
			"the PostgreSQL backend's CPU time (/proc/PID/stat) for the COPY of the whole table, alone, / rows")
	}
	// Transactional as cdcd's (100 ms transactions, each committed before the next begins),
	// then plain (idempotent, acks=all): the second is Kafka's best case, a bound no
	// exactly-once writer reaches.
	for _, txn := range []bool{true, false} {
		mode := "transactional"
		if !txn {
			mode = "plain"
		}
		topic := b.name("snapceil_" + codec + "_" + mode)
		if err := b.createTopic(ctx, topic); err != nil {
			return err
		}
		b.progress("snapshot ceiling: psql COPY and kafka-producer-perf-test (%d records of %d bytes, %s, %s) together", n, size, codec, mode)
		var wg sync.WaitGroup
		var copyTime time.Duration
		var copyErr error
		wg.Go(func() { copyTime, copyErr = b.readCopy(ctx, db) })
		perf, cpu, perfErr := b.producerPerf(ctx, tools, topic, codec, n, size, txn)
		wg.Wait()
		if err := errors.Join(copyErr, perfErr); err != nil {
			return err
		}
		together := float64(n) / copyTime.Seconds()
		how := "transactional (100 ms transactions)"
		if !txn {
			how = "not transactional (idempotent)"
		}
		add(label("ceiling ("+mode+"): COPY rate beside the producer"), together, "rows/s", "psql COPY to /dev/null while kafka-producer-perf-test runs")
		add(label("ceiling ("+mode+"): Kafka producer rate beside COPY"), perf, "records/s",
			fmt.Sprintf("kafka-producer-perf-test, %d records of %d bytes, compression.type=%s, acks=all, %s, %d partition(s)", n, size, codec, how, pipeline.DefaultTopicPartitions))
		add(label("ceiling ("+mode+"): producer CPU per record"), float64(cpu.Microseconds())/float64(n), "µs/record", "the producer JVM's CPU time (user+system) / records, start-up included")
		add(label("ceiling ("+mode+"): min(COPY, producer) / COPY alone"), min(together, perf)/copyAlone, "ratio",
			"the most a snapshot costing nothing itself could reach, over this run's COPY rate alone")
	}
	return nil
}

// kafkaTools returns the folder of Kafka's tools jars, fetched by deploy/dev/kafkatools.sh.
func (b *bench) kafkaTools(ctx context.Context) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "deploy", "dev", "kafkatools.sh"), "fetch")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: deploy/dev/kafkatools.sh fetch: %w: %s", ErrCeiling, err, stderr.Bytes())
	}
	return strings.TrimSpace(string(out)), nil
}

// createTopic creates topic with cdcd's default partitions and replication, deleted at the end.
func (b *bench) createTopic(ctx context.Context, topic string) error {
	client, err := b.kafkaClient()
	if err != nil {
		return err
	}
	defer client.Close()
	b.onCleanup("deleting topic "+topic, func(ctx context.Context) error { return b.deleteTopics(ctx, []string{topic}) })
	resp, err := kadm.NewClient(client).CreateTopic(ctx, pipeline.DefaultTopicPartitions, pipeline.DefaultReplicationFactor, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", topic, err)
	}
	return nil
}

// producerPerf runs kafka-producer-perf-test and returns the rate it reports and its CPU time.
func (b *bench) producerPerf(ctx context.Context, tools, topic, codec string, n, size int, txn bool) (float64, time.Duration, error) {
	limit := b.s.stall + time.Duration(n/10_000)*time.Second
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	args := []string{"-cp", filepath.Join(tools, "*"), "org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.Itoa(n), "--record-size", strconv.Itoa(max(size, 1)), "--throughput", "-1"}
	if txn {
		args = append(args, "--transactional-id", topic, "--transaction-duration-ms", "100")
	}
	args = append(args, "--producer-props", "bootstrap.servers="+b.s.kafka, "compression.type="+codec, "acks=all")
	cmd := exec.CommandContext(ctx, "java", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%w: kafka-producer-perf-test: %w: %s%s", ErrCeiling, err, stdout.Bytes(), stderr.Bytes())
	}
	m := perfRate.FindAllSubmatch(stdout.Bytes(), -1)
	if len(m) == 0 {
		return 0, 0, fmt.Errorf("%w: kafka-producer-perf-test printed no summary: %s", ErrCeiling, stdout.Bytes())
	}
	last := m[len(m)-1]
	if sent, _ := strconv.Atoi(string(last[1])); sent != n {
		return 0, 0, fmt.Errorf("%w: kafka-producer-perf-test sent %d records, want %d", ErrCeiling, sent, n)
	}
	rate, err := strconv.ParseFloat(string(last[2]), 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: kafka-producer-perf-test's rate %q: %w", ErrCeiling, last[2], err)
	}
	st := cmd.ProcessState
	return rate, st.UserTime() + st.SystemTime(), nil
}
