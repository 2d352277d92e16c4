package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A record larger than Kafka takes is refused by the client (ProducerBatchMaxBytes,
// MaxBufferedBytes) or by the broker (the topic's max.message.bytes) only when produced, as a
// failed promise, and producing it again fails again: every restart would meet it, and every
// later change would wait behind it. So the encode stage measures each data record against its
// topic's limit before handing it over, and a record that cannot fit is a poison change the
// error policy handles (a *RecordTooLargeError): dead-lettered without its values, skipped, or
// the connector FAILED.

// recordBatchOverhead is the v2 record batch header, which the broker counts against
// max.message.bytes: a lone record is a batch of one.
const recordBatchOverhead = 61

// produceRequestOverhead is more than the produce request around one record batch takes
// (headers, transactional ID, topic name up to 249 bytes, array lengths): the client counts
// it against BrokerMaxWriteBytes.
const produceRequestOverhead = 512

// RecordTooLargeError is a change whose record is larger than Kafka accepts for its topic:
// the smaller of the topic's max.message.bytes (the broker's message.max.bytes when the topic
// does not set it) and the producer's own limits. Producing it would fail on every attempt,
// so it is a poison change for the error policy, and not retryable under fail.
type RecordTooLargeError struct {
	Table string // schema.table (MySQL: database.table)
	Key   string // the key columns as JSON text, shortened; "null" for a table without key
	Topic string
	Size  int // the record's size as Kafka counts it, in bytes
	Limit int // the most the record may take
	// Why names the limit that applies: the topic's max.message.bytes or a producer setting.
	Why string
}

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("record of %s key %s is %d bytes, over the %d bytes %s allows for topic %s",
		e.Table, e.Key, e.Size, e.Limit, e.Why, e.Topic)
}

// Retryable says false: the same change makes the same record on every run.
func (e *RecordTooLargeError) Retryable() bool { return false }

// maxKeyText bounds the key named in a RecordTooLargeError.
const maxKeyText = 256

// recordLimit is one limit on a record's size and the setting it comes from.
type recordLimit struct {
	bytes int
	why   string
}

// topicLimits are the limits on the batch of one record to a topic: the producer's, which
// the client checks on the record as it is, and the broker's, which the broker checks on the
// batch as compressed.
type topicLimits struct {
	producer, broker recordLimit
}

// recordLimits finds the size limit of each topic, once per run: the topic's configuration
// is read at the first record to it. Only the encode stage uses it.
type recordLimits struct {
	// kafka is the run's Kafka client and its admin. The Kafka stage swaps it when it renews
	// its client (run.renewClient), which closes the old one: the limits of a topic first met
	// afterwards would otherwise never be read.
	kafka  atomic.Pointer[limitsClient]
	cfg    *config
	topics map[string]topicLimits
	// retryAt holds, for a topic whose configuration could not be read, when to try again.
	retryAt map[string]time.Time
	// compressor is the client's, nil when it does not compress; dst its buffer.
	compressor kgo.Compressor
	dst        bytes.Buffer
	// broker is the cluster's message.max.bytes, read once when a topic does not exist yet
	// (the Kafka stage creates it with the broker's default).
	broker *recordLimit
	// buffered is the producer's MaxBufferedBytes, which a record's key, value and headers
	// must not pass; 0 for none.
	buffered int
}

// limitsClient is a Kafka client and its admin, swapped together.
type limitsClient struct {
	client *kgo.Client
	admin  *kadm.Client
}

func newRecordLimits(client *kgo.Client, cfg *config) *recordLimits {
	l := &recordLimits{cfg: cfg, topics: make(map[string]topicLimits), retryAt: make(map[string]time.Time)}
	l.use(client)
	if v, ok := client.OptValue(kgo.MaxBufferedBytes).(int64); ok && v > 0 {
		l.buffered = int(v)
	}
	if c, ok := client.OptValue(kgo.WithCompressor).(kgo.Compressor); ok && c != nil {
		l.compressor = c
	} else if codecs, ok := client.OptValue(kgo.ProducerBatchCompression).([]kgo.CompressionCodec); ok {
		l.compressor, _ = kgo.DefaultCompressor(codecs...) // nil, as if not compressing, on an error
	}
	return l
}

