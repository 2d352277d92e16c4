package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func (b *bench) kafkaClient(opts ...kgo.Opt) (*kgo.Client, error) {
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.s.kafka)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating a Kafka client of %s: %w", b.s.kafka, err)
	}
	return client, nil
}

func (b *bench) kafkaVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	client, err := b.kafkaClient()
	if err != nil {
		return "", err
	}
	defer client.Close()
	versions, err := kadm.NewClient(client).ApiVersions(ctx)
	if err != nil {
		return "", fmt.Errorf("asking Kafka %s its API versions: %w", b.s.kafka, err)
	}
	sorted := versions.Sorted()
	if len(sorted) == 0 {
		return "", fmt.Errorf("the Kafka cluster at %s listed no broker", b.s.kafka)
	}
	if err := sorted[0].Err; err != nil {
		return "", fmt.Errorf("asking Kafka broker %d its API versions: %w", sorted[0].NodeID, err)
	}
	// The protocol carries no release number: this is franz-go's guess from the API versions.
	return sorted[0].VersionGuess(), nil
}

// prepareTopics creates the data topic before cdcd starts, as cdcd would (it accepts one that
// exists), so that the consumer reads it from its first record instead of discovering it on a
// later metadata refresh. The cleanup deletes it with cdcd's offsets and registry topics.
func (b *bench) prepareTopics(ctx context.Context, cfg cdcdConfig) error {
	client, err := b.kafkaClient()
	if err != nil {
		return err
	}
	defer client.Close()
	admin := kadm.NewClient(client)
	// A mysql connector also creates its schema history topic; deleting one that does not exist
	// is no error.
	topics := []string{cfg.dataTopic(), cfg.offsetsTopic(), cfg.registryTopic(), cfg.name + mysql.DefaultHistoryTopicSuffix}
	b.onCleanup("deleting topics of "+cfg.name, func(ctx context.Context) error { return b.deleteTopics(ctx, topics) })
	resp, err := admin.CreateTopic(ctx, pipeline.DefaultTopicPartitions, pipeline.DefaultReplicationFactor, nil, cfg.dataTopic())
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("creating topic %s on Kafka %s (is the stack up? make stack-up): %w", cfg.dataTopic(), b.s.kafka, err)
	}
	return nil
}

