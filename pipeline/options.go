package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Tombstones says whether a delete is followed by a tombstone: a record with the delete's key
// and a null value, which lets a compacted topic drop the key.
type Tombstones uint8

// The tombstone modes.
const (
	// TombstonesOn follows every delete with a tombstone, as Debezium does by default.
	TombstonesOn Tombstones = iota + 1
	// TombstonesOff writes deletes alone.
	TombstonesOff
)

// The defaults of the options, in one place.
const (
	DefaultMaxBatchRecords    = 10_000
	DefaultMaxLinger          = 20 * time.Millisecond
	DefaultTransactionTimeout = 60 * time.Second
	DefaultEventBuffer        = 1024
	DefaultEventBufferBytes   = 16 << 20
	DefaultEncodeQueueEvents  = 8192
	DefaultEncodeQueueBytes   = 16 << 20
	DefaultTopicPartitions    = 1
	DefaultReplicationFactor  = -1 // the broker's default.replication.factor
	DefaultMaxBufferedRecords = 10_000
	DefaultMaxBufferedBytes   = 64 << 20
	DefaultStatsInterval      = 30 * time.Second
	DefaultMinRestartBackoff  = 500 * time.Millisecond
	DefaultMaxRestartBackoff  = 30 * time.Second
)

// maxTransactionTimeout is Kafka's default transaction.max.timeout.ms: a broker refuses a
// producer asking for more.
const maxTransactionTimeout = 15 * time.Minute

// ErrInvalidOption means the options given to [New] are missing or contradictory.
var ErrInvalidOption = errors.New("pipeline: invalid option")

// Option configures a [Pipeline].
type Option func(*config)

type config struct {
	connector          string
	topicPrefix        string
	seedBrokers        []string
	kafkaOpts          []kgo.Opt
	offsetsTopic       string
	chain              transform.Chain
	keyColumns         transform.Transform
	tombstones         Tombstones
	policy             Policy
	dlqTopic           string
	txMetadata         bool
	skipped            skippedOps
	maxBatchRecords    int
	maxLinger          time.Duration
	fullLinger         bool
	txnTimeout         time.Duration
	eventBuffer        int
	eventBufferBytes   int
	encodeQueueEvents  int
	encodeQueueBytes   int
	topicPartitions    int32
	replicationFactor  int16
	topicDefaults      TopicSettings
	topicGroups        []TopicGroup
	maxBufferedRecords int
	maxBufferedBytes   int
	statsInterval      time.Duration
	hangInterval       time.Duration // 0: no check for hanging transactions
	hangAfter          time.Duration // 0: the default, see hangingAfter
	minBackoff         time.Duration
	maxBackoff         time.Duration
	log                zerolog.Logger
	// now is the clock of the batch bounds; tests replace it.
	now func() time.Time
}

func defaultConfig() config {
	return config{
		offsetsTopic:       offsets.DefaultTopic,
		tombstones:         TombstonesOn,
		policy:             PolicyFail,
		skipped:            skippedOf(DefaultSkippedOperations),
		maxBatchRecords:    DefaultMaxBatchRecords,
		maxLinger:          DefaultMaxLinger,
		txnTimeout:         DefaultTransactionTimeout,
		eventBuffer:        DefaultEventBuffer,
		eventBufferBytes:   DefaultEventBufferBytes,
		encodeQueueEvents:  DefaultEncodeQueueEvents,
		encodeQueueBytes:   DefaultEncodeQueueBytes,
		topicPartitions:    DefaultTopicPartitions,
		replicationFactor:  DefaultReplicationFactor,
		maxBufferedRecords: DefaultMaxBufferedRecords,
		maxBufferedBytes:   DefaultMaxBufferedBytes,
		statsInterval:      DefaultStatsInterval,
		hangInterval:       DefaultHangingCheckInterval,
		minBackoff:         DefaultMinRestartBackoff,
		maxBackoff:         DefaultMaxRestartBackoff,
		log:                zerolog.Nop(),
		now:                time.Now,
	}
}

