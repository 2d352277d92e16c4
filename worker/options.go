package worker

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The defaults of the options, in one place.
const (
	// DefaultConfigTopic is the default name of the topic holding the connectors'
	// configurations and target states.
	DefaultConfigTopic   = "_cdcd_configs"
	DefaultMinBuildRetry = time.Second
	DefaultMaxBuildRetry = time.Minute
)

// ErrInvalidOption means the options given to [New] are missing or contradictory.
var ErrInvalidOption = errors.New("worker: invalid option")

// Option configures a [Manager].
type Option func(*config)

type config struct {
	seedBrokers   []string
	kafkaOpts     []kgo.Opt
	configTopic   string
	offsetsTopic  string
	workerID      string
	log           zerolog.Logger
	static        map[string]api.Config
	inMemory      bool
	onFailed      func(name string, err error)
	minBuildRetry time.Duration
	maxBuildRetry time.Duration
	secretsKey    []byte
	// grouped: see [GroupMode].
	grouped     bool
	onChange    func()
	statusTopic string
}

func defaultConfig() config {
	return config{
		configTopic:   DefaultConfigTopic,
		offsetsTopic:  offsets.DefaultTopic,
		workerID:      defaultWorkerID(),
		log:           zerolog.Nop(),
		minBuildRetry: DefaultMinBuildRetry,
		maxBuildRetry: DefaultMaxBuildRetry,
	}
}

// defaultWorkerID is the host name, as statuses name the process running a connector.
func defaultWorkerID() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "cdcd"
}

// validate rejects missing and contradictory settings.
func (c *config) validate() error {
	switch {
	case len(c.seedBrokers) == 0 && len(c.kafkaOpts) == 0:
		return fmt.Errorf("%w: Kafka seed brokers (or client options) are required", ErrInvalidOption)
	case c.configTopic == "":
		return fmt.Errorf("%w: the config topic name is empty", ErrInvalidOption)
	case c.offsetsTopic == "":
		return fmt.Errorf("%w: the offsets topic name is empty", ErrInvalidOption)
	case c.statusTopic != "" && (c.statusTopic == c.configTopic || c.statusTopic == c.offsetsTopic):
		return fmt.Errorf("%w: the status topic %s is also the config or offsets topic", ErrInvalidOption, c.statusTopic)
	case c.configTopic == c.offsetsTopic:
		return fmt.Errorf("%w: the config and offsets topics are both %s", ErrInvalidOption, c.configTopic)
	case c.grouped && c.inMemory:
		return fmt.Errorf("%w: a group member keeps its configurations in the config topic, not in memory", ErrInvalidOption)
	case c.workerID == "":
		return fmt.Errorf("%w: the worker id is empty", ErrInvalidOption)
	case c.minBuildRetry <= 0:
		return fmt.Errorf("%w: build retry %s, want more than 0", ErrInvalidOption, c.minBuildRetry)
	case c.maxBuildRetry < c.minBuildRetry:
		return fmt.Errorf("%w: build retry maximum %s under its minimum %s", ErrInvalidOption, c.maxBuildRetry, c.minBuildRetry)
	case c.secretsKey != nil && len(c.secretsKey) != SecretsKeySize:
		return fmt.Errorf("%w: the secrets key has %d bytes, want %d (AES-256)", ErrInvalidOption, len(c.secretsKey), SecretsKeySize)
	}
	for name := range c.static {
		if err := checkName(name); err != nil {
			return fmt.Errorf("%w: static connector: %w", ErrInvalidOption, err)
		}
	}
	return nil
}

// clientOpts returns the options of every Kafka client of the manager.
func (c *config) clientOpts() []kgo.Opt {
	opts := make([]kgo.Opt, 0, 1+len(c.kafkaOpts))
	if len(c.seedBrokers) > 0 {
		opts = append(opts, kgo.SeedBrokers(c.seedBrokers...))
	}
	return append(opts, c.kafkaOpts...)
}

// SeedBrokers are the Kafka brokers to bootstrap from (required unless [KafkaOpts] set them).
func SeedBrokers(addrs ...string) Option {
	return func(c *config) { c.seedBrokers = append([]string(nil), addrs...) }
}

