package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdcd-dev/cdcd/internal/procmem"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The outage phase stops cdcd's Kafka broker for -outage under a steady write load and measures
// cdcd's resident memory before, during and after, and how long the backlog takes to arrive once
// the broker is back. It never stops the stack's broker, which others use: it starts a private
// one with deploy/dev/kafka.sh (its own folder and free ports), which it may stop and start.

// outageBufferBound is what cdcd's buffers may hold with the pipeline's defaults (the bench's
// config does not change them): the source queue's, the encode queue's and the producer's
// bytes (Pipeline.BufferBytes), doubled because Go's collector (GOGC=100) lets the heap reach
// twice the live data. cdcd's resident memory during the outage should stay under its
// baseline plus this.
func outageBufferBound() int64 {
	return 2 * (pipeline.DefaultEventBufferBytes + pipeline.DefaultEncodeQueueBytes + pipeline.DefaultMaxBufferedBytes)
}

// ErrOutage is wrapped by the failures of the outage phase's own checks.
var ErrOutage = errors.New("outage")

// outageResult is what the outage phase measured; memory in bytes.
type outageResult struct {
	before, peak, after int64
	outage              time.Duration
	// writtenDuring counts the rows committed while the broker was down; total all rows.
	writtenDuring, total int64
	// drain runs from the broker's start command to the last row written before it being seen.
	drain time.Duration
	// restart is how long the broker took to start again (part of drain).
	restart time.Duration
}

// measureOutage runs the outage phase on PostgreSQL and adds its rows to t.
func (b *bench) measureOutage(ctx context.Context, t *table) error {
	r, err := b.runOutage(ctx)
	if err != nil {
		return fmt.Errorf("outage: %w", err)
	}
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	bound := r.before + outageBufferBound()
	within := "within"
	if r.peak > bound {
		within = "OVER"
	}
	t.add("outage buffer bound", mib(bound), "MiB", fmt.Sprintf(
		"RSS before + 2 × (%d MiB source queue + %d MiB encode queue + %d MiB produce buffer)",
		pipeline.DefaultEventBufferBytes>>20, pipeline.DefaultEncodeQueueBytes>>20, pipeline.DefaultMaxBufferedBytes>>20))
	t.add("outage RSS before", mib(r.before), "MiB", "VmRSS, rows flowing, just before the broker's stop")
	t.add("outage RSS max during", mib(r.peak), "MiB", "VmRSS sampled every second while the broker was down, "+within+" the bound")
	t.add("outage RSS after recovery", mib(r.after), "MiB", "VmRSS once every row arrived")
	t.add("outage duration", r.outage.Seconds(), "s", "from the broker's exit to its start command")
	t.add("outage changes written during", float64(r.writtenDuring), "rows",
		fmt.Sprintf("at %d rows/s; %d rows in all, each arrived exactly once", b.s.outageRate, r.total))
	t.add("outage drain time", r.drain.Seconds(), "s",
		fmt.Sprintf("from the broker's start command to the last row written before it seen (broker start %.1fs)", r.restart.Seconds()))
	return nil
}