// validate rejects missing and contradictory settings.
func (c *config) validate() error {
	switch {
	case c.connector == "":
		return fmt.Errorf("%w: the connector name is required", ErrInvalidOption)
	case c.topicPrefix == "":
		return fmt.Errorf("%w: the topic prefix is required", ErrInvalidOption)
	case len(c.seedBrokers) == 0 && len(c.kafkaOpts) == 0:
		return fmt.Errorf("%w: Kafka seed brokers (or client options) are required", ErrInvalidOption)
	case c.offsetsTopic == "":
		return fmt.Errorf("%w: the offsets topic name is empty", ErrInvalidOption)
	case c.tombstones != TombstonesOn && c.tombstones != TombstonesOff:
		return fmt.Errorf("%w: unknown tombstones mode %d", ErrInvalidOption, c.tombstones)
	case c.policy != PolicyFail && c.policy != PolicyDLQ && c.policy != PolicySkip:
		return fmt.Errorf("%w: unknown error policy %d", ErrInvalidOption, c.policy)
	case c.policy == PolicyDLQ && c.dlqTopic == "":
		return fmt.Errorf("%w: the dlq error policy needs a dead-letter topic", ErrInvalidOption)
	case c.policy != PolicyDLQ && c.dlqTopic != "":
		return fmt.Errorf("%w: a dead-letter topic %q with the %s error policy, which writes none",
			ErrInvalidOption, c.dlqTopic, c.policy)
	case len(c.skipped.bad) > 0:
		return fmt.Errorf("%w: operation %q cannot be skipped (c, u, d or t)", ErrInvalidOption, string(rune(c.skipped.bad[0])))
	case c.dlqTopic != "" && !offsets.ValidTopic(c.dlqTopic):
		return fmt.Errorf("%w: dead-letter topic %q is not a valid Kafka topic name", ErrInvalidOption, c.dlqTopic)
	case c.dlqTopic != "" && c.dlqTopic == c.offsetsTopic:
		return fmt.Errorf("%w: the dead-letter topic is the offsets topic %q", ErrInvalidOption, c.dlqTopic)
	case c.txMetadata && c.dlqTopic == format.TransactionTopic(c.topicPrefix):
		return fmt.Errorf("%w: the dead-letter topic is the transaction topic %q", ErrInvalidOption, c.dlqTopic)
	case c.txMetadata && c.offsetsTopic == format.TransactionTopic(c.topicPrefix):
		return fmt.Errorf("%w: the offsets topic is the transaction topic %q", ErrInvalidOption, c.offsetsTopic)
	case c.maxBatchRecords < 1:
		return fmt.Errorf("%w: max batch records %d, want at least 1", ErrInvalidOption, c.maxBatchRecords)
	case c.maxLinger <= 0:
		return fmt.Errorf("%w: max linger %s, want more than 0", ErrInvalidOption, c.maxLinger)
	case c.txnTimeout < time.Second || c.txnTimeout > maxTransactionTimeout:
		return fmt.Errorf("%w: transaction timeout %s, want 1s to %s", ErrInvalidOption, c.txnTimeout, maxTransactionTimeout)
	case 2*c.maxLinger >= c.txnTimeout:
		// A Kafka transaction is cut at half the timeout; a linger that long would keep
		// transactions open until the cut.
		return fmt.Errorf("%w: max linger %s must be under half the transaction timeout %s",
			ErrInvalidOption, c.maxLinger, c.txnTimeout)
	case c.eventBuffer < 1 || c.eventBufferBytes < 1:
		return fmt.Errorf("%w: event buffer of %d events and %d bytes, want at least 1 of each",
			ErrInvalidOption, c.eventBuffer, c.eventBufferBytes)
	case c.encodeQueueEvents < 1 || c.encodeQueueBytes < 1:
		return fmt.Errorf("%w: encode queue of %d events and %d bytes, want at least 1 of each",
			ErrInvalidOption, c.encodeQueueEvents, c.encodeQueueBytes)
	case c.topicPartitions < 1:
		return fmt.Errorf("%w: topic partitions %d, want at least 1", ErrInvalidOption, c.topicPartitions)
	case c.replicationFactor == 0 || c.replicationFactor < -1:
		return fmt.Errorf("%w: replication factor %d, want -1 (broker default) or at least 1",
			ErrInvalidOption, c.replicationFactor)
	case c.validTopicCreation() != nil:
		return c.validTopicCreation()
	case c.maxBufferedRecords < 1 || c.maxBufferedBytes < 1:
		return fmt.Errorf("%w: produce buffer of %d records and %d bytes, want at least 1 of each",
			ErrInvalidOption, c.maxBufferedRecords, c.maxBufferedBytes)
	case c.statsInterval <= 0:
		return fmt.Errorf("%w: stats interval %s, want more than 0", ErrInvalidOption, c.statsInterval)
	case c.hangInterval < 0 || c.hangAfter < 0:
		return fmt.Errorf("%w: hanging transaction check every %s, after %s, want 0 or more", ErrInvalidOption, c.hangInterval, c.hangAfter)
	case c.minBackoff <= 0 || c.maxBackoff < c.minBackoff:
		return fmt.Errorf("%w: restart backoff from %s to %s, want 0 < min <= max",
			ErrInvalidOption, c.minBackoff, c.maxBackoff)
	}
	return nil
}