// KafkaOpts adds options to every Kafka client of the manager (TLS, SASL, ...), after the seed
// brokers. Group and transactional options are not allowed.
func KafkaOpts(opts ...kgo.Opt) Option {
	return func(c *config) { c.kafkaOpts = append(c.kafkaOpts, opts...) }
}

// ConfigTopic names the compacted topic holding the connectors' configurations, default
// [DefaultConfigTopic]. Like a Kafka Connect cluster's config.storage.topic it belongs to one
// daemon: two daemons on one topic would both run every connector, their pipelines fencing
// each other.
func ConfigTopic(name string) Option { return func(c *config) { c.configTopic = name } }

// OffsetsTopic names the connectors' offsets topic, default [offsets.DefaultTopic]; it must
// be the one the connectors' pipelines write.
func OffsetsTopic(name string) Option { return func(c *config) { c.offsetsTopic = name } }

// WorkerID names this process in statuses, default the host name.
func WorkerID(id string) Option { return func(c *config) { c.workerID = id } }

// Logger sets the logger, default none. Configurations are never logged.
func Logger(l zerolog.Logger) Option { return func(c *config) { c.log = l } }

// StaticConnectors are the connectors of the daemon's config file, applied when [New] starts
// as PUTs: created when missing, their configuration replaced when it differs. One deleted
// over the API comes back at the next start while the file still has it.
func StaticConnectors(conns map[string]api.Config) Option {
	return func(c *config) {
		c.static = make(map[string]api.Config, len(conns))
		for name, cfg := range conns {
			c.static[name] = cfg
		}
	}
}

// InMemoryConfigs keeps the connectors' configurations and target states in memory instead of
// the config topic ([ConfigTopic] is then unused), for as long as the process runs: for a
// daemon whose connectors all come from its config file ([StaticConnectors]) and which nothing
// else changes, as cdcd with its REST API off. The connectors run as they would with the
// topic: the same states, retries, stall watch and metrics.
func InMemoryConfigs() Option { return func(c *config) { c.inMemory = true } }

// OnFailed sets a function called each time a connector becomes FAILED, with the permanent
// error that failed its build or its run (not when it is stopped, paused or deleted). It is
// called on the connector's goroutine and must return at once. cdcd with its REST API off,
// where nothing can restart a FAILED connector, exits once all of its connectors are.
func OnFailed(fn func(name string, err error)) Option {
	return func(c *config) { c.onFailed = fn }
}

// BuildRetry bounds the pause before building a connector again after [Factory.Build] failed
// (the database unreachable, say): it starts at minimum, doubles after each failure and stays
// at maximum, default [DefaultMinBuildRetry] and [DefaultMaxBuildRetry]. The connector is
// FAILED, with the error as its trace, while it waits.
func BuildRetry(minimum, maximum time.Duration) Option {
	return func(c *config) { c.minBuildRetry, c.maxBuildRetry = minimum, maximum }
}

// SealSecrets seals the literal secrets of the configurations (the values of the keys
// [Factory.Secret] names, unless they hold references alone) in the config topic with
// AES-256-GCM under key, 32 bytes, and opens them when the topic is read: the topic's records
// hold no secret in plain text. A connector whose secret was sealed with another key is
// FAILED at restore, the error naming both keys' ids. Without it, the topic holds the
// configurations as given. Unused with [InMemoryConfigs].
func SealSecrets(key []byte) Option {
	return func(c *config) { c.secretsKey = append([]byte(nil), key...) }
}

// GroupMode makes the manager one member of a group of daemons sharing the config topic
// (package worker/group): it runs only the connectors [Manager.Assign] gives it, reads the
// config topic again at each assignment, and calls the [OnChange] function after each change
// it writes, so that the group rebalances and every member sees it.
func GroupMode() Option { return func(c *config) { c.grouped = true } }

// OnChange sets a function called after each change the manager writes to the config topic
// (a connector created, replaced, deleted, paused, resumed or stopped). It must return at once.
func OnChange(fn func()) Option { return func(c *config) { c.onChange = fn } }

// StatusTopic names the compacted topic where the members of a group ([GroupMode]) write the
// states of the connectors they run, so that any member answers any connector's status (Kafka
// Connect's status.storage.topic). Empty (the default): none, and a member answers UNASSIGNED
// for the connectors it does not run. Unused without GroupMode.
func StatusTopic(name string) Option { return func(c *config) { c.statusTopic = name } }
