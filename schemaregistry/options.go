package schemaregistry

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/internal/httpguard"
)

// Defaults of the options, in one place.
const (
	// DefaultTopic is the schemas topic when WithTopic is not given.
	DefaultTopic = "_cdcd_schemas"
	// DefaultCompatibility is the global level when none is configured, as Confluent's.
	DefaultCompatibility = avro.CompatBackward
	// DefaultWriteTimeout bounds one write: produce, broker ack, and reading it back.
	DefaultWriteTimeout = 30 * time.Second
)

// Option configures Open.
type Option func(*config)

type config struct {
	brokers           []string
	clientOpts        []kgo.Opt
	topic             string
	replicationFactor int16
	compatibility     avro.Compatibility
	writeTimeout      time.Duration
	logger            *slog.Logger
	token             string
}

func defaultConfig() config {
	return config{
		topic:             DefaultTopic,
		replicationFactor: -1,
		compatibility:     DefaultCompatibility,
		writeTimeout:      DefaultWriteTimeout,
		logger:            slog.New(slog.DiscardHandler),
	}
}

// WithBrokers sets the seed brokers of the Kafka cluster that holds the schemas topic. It is
// required unless [WithClientOpts] sets them (kgo.SeedBrokers).
func WithBrokers(brokers ...string) Option {
	return func(c *config) { c.brokers = append(c.brokers, brokers...) }
}

// WithClientOpts adds franz-go options (TLS, SASL, client id...) to the registry's own Kafka
// client. The registry owns its client because it consumes its topic from the start and
// produces with acks=all on an idempotent producer; options that change those (consumer groups,
// transactions, RequiredAcks) are overridden or refused by franz-go.
func WithClientOpts(opts ...kgo.Opt) Option {
	return func(c *config) { c.clientOpts = append(c.clientOpts, opts...) }
}

// WithTopic sets the compacted topic that stores the schemas, DefaultTopic by default.
// Processes that share a topic share a registry.
func WithTopic(topic string) Option {
	return func(c *config) { c.topic = topic }
}

// WithReplicationFactor sets the replication factor used when the registry creates its topic;
// the broker's default.replication.factor by default (-1).
func WithReplicationFactor(rf int16) Option {
	return func(c *config) { c.replicationFactor = rf }
}

// WithDefaultCompatibility sets the compatibility level that applies when neither the subject
// nor the global config sets one, DefaultCompatibility (BACKWARD) by default. It is not written
// to the topic: PUT /config does that.
func WithDefaultCompatibility(level avro.Compatibility) Option {
	return func(c *config) { c.compatibility = level }
}

// WithWriteTimeout bounds each write (produce, broker ack and read-back), DefaultWriteTimeout
// by default; a write that takes longer answers error 50002.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) { c.writeTimeout = d }
}

// WithLogger sets where the registry reports records of its topic it skips and fetch errors;
// nothing is logged by default.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithToken sets the token every HTTP request must carry, as "Authorization: Bearer <token>" or
// as the password of basic authentication (what Confluent clients send with
// basic.auth.user.info). Without one the registry answers only requests to a loopback Host,
// and Listen refuses an address that is not loopback. It must be at least
// httpguard.MinTokenBytes (16) long, without spaces or control characters.
func WithToken(token string) Option {
	return func(c *config) { c.token = token }
}

func (c config) validate() error {
	if len(c.brokers) == 0 && len(c.clientOpts) == 0 {
		return fmt.Errorf("%w: no brokers (WithBrokers)", ErrInvalidOption)
	}
	if c.topic == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalidOption)
	}
	if c.replicationFactor == 0 || c.replicationFactor < -1 {
		return fmt.Errorf("%w: replication factor %d (want -1 for the broker's default, or > 0)",
			ErrInvalidOption, c.replicationFactor)
	}
	if _, err := avro.ParseCompatibility(string(c.compatibility)); err != nil {
		return fmt.Errorf("%w: default compatibility: %w", ErrInvalidOption, err)
	}
	if c.writeTimeout <= 0 {
		return fmt.Errorf("%w: write timeout %s", ErrInvalidOption, c.writeTimeout)
	}
	if c.logger == nil {
		return fmt.Errorf("%w: nil logger", ErrInvalidOption)
	}
	if c.token != "" {
		if err := httpguard.CheckToken(c.token); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
	}
	return nil
}