// ConnectorName names the connector (required). It keys the connector's offsets and derives
// the Kafka transactional ID "cdcd-<name>", so two processes running one connector fence each
// other.
func ConnectorName(name string) Option { return func(c *config) { c.connector = name } }

// TopicPrefix is the connector's topic prefix, its logical server name (required); it is the
// "server" of the offset record's key.
func TopicPrefix(prefix string) Option { return func(c *config) { c.topicPrefix = prefix } }

// SeedBrokers are the Kafka brokers to bootstrap from (required unless [KafkaOpts] set them).
func SeedBrokers(addrs ...string) Option {
	return func(c *config) { c.seedBrokers = append([]string(nil), addrs...) }
}

// KafkaOpts adds options to every Kafka client of the pipeline (TLS, SASL, ...), after its
// own defaults, so they may override them. The transactional ID and the transaction timeout
// are always the pipeline's; group options are not allowed.
func KafkaOpts(opts ...kgo.Opt) Option {
	return func(c *config) { c.kafkaOpts = append(c.kafkaOpts, opts...) }
}

// OffsetsTopic names the offsets topic, default [offsets.DefaultTopic].
func OffsetsTopic(name string) Option { return func(c *config) { c.offsetsTopic = name } }

// Transforms sets the processing stage, default the empty chain (every change passes).
func Transforms(chain transform.Chain) Option { return func(c *config) { c.chain = chain } }

// MessageKeyColumns sets the transform that chooses the key columns of tables (a
// *transform.KeyColumns, Debezium's message.key.columns), default none: the tables' own keys.
// It runs before the transform chain and before an update whose key changed is split into a
// delete and a create, so that the key, the split and the partition all follow the chosen
// columns.
func MessageKeyColumns(k transform.Transform) Option { return func(c *config) { c.keyColumns = k } }

// WithTombstones says whether deletes are followed by tombstones, default [TombstonesOn].
func WithTombstones(t Tombstones) Option { return func(c *config) { c.tombstones = t } }

// ErrorPolicy says what becomes of a poison change (see [Policy] for which failures are poison),
// default [PolicyFail]: stop. [PolicyDLQ] needs dlqTopic, the dead-letter topic (created
// like the data topics); the other policies take "".
func ErrorPolicy(policy Policy, dlqTopic string) Option {
	return func(c *config) { c.policy, c.dlqTopic = policy, dlqTopic }
}

// DefaultSkippedOperations are the operations a pipeline skips unless SkipOperations says
// otherwise: truncates, as Debezium's skipped.operations default ("t").
var DefaultSkippedOperations = []decoder.Op{decoder.OpTruncate}

// SkipOperations sets the operations whose changes are not written, as Debezium's
// skipped.operations: any of decoder.OpCreate, OpUpdate, OpDelete and OpTruncate; none to
// write every change. It replaces DefaultSkippedOperations. A skipped change is seen (its
// position moves on) but makes no record, nor counts in transaction metadata. Snapshot reads
// (OpRead) cannot be skipped.
func SkipOperations(ops ...decoder.Op) Option {
	return func(c *config) { c.skipped = skippedOf(ops) }
}

// skippedOps says, per op letter, whether the op is skipped; bad names an op that cannot be.
type skippedOps struct {
	skip [256]bool
	bad  []decoder.Op
}

func skippedOf(ops []decoder.Op) skippedOps {
	var s skippedOps
	for _, op := range ops {
		switch op {
		case decoder.OpCreate, decoder.OpUpdate, decoder.OpDelete, decoder.OpTruncate:
			s.skip[op] = true
		default:
			s.bad = append(s.bad, op)
		}
	}
	return s
}