func (b *bench) runOutage(ctx context.Context) (outageResult, error) {
	var res outageResult
	kafka, err := b.startPrivateKafka(ctx)
	if err != nil {
		return res, err
	}
	tg, err := b.newPGTarget(ctx, "outage")
	if err != nil {
		return res, err
	}
	cfg, err := b.newCDCDConfig("outage", tg.source())
	if err != nil {
		return res, err
	}
	cfg.brokers = kafka.addr
	cons, err := kafka.consumer(ctx, cfg.dataTopic(), b.s.stall)
	if err != nil {
		return res, err
	}
	b.onCleanup("closing the consumer of "+cfg.dataTopic(), func(context.Context) error { cons.close(); return nil })
	b.progress("outage: starting cdcd %s on the private Kafka %s", cfg.name, kafka.addr)
	proc, err := b.startCDCD(cfg)
	if err != nil {
		return res, err
	}
	if err := b.waitStreaming(ctx, proc, tg, cfg); err != nil {
		return res, err
	}

	// The consumer and the writer run until the end of the phase; the phase polls their counts.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := newRowSet()
	consumed := make(chan struct{})
	go func() { defer close(consumed); _ = seen.consume(ctx, cons.client) }()
	var written atomic.Int64
	var writeErr error
	stopWriting, wrote := make(chan struct{}), make(chan struct{})
	go func() { defer close(wrote); writeErr = b.writeUntil(ctx, tg, stopWriting, &written) }()
	defer func() { cancel(); <-consumed; <-wrote }()
	failed := func() error {
		if err := proc.exitError(); err != nil {
			return err
		}
		select {
		case <-wrote:
			if writeErr != nil {
				return fmt.Errorf("writing: %w", writeErr)
			}
		default:
		}
		return seen.failed()
	}

	if err := b.waitRows(ctx, seen, 2*int64(b.s.outageRate), failed); err != nil {
		return res, fmt.Errorf("before the outage: %w", err)
	}
	if res.before, err = procmem.Resident(proc.cmd.Process.Pid); err != nil {
		return res, err
	}
	b.progress("outage: rows flowing, cdcd at %d MiB; stopping the private Kafka for %s", res.before>>20, b.s.outage)
	if err := kafka.run(ctx, "down"); err != nil {
		return res, err
	}
	stopped, atStop := time.Now(), written.Load()
	tick := time.NewTicker(time.Second)
	for time.Since(stopped) < b.s.outage {
		if err := failed(); err != nil {
			tick.Stop()
			return res, fmt.Errorf("during the outage: %w", err)
		}
		rss, err := procmem.Resident(proc.cmd.Process.Pid)
		if err != nil {
			tick.Stop()
			return res, err
		}
		res.peak = max(res.peak, rss)
		select {
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		case <-tick.C:
		}
	}
	tick.Stop()
	res.outage = time.Since(stopped)
	atRestart := written.Load()
	res.writtenDuring = atRestart - atStop
	b.progress("outage: %d rows written while Kafka was down, cdcd peaked at %d MiB; starting Kafka", res.writtenDuring, res.peak>>20)
	restart := time.Now()
	if err := kafka.run(ctx, "up"); err != nil {
		return res, err
	}
	res.restart = time.Since(restart)
	if err := b.waitRows(ctx, seen, atRestart, failed); err != nil {
		return res, fmt.Errorf("after the outage: %w", err)
	}
	res.drain = time.Since(restart)
	close(stopWriting)
	<-wrote
	if writeErr != nil {
		return res, fmt.Errorf("writing: %w", writeErr)
	}
	res.total = written.Load()
	if err := b.waitRows(ctx, seen, res.total, failed); err != nil {
		return res, fmt.Errorf("after the outage: %w", err)
	}
	// A duplicate is caught as it arrives; the quiet time lets a late one arrive.
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(extraQuiet):
	}
	if err := seen.failed(); err != nil {
		return res, err
	}
	if n := seen.count(); n != res.total {
		return res, fmt.Errorf("%w: %d rows arrived, %d written", ErrOutage, n, res.total)
	}
	if res.after, err = procmem.Resident(proc.cmd.Process.Pid); err != nil {
		return res, err
	}
	b.progress("outage: all %d rows arrived, %s after Kafka's start command", res.total, res.drain.Round(time.Millisecond))
	return res, proc.stop()
}