// use has the limits read through client from now on; the Kafka stage calls it from its own
// goroutine when it replaces its client (the client's options stay the same).
func (l *recordLimits) use(client *kgo.Client) {
	l.kafka.Store(&limitsClient{client: client, admin: kadm.NewClient(client)})
}

// of returns the limits on the batch of one record for topic.
func (l *recordLimits) of(ctx context.Context, topic string) (topicLimits, error) {
	if lim, ok := l.topics[topic]; ok {
		return lim, nil
	}
	kc := l.kafka.Load()
	lim := topicLimits{producer: producerLimit(kc.client, topic)}
	if at, ok := l.retryAt[topic]; ok && l.cfg.now().Before(at) {
		return lim, nil
	}
	dctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	var err error
	if lim.broker, err = l.topicLimit(dctx, kc.admin, topic); err != nil {
		if ctx.Err() != nil {
			return topicLimits{}, ctx.Err()
		}
		// Kafka is unreachable or slow: the producer's limits apply alone for now, rather
		// than stopping a run that the Kafka stage may carry through the outage.
		l.cfg.log.Warn().Err(err).Str("connector", l.cfg.connector).Str("topic", topic).
			Msg("cannot read the topic's max.message.bytes; checking records against the producer's limits meanwhile")
		l.retryAt[topic] = l.cfg.now().Add(describeRetry)
		return lim, nil
	}
	delete(l.retryAt, topic)
	l.topics[topic] = lim
	return lim, nil
}

// producerLimit is the producer's own limit on the batch of one record to topic.
func producerLimit(client *kgo.Client, topic string) recordLimit {
	lim := recordLimit{bytes: 1 << 30, why: "Kafka"}
	if fn, ok := client.OptValue(kgo.ProducerBatchMaxBytesFn).(func(string) int32); ok && fn != nil {
		if b := int(fn(topic)); b < lim.bytes {
			lim = recordLimit{bytes: b, why: "the producer's max record batch bytes"}
		}
	}
	if b, ok := client.OptValue(kgo.BrokerMaxWriteBytes).(int32); ok && int(b)-produceRequestOverhead < lim.bytes {
		lim = recordLimit{bytes: int(b) - produceRequestOverhead, why: "the producer's max broker write bytes"}
	}
	return lim
}

// prefetch reads the limits of the topics not known yet among topics in one DescribeConfigs
// request, as of would one by one at each topic's first record: the encode stage calls it with
// the topics of the tables it prepared ahead (prepare.go), which a connector of 1,000 tables
// otherwise described in 1,000 round trips, one after the other. A topic whose answer is not
// a limit (an error other than the topic missing) is left for of, which asks again.
func (l *recordLimits) prefetch(ctx context.Context, topics []string) {
	var missing []string
	for _, topic := range topics {
		if _, ok := l.topics[topic]; !ok && !slices.Contains(missing, topic) {
			missing = append(missing, topic)
		}
	}
	if len(missing) < 2 {
		return // of asks as fast
	}
	kc := l.kafka.Load()
	dctx, cancel := context.WithTimeout(ctx, describeTimeout)
	defer cancel()
	rcs, err := kc.admin.DescribeTopicConfigs(dctx, missing...)
	if err != nil {
		return
	}
	for _, rc := range rcs {
		broker, err := l.limitOf(dctx, kc.admin, rc.Name, rc, rc.Err)
		if err != nil {
			continue
		}
		delete(l.retryAt, rc.Name)
		l.topics[rc.Name] = topicLimits{producer: producerLimit(kc.client, rc.Name), broker: broker}
	}
}

// describeTimeout bounds the reading of a topic's configuration, and describeRetry is how
// long the producer's limits apply alone after it failed.
const (
	describeTimeout = 10 * time.Second
	describeRetry   = 30 * time.Second
)

// least is the smaller of the limits, for a record whose compression is not worth measuring.
func (t topicLimits) least() recordLimit {
	if t.broker.bytes > 0 && t.broker.bytes < t.producer.bytes {
		return t.broker
	}
	return t.producer
}