// TransactionMetadata turns on transaction metadata, default off: each change event carries
// the envelope's transaction block, and each source transaction with events writes a BEGIN and
// an END record (with its event counts per table) to the topic <prefix>.transaction (created
// like the data topics), in the same Kafka transaction as its events, as Debezium's
// provide.transaction.metadata does; txmeta.go has the rules. The encoder must be a
// [TransactionEncoder].
func TransactionMetadata() Option { return func(c *config) { c.txMetadata = true } }

// MaxBatchRecords closes a Kafka transaction at the first source commit once it holds this
// many records, default [DefaultMaxBatchRecords].
func MaxBatchRecords(n int) Option { return func(c *config) { c.maxBatchRecords = n } }

// MaxLinger closes a Kafka transaction at the first source commit once it has been open this
// long, or when this long has passed and the source is between transactions, default
// [DefaultMaxLinger]. It bounds the latency a small transaction waits for others to join it;
// unless [FullLinger], a source with nothing more to give ends the wait earlier.
func MaxLinger(d time.Duration) Option { return func(c *config) { c.maxLinger = d } }

// FullLinger keeps a Kafka transaction open for the whole MaxLinger (or until MaxBatchRecords)
// even when the source has nothing more to give. By default a Kafka transaction also closes at
// a source commit after which the source, the source queue and the encode queue hold nothing
// more: a quiet stream's transactions are committed at once, and a busy one's batch the events
// that come while the previous Kafka transaction commits. FullLinger trades that latency for
// fewer, larger Kafka transactions (fewer transaction markers) on a quiet stream.
func FullLinger() Option { return func(c *config) { c.fullLinger = true } }

// TransactionTimeout is the Kafka transaction timeout (transaction.timeout.ms), default
// [DefaultTransactionTimeout]. It is also the budget of one Kafka transaction: one that has
// been open for half of it inside a huge source transaction is committed there, storing how
// many changes of that source transaction it covers, so the broker never aborts it.
func TransactionTimeout(d time.Duration) Option { return func(c *config) { c.txnTimeout = d } }

// EventBuffer bounds the [Queue] from the source to the pipeline, default [DefaultEventBuffer]
// events and [DefaultEventBufferBytes] bytes of decoded changes (one event heavier than that
// passes alone). A full queue blocks the source.
func EventBuffer(events, bytes int) Option {
	return func(c *config) { c.eventBuffer, c.eventBufferBytes = events, bytes }
}

// EncodeQueue bounds what the encode stage may hold ready for the Kafka stage, default
// [DefaultEncodeQueueEvents] source events and [DefaultEncodeQueueBytes] bytes of encoded
// records (a batch of events closes once it passes its share of the bytes, so one event per
// batch may go over). Encoding goes on while a Kafka transaction commits until the queue is
// full; then the encode stage waits, and the source behind it.
func EncodeQueue(events, bytes int) Option {
	return func(c *config) { c.encodeQueueEvents, c.encodeQueueBytes = events, bytes }
}

// TopicPartitions is the partition count of the data topics the pipeline creates, default
// [DefaultTopicPartitions]. Existing topics are left as they are.
func TopicPartitions(n int32) Option { return func(c *config) { c.topicPartitions = n } }

// ReplicationFactor is the replication factor of the topics the pipeline creates, default
// [DefaultReplicationFactor] (the broker's default).
func ReplicationFactor(n int16) Option { return func(c *config) { c.replicationFactor = n } }

// ProduceBuffer bounds the records and bytes buffered by the Kafka producer, default
// [DefaultMaxBufferedRecords] and [DefaultMaxBufferedBytes]. A full buffer blocks the
// pipeline, then the source: the backpressure from a slow Kafka.
func ProduceBuffer(records, bytes int) Option {
	return func(c *config) { c.maxBufferedRecords, c.maxBufferedBytes = records, bytes }
}

// StatsInterval is how often the counters are logged at info level, default
// [DefaultStatsInterval].
func StatsInterval(d time.Duration) Option { return func(c *config) { c.statsInterval = d } }

// RestartBackoff bounds the pause of [Pipeline.RunWithRestarts] before a restart: it starts at
// min, doubles after each failed run, and stays at max, default [DefaultMinRestartBackoff] and
// [DefaultMaxRestartBackoff].
func RestartBackoff(minimum, maximum time.Duration) Option {
	return func(c *config) { c.minBackoff, c.maxBackoff = minimum, maximum }
}

// Logger sets the logger, default none.
func Logger(l zerolog.Logger) Option { return func(c *config) { c.log = l } }