// deleteTopics deletes topics, those that do not exist (never created) included.
func (b *bench) deleteTopics(ctx context.Context, topics []string) error {
	client, err := b.kafkaClient()
	if err != nil {
		return err
	}
	defer client.Close()
	resps, err := kadm.NewClient(client).DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("deleting topics %v: %w", topics, err)
	}
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("deleting topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// consumer reads one topic from its start, read_committed: only records of committed Kafka
// transactions, which is what a downstream consumer of cdcd sees.
type consumer struct {
	client *kgo.Client
	topic  string
	stall  time.Duration
}

func (b *bench) newConsumer(topic string) (*consumer, error) {
	client, err := b.kafkaClient(
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	return &consumer{client: client, topic: topic, stall: b.s.stall}, nil
}

func (c *consumer) close() { c.client.Close() }

// consumeResult says when the first and last records were seen.
type consumeResult struct {
	records     int
	first, last time.Time
}

// consume reads until want records arrived, calling onBatch (if not nil) with each fetch's
// records and the time they were seen. It fails when nothing arrives for the stall duration or
// when alive returns an error (cdcd exited). want is read through a function so that a writer
// still at work can raise it; it returns a negative number until it is known.
func (c *consumer) consume(ctx context.Context, want func() int, alive func() error,
	onBatch func(records []*kgo.Record, seen time.Time) error) (consumeResult, error) {
	var res consumeResult
	lastProgress := time.Now()
	for {
		if w := want(); w >= 0 && res.records >= w {
			if res.records > w {
				return res, fmt.Errorf("consuming %s: %d records, %d more than written (duplicates?)",
					c.topic, res.records, res.records-w)
			}
			return res, nil
		}
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := c.client.PollFetches(pollCtx)
		cancel()
		seen := time.Now()
		if ctx.Err() != nil {
			return res, fmt.Errorf("consuming %s: %w (after %d records)", c.topic, ctx.Err(), res.records)
		}
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return res, fmt.Errorf("consuming %s: partition %d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		records := fetches.Records()
		if len(records) == 0 {
			if err := alive(); err != nil {
				return res, fmt.Errorf("consuming %s after %d records: %w", c.topic, res.records, err)
			}
			if time.Since(lastProgress) > c.stall {
				return res, fmt.Errorf("consuming %s: no record for %s, %d so far", c.topic, c.stall, res.records)
			}
			continue
		}
		lastProgress = seen
		if res.records == 0 {
			res.first = seen
		}
		res.last = seen
		res.records += len(records)
		if onBatch != nil {
			if err := onBatch(records, seen); err != nil {
				return res, err
			}
		}
	}
}

// extra reads for quiet and returns how many more records arrived: after all expected records,
// any is a duplicate or a stray.
func (c *consumer) extra(ctx context.Context, quiet time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, quiet)
	defer cancel()
	n := 0
	for ctx.Err() == nil {
		n += len(c.client.PollFetches(ctx).Records())
	}
	return n
}

// ErrWireFormat says a record value is not Avro in the Confluent wire format.
var ErrWireFormat = errors.New("not in the Confluent wire format")

// keyID returns the row id of a bench_items key in the Confluent wire format: a record whose
// one field, id, is an Avro long (a zigzag varint).
func keyID(key []byte) (int64, error) {
	if _, err := schemaID(key); err != nil {
		return 0, fmt.Errorf("key: %w", err)
	}
	id, n := binary.Varint(key[5:])
	if n <= 0 {
		return 0, fmt.Errorf("key: no Avro long after the schema id (%d bytes)", len(key))
	}
	return id, nil
}

// commitTimes decodes source.ts_ms, the commit time in milliseconds, and with rowTime
// after.updated_at, from envelopes in the Confluent wire format; it fetches each writer schema
// from the registry once.
type commitTimes struct {
	registryURL string
	rowTime     bool
	schemas     map[uint32]avro.Schema
}

// envelopeSource is the one part of the envelope the latency needs; hamba/avro skips the fields
// a struct does not name.
type envelopeSource struct {
	Source struct {
		TsMs int64 `avro:"ts_ms"`
	} `avro:"source"`
}

// envelopeRowTime adds the row's updated_at, a MySQL DATETIME(6) written as UTC, which
// Debezium's encoding (io.debezium.time.MicroTimestamp) makes epoch microseconds. PostgreSQL's
// timestamptz is a string (ZonedTimestamp), hence a struct of its own.
type envelopeRowTime struct {
	Source struct {
		TsMs int64 `avro:"ts_ms"`
	} `avro:"source"`
	After *struct {
		UpdatedAt *int64 `avro:"updated_at"`
	} `avro:"after"`
}

// ErrNoRowTime says an envelope has no after.updated_at to time the latency from.
var ErrNoRowTime = errors.New("no after.updated_at in the envelope")

func newCommitTimes(registryURL string, rowTime bool) *commitTimes {
	return &commitTimes{registryURL: registryURL, rowTime: rowTime, schemas: map[uint32]avro.Schema{}}
}

// schemaID returns the id of a Confluent wire-format value: magic byte 0, then 4 bytes.
func schemaID(value []byte) (uint32, error) {
	if len(value) < 5 || value[0] != 0 {
		return 0, fmt.Errorf("%w (%d bytes)", ErrWireFormat, len(value))
	}
	return binary.BigEndian.Uint32(value[1:5]), nil
}

// times returns the envelope's source.ts_ms and, when c.rowTime, its after.updated_at in
// microseconds (else 0).
func (c *commitTimes) times(ctx context.Context, value []byte) (tsMs, rowUs int64, err error) {
	schema, id, err := c.schema(ctx, value)
	if err != nil {
		return 0, 0, err
	}
	if !c.rowTime {
		var env envelopeSource
		if err := avro.Unmarshal(schema, value[5:], &env); err != nil {
			return 0, 0, fmt.Errorf("decoding an envelope with schema %d: %w", id, err)
		}
		return env.Source.TsMs, 0, nil
	}
	var env envelopeRowTime
	if err := avro.Unmarshal(schema, value[5:], &env); err != nil {
		return 0, 0, fmt.Errorf("decoding an envelope with schema %d: %w", id, err)
	}
	if env.After == nil || env.After.UpdatedAt == nil {
		return 0, 0, ErrNoRowTime
	}
	return env.Source.TsMs, *env.After.UpdatedAt, nil
}

// schema returns the writer schema of a Confluent wire-format value and its id, fetched from the
// registry the first time.
func (c *commitTimes) schema(ctx context.Context, value []byte) (avro.Schema, uint32, error) {
	id, err := schemaID(value)
	if err != nil {
		return nil, 0, err
	}
	schema, ok := c.schemas[id]
	if !ok {
		if schema, err = c.fetch(ctx, id); err != nil {
			return nil, 0, err
		}
		c.schemas[id] = schema
	}
	return schema, id, nil
}

func (c *commitTimes) fetch(ctx context.Context, id uint32) (avro.Schema, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := fmt.Sprintf("%s/schemas/ids/%d", c.registryURL, id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching schema %d: %w", id, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching schema %d: %w", id, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("fetching schema %d: %w", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching schema %d: GET %s: %s: %s", id, url, resp.Status, body)
	}
	var s struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	schema, err := avro.Parse(s.Schema)
	if err != nil {
		return nil, fmt.Errorf("parsing schema %d: %w", id, err)
	}
	return schema, nil
}