// compressionChunk is the piece of a value compressed at a time to measure its compressed
// size: snappy, the client's default, compresses 64 KiB blocks independently anyway, so the
// sum is close to what the client gets; other codecs would get a little smaller, so the
// measure errs on the large side.
const compressionChunk = 1 << 20

// compressedSize is about the size of the batch of the lone record with key, value and headers
// once the client has compressed it, or a size past limit as soon as it is past: its value
// is compressed a chunk at a time (the key and headers are counted as they are), never
// whole, since that would take another buffer of its size.
func (l *recordLimits) compressedSize(key, value []byte, headers []kgo.RecordHeader, limit int) int {
	n := batchSize(key, nil, headers)
	for len(value) > 0 && n <= limit {
		chunk := value[:min(len(value), compressionChunk)]
		value = value[len(chunk):]
		l.dst.Reset()
		out, codec := l.compressor.Compress(&l.dst, chunk)
		if codec == kgo.CodecError || codec == kgo.CodecNone {
			n += len(chunk)
		} else {
			n += len(out)
		}
	}
	return n
}

// topicLimit reads topic's max.message.bytes, or the broker's message.max.bytes when the topic
// does not exist yet; bytes is 0 when the cluster does not let us read them (ACLs): the
// producer's limits then apply alone, and a record the broker refuses fails the run as before.
func (l *recordLimits) topicLimit(ctx context.Context, admin *kadm.Client, topic string) (recordLimit, error) {
	rcs, err := admin.DescribeTopicConfigs(ctx, topic)
	var rc kadm.ResourceConfig
	if err == nil {
		if rc, err = rcs.On(topic, nil); err == nil {
			err = rc.Err
		}
	}
	return l.limitOf(ctx, admin, topic, rc, err)
}

// limitOf is topicLimit's answer from topic's configuration rc, or from err, the error of
// its reading.
func (l *recordLimits) limitOf(ctx context.Context, admin *kadm.Client, topic string, rc kadm.ResourceConfig, err error) (recordLimit, error) {
	if err == nil {
		for _, c := range rc.Configs {
			if c.Key == "max.message.bytes" {
				return parseLimit(c, "topic's max.message.bytes")
			}
		}
		return recordLimit{}, nil
	}
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return l.brokerLimit(ctx, admin)
	case isAuthError(err):
		return recordLimit{}, nil
	}
	return recordLimit{}, fmt.Errorf("reading the configuration of topic %s: %w", topic, err)
}

func (l *recordLimits) brokerLimit(ctx context.Context, admin *kadm.Client) (recordLimit, error) {
	if l.broker != nil {
		return *l.broker, nil
	}
	rcs, err := admin.DescribeBrokerConfigs(ctx)
	if err != nil {
		if isAuthError(err) {
			return recordLimit{}, nil
		}
		return recordLimit{}, fmt.Errorf("reading the brokers' configuration: %w", err)
	}
	lim := recordLimit{}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == "message.max.bytes" {
				if lim, err = parseLimit(c, "broker's message.max.bytes"); err != nil {
					return recordLimit{}, err
				}
			}
		}
	}
	l.broker = &lim
	return lim, nil
}

func parseLimit(c kadm.Config, why string) (recordLimit, error) {
	if c.Value == nil {
		return recordLimit{}, nil
	}
	n, err := strconv.Atoi(*c.Value)
	if err != nil {
		return recordLimit{}, fmt.Errorf("%s %q: %w", why, *c.Value, err)
	}
	return recordLimit{bytes: n, why: "the " + why}, nil
}

func isAuthError(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// batchSize is the size of a batch of the lone record with key, value and headers, as the
// client and the broker count it, rounded up: every varint at its widest but for the deltas
// of a batch's first record, which are 0.
func batchSize(key, value []byte, headers []kgo.RecordHeader) int {
	body := 1 + 1 + 1 + // attributes, timestamp delta, offset delta
		5 + len(key) + 5 + len(value) + 5
	for _, h := range headers {
		body += 5 + len(h.Key) + 5 + len(h.Value)
	}
	return recordBatchOverhead + 5 + body
}

// userSize is the record's size as MaxBufferedBytes counts it.
func userSize(key, value []byte, headers []kgo.RecordHeader) int {
	n := len(key) + len(value)
	for _, h := range headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