// waitRows waits until n rows have been seen, failing when none arrives for the stall duration
// or when failed reports an error.
func (b *bench) waitRows(ctx context.Context, seen *rowSet, n int64, failed func() error) error {
	last, lastProgress := seen.count(), time.Now()
	for seen.count() < n {
		if err := failed(); err != nil {
			return err
		}
		if c := seen.count(); c != last {
			last, lastProgress = c, time.Now()
		} else if time.Since(lastProgress) > b.s.stall {
			return fmt.Errorf("%w: no row for %s, %d of %d seen", ErrOutage, b.s.stall, c, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// writeUntil inserts rows 1, 2, ... at -outage-rate rows per second, in statements every 10 ms,
// until stop closes, counting the rows committed.
func (b *bench) writeUntil(ctx context.Context, tg target, stop <-chan struct{}, written *atomic.Int64) error {
	const interval = 10 * time.Millisecond
	batch := max(int64(b.s.outageRate)*int64(interval)/int64(time.Second), 1)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		from := written.Load() + 1
		if err := tg.insert(ctx, from, from+batch-1); err != nil {
			return err
		}
		written.Add(batch)
	}
}

// rowSet records the ids of the rows a consumer has seen, failing at the first one seen twice.
type rowSet struct {
	mu   sync.Mutex
	seen map[int64]bool
	err  error
	n    atomic.Int64
}

func newRowSet() *rowSet { return &rowSet{seen: map[int64]bool{}} }

func (s *rowSet) count() int64 { return s.n.Load() }

func (s *rowSet) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// consume reads records until ctx ends. Each key is the Confluent wire format (magic byte and
// schema id) of an Avro record whose one field is the bigint id: a zigzag varint, which is how
// encoding/binary's Varint reads, so the id needs no schema.
func (s *rowSet) consume(ctx context.Context, client *kgo.Client) error {
	for ctx.Err() == nil {
		fetches := client.PollFetches(ctx)
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.Canceled) && !errors.Is(fe.Err, context.DeadlineExceeded) {
				return s.fail(fmt.Errorf("consuming %s: %w", fe.Topic, fe.Err))
			}
		}
		for _, r := range fetches.Records() {
			if len(r.Key) < 6 || r.Key[0] != 0 {
				return s.fail(fmt.Errorf("%w: key of %s@%d is not in the wire format", ErrOutage, r.Topic, r.Offset))
			}
			id, n := binary.Varint(r.Key[5:])
			if n <= 0 {
				return s.fail(fmt.Errorf("%w: key of %s@%d holds no id", ErrOutage, r.Topic, r.Offset))
			}
			s.mu.Lock()
			dup := s.seen[id]
			s.seen[id] = true
			s.mu.Unlock()
			if dup {
				return s.fail(fmt.Errorf("%w: row %d arrived twice (offset %d)", ErrOutage, id, r.Offset))
			}
			s.n.Add(1)
		}
	}
	return ctx.Err()
}

func (s *rowSet) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	return err
}

// privateKafka is a broker run by deploy/dev/kafka.sh in the bench's folder, on free ports.
type privateKafka struct {
	addr   string
	script string
	env    []string
}

// startPrivateKafka starts a private broker and registers its stop, and creates nothing in it.
func (b *bench) startPrivateKafka(ctx context.Context) (*privateKafka, error) {
	dir, err := b.tempDir()
	if err != nil {
		return nil, err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	controller, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if controller == addr {
		return nil, fmt.Errorf("%w: the same free port twice, %s", ErrOutage, addr)
	}
	k := &privateKafka{
		addr:   addr,
		script: filepath.Join(root, "deploy", "dev", "kafka.sh"),
		env: append(os.Environ(),
			"CDCD_STACK_DIR="+filepath.Join(dir, "kafka-stack"),
			"CDCD_KAFKA_PORT="+addr[strings.LastIndexByte(addr, ':')+1:],
			"CDCD_KAFKA_CONTROLLER_PORT="+controller[strings.LastIndexByte(controller, ':')+1:],
			"CDCD_KAFKA_HEAP=-Xms256m -Xmx512m"),
	}
	b.onCleanup("stopping the private Kafka "+addr, func(ctx context.Context) error { return k.run(ctx, "down") })
	b.progress("outage: starting a private Kafka on %s", addr)
	return k, k.run(ctx, "up")
}

// run runs kafka.sh command (up or down) on the private stack.
func (k *privateKafka) run(ctx context.Context, command string) error {
	// A stop goes on after an interrupt, so that no broker is left behind; it may wait 60 s
	// for the broker's clean shutdown, and a start as long for its answer.
	if command == "down" {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.script, command)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka.sh %s (private, %s): %w\n%s", command, k.addr, err, out)
	}
	return nil
}

// consumer creates topic as cdcd would (so that the consumer reads it from its first record) and
// returns a read_committed consumer of it.
func (k *privateKafka) consumer(ctx context.Context, topic string, stall time.Duration) (*consumer, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(k.addr),
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("creating a Kafka client of %s: %w", k.addr, err)
	}
	resp, err := kadm.NewClient(client).CreateTopic(ctx, pipeline.DefaultTopicPartitions, pipeline.DefaultReplicationFactor, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("creating topic %s on the private Kafka %s: %w", topic, k.addr, err)
	}
	return &consumer{client: client, topic: topic, stall: stall}, nil
}
