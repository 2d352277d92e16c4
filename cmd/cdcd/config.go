package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/schemaregistry"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/cdcd-dev/cdcd/worker"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
)

// Config is the file given to `cdcd run --config`: the Kafka cluster, the schema registry, and
// the connectors to run. docs/configuration.md describes every field.
type Config struct {
	Kafka      KafkaConfig       `json:"kafka"`
	Registry   RegistryConfig    `json:"registry"`
	Log        LogConfig         `json:"log"`
	API        APIConfig         `json:"api"`
	Health     HealthConfig      `json:"health"`
	Group      GroupConfig       `json:"group"`
	Connectors []ConnectorConfig `json:"connectors"`
}

// APIConfig sets the REST API.
type APIConfig struct {
	// Listen is the API's address; "off" runs the file's connectors only, without the API
	// nor the config topic, and cdcd exits once they have all stopped.
	Listen string `json:"listen"`
	// Token is the bearer token every request but /healthz must carry; required when Listen
	// is not a loopback address.
	Token string `json:"token"`
	// TLSCert and TLSKey are PEM files; both set: the API serves HTTPS.
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
	// Advertised is the host:port statuses name as the worker id; empty: Listen.
	Advertised string `json:"advertised"`
	// LiteralSecrets is "allow" (the default) or "refuse": refuse refuses every connector
	// whose secret keys (isSecretKey) hold a literal rather than references alone, so that no
	// secret is stored in the config topic, which keeps configurations as given.
	LiteralSecrets string `json:"literal_secrets"`
	// SecretsKey is the AES-256 key (base64) sealing the literal secrets in the config topic,
	// normally a reference; empty: a key generated in the state directory (secretskey.go).
	SecretsKey string `json:"secrets_key"`
}

// KafkaConfig says where Kafka is.
type KafkaConfig struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string `json:"brokers"`
	// OffsetsTopic is the compacted topic of the connectors' committed positions.
	OffsetsTopic string `json:"offsets_topic"`
	// ConfigTopic is the compacted topic of the connectors' configurations (one daemon per
	// topic, as a Kafka Connect cluster's config.storage.topic).
	ConfigTopic string `json:"config_topic"`
	// StatusTopic is the compacted topic where the members of a group write their connectors'
	// states (as Connect's status.storage.topic); only with group.id.
	StatusTopic string `json:"status_topic"`
	// TLS is how the clients speak TLS to the brokers (kafkasecurity.go).
	TLS KafkaTLSConfig `json:"tls"`
	// SASL is how the clients authenticate; nil: they do not.
	SASL *KafkaSASLConfig `json:"sasl"`
	// Compression is the producers' batch codec: none, gzip, snappy, lz4 or zstd; empty is
	// the client's default, snappy (kafkacompression.go).
	Compression string `json:"compression"`
}

// RegistryConfig says which schema registry to use.
type RegistryConfig struct {
	// URL is a Confluent-compatible schema registry. Empty: cdcd serves its own, persisted in
	// Kafka, on Listen.
	URL string `json:"url"`
	// Listen is the address of the embedded registry.
	Listen string `json:"listen"`
	// Topic is the embedded registry's compacted topic.
	Topic string `json:"topic"`
	// Compatibility is the level a subject gets when the registry has none for it.
	Compatibility string `json:"compatibility"`
	// Token is the credential the embedded registry asks of every request; required when
	// Listen is not a loopback address. cdcd's own registry client sends it (as a bearer
	// token, to URL too when that is set).
	Token string `json:"token"`
	// BasicAuthUserInfo is user:password, sent to URL as basic authentication (Confluent's
	// basic.auth.user.info); BearerAuthToken is sent to URL as a bearer token (Confluent's
	// bearer.auth.token). At most one; either replaces Token for URL. Secrets: never logged.
	BasicAuthUserInfo string `json:"basic_auth_user_info"`
	BearerAuthToken   string `json:"bearer_auth_token"`
	// SSLCALocation is the PEM file of the CAs URL's certificate must chain to (Confluent's
	// ssl.ca.location); empty: the system's roots. SSLCertificateLocation and SSLKeyLocation
	// are a client certificate and its key, PEM files (ssl.certificate.location,
	// ssl.key.location). For an https:// URL.
	SSLCALocation          string `json:"ssl_ca_location"`
	SSLCertificateLocation string `json:"ssl_certificate_location"`
	SSLKeyLocation         string `json:"ssl_key_location"`
	// TLSCert and TLSKey are PEM files; both set: the embedded registry serves HTTPS
	// (registrytls.go).
	TLSCert string `json:"tls_cert"`
	TLSKey  string `json:"tls_key"`
}

// LogConfig sets the logs.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `json:"level"`
	// Format is json (the default) or console.
	Format string `json:"format"`
}

// ConnectorConfig is one connector.
type ConnectorConfig struct {
	// Name identifies the connector: its offsets and its Kafka transactional id derive from it.
	Name string `json:"name"`
	// Type is the source kind, one of daemonKinds: postgres or mysql (MySQL and MariaDB).
	Type string `json:"type"`
	// TopicPrefix starts every topic name: <prefix>.<schema>.<table> for PostgreSQL,
	// <prefix>.<database>.<table> for MySQL.
	TopicPrefix string `json:"topic_prefix"`
	// TombstonesOnDelete adds a null-valued record after each delete, for log compaction.
	TombstonesOnDelete *bool `json:"tombstones_on_delete"`
	// Format is the output format of the connector's records, by name (formats.go); empty:
	// avro.
	Format string `json:"format"`
	// JSON configures format json (schemas.enable, decimal.format); only with format json.
	JSON *JSONSection `json:"json"`
	// DecimalHandlingMode, TimePrecisionMode and BinaryHandlingMode are Debezium's
	// decimal.handling.mode, time.precision.mode and binary.handling.mode, for every format;
	// KeySubjectNameStrategy and ValueSubjectNameStrategy are Confluent's
	// key.subject.name.strategy and value.subject.name.strategy, for the registry formats
	// (formats.go). Empty: the defaults.
	DecimalHandlingMode      string `json:"decimal_handling_mode"`
	TimePrecisionMode        string `json:"time_precision_mode"`
	BinaryHandlingMode       string `json:"binary_handling_mode"`
	KeySubjectNameStrategy   string `json:"key_subject_name_strategy"`
	ValueSubjectNameStrategy string `json:"value_subject_name_strategy"`
	// UnavailableValuePlaceholder replaces unchanged TOASTed values.
	UnavailableValuePlaceholder string `json:"unavailable_value_placeholder"`
	// MaxBatchRecords and MaxBatchLingerMS bound one Kafka transaction.
	MaxBatchRecords  int `json:"max_batch_records"`
	MaxBatchLingerMS int `json:"max_batch_linger_ms"`
	// BatchLinger is idle (default: a Kafka transaction commits once the source has nothing
	// more to give) or full (it waits for MaxBatchLingerMS); see linger.go.
	BatchLinger string `json:"batch_linger"`
	// MaxQueueSize and MaxQueueSizeInBytes bound the queue from the source to the pipeline
	// (Debezium's max.queue.size and max.queue.size.in.bytes); 0: 1024 events, 16 MiB.
	MaxQueueSize        int `json:"max_queue_size"`
	MaxQueueSizeInBytes int `json:"max_queue_size_in_bytes"`
	// ProducerBufferBytes bounds the records the Kafka producer holds unacknowledged; 0: 64 MiB.
	ProducerBufferBytes int `json:"producer_buffer_bytes"`
	// Transforms are applied to every change, in order (docs/transforms.md).
	Transforms []TransformConfig `json:"transforms"`
	// ErrorPolicy says what happens to a change a transform or the encoder cannot handle: fail
	// (the connector stops; the default), dlq (it goes to DLQTopic in the same transaction,
	// the following changes go on) or skip (counted and logged).
	ErrorPolicy string `json:"error_policy"`
	// DLQTopic is the dead-letter topic under error_policy dlq; empty: <topic_prefix>.dlq.
	DLQTopic string `json:"dlq_topic"`
	// ProvideTransactionMetadata writes BEGIN and END events with per-table counts to
	// <topic_prefix>.transaction and fills every event's transaction block, as Debezium's
	// provide.transaction.metadata.
	ProvideTransactionMetadata bool `json:"provide_transaction_metadata"`
	// TopicCreation sets the data topics' partitions and settings (topiccreation.go).
	TopicCreation *TopicCreationConfig `json:"topic_creation"`
	// MessageKeyColumns chooses the key columns of tables, as Debezium's message.key.columns:
	// "<schema.table regex>:<col>,<col>;..." (transform.ParseKeyColumns).
	MessageKeyColumns string `json:"message_key_columns"`
	// SkippedOperations are the operations not written, as Debezium's skipped.operations:
	// any of c, u, d, t, or none; empty means t (skipped.go).
	SkippedOperations []string `json:"skipped_operations"`
	// The sources' sections, one for each kind of daemonKinds, whose json key is the kind's
	// name: only the section of the connector's type is set. Its kind checks and reads it.

	// Postgres configures a postgres connector.
	Postgres *postgres.Section `json:"postgres"`
	// MySQL configures a mysql connector (MySQL and MariaDB).
	MySQL *mysql.Section `json:"mysql"`
}

// The defaults, in one place: those defined by the package they configure are named here.
const (
	defaultRegistryListen = "127.0.0.1:18081"
	defaultRegistryTopic  = schemaregistry.DefaultTopic
	defaultOffsetsTopic   = offsets.DefaultTopic
	defaultConfigTopic    = worker.DefaultConfigTopic
	defaultAPIListen      = api.DefaultAddr
	// apiOff is the api.listen value that turns the API off.
	apiOff               = "off"
	defaultCompatibility = string(schemaregistry.DefaultCompatibility)
	defaultLogLevel      = "info"
	defaultLogFormat     = "json"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid configuration")

// loadConfig reads, defaults and validates the file at path. Unknown fields are errors, so a
// misspelt setting is never silently ignored.
func loadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// parseConfig reads a config file's bytes: every problem, of decoding (an unknown field, a
// value of the wrong kind) and of validation, is listed in one error, each with its path.
func parseConfig(raw []byte) (*Config, error) {
	var cfg Config
	problems, parsed := decodeYAML(raw, &cfg)
	if !parsed {
		return nil, problemsError(problems)
	}
	problems = append(problems, resolveSettings(&cfg)...)
	cfg.applyDefaults()
	problems = append(problems, withoutShadowed(problems, cfg.problems())...)
	if err := problemsError(problems); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// problemsError is one ErrConfig listing problems, one a line; nil without problems.
func problemsError(problems []string) error {
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%w: %s", ErrConfig, problems[0])
	}
	return fmt.Errorf("%w: %d problems:\n  %s", ErrConfig, len(problems), strings.Join(problems, "\n  "))
}

// cleanYAMLError drops the layers of the YAML-to-JSON conversion from a decoding error, keeping
// what names the field.
func cleanYAMLError(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

func (c *Config) applyDefaults() {
	if c.Kafka.OffsetsTopic == "" {
		c.Kafka.OffsetsTopic = defaultOffsetsTopic
	}
	if c.Kafka.ConfigTopic == "" {
		c.Kafka.ConfigTopic = defaultConfigTopic
	}
	if c.Kafka.StatusTopic == "" {
		c.Kafka.StatusTopic = defaultStatusTopic
	}
	if c.API.Listen == "" {
		c.API.Listen = defaultAPIListen
	}
	if c.Registry.Listen == "" {
		c.Registry.Listen = defaultRegistryListen
	}
	if c.Registry.Topic == "" {
		c.Registry.Topic = defaultRegistryTopic
	}
	if c.Registry.Compatibility == "" {
		c.Registry.Compatibility = defaultCompatibility
	}
	if c.Log.Level == "" {
		c.Log.Level = defaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = defaultLogFormat
	}
	for i := range c.Connectors {
		applyConnectorDefaults(&c.Connectors[i])
	}
}

// applyConnectorDefaults fills in a connector's defaults, in the file as over the API: each
// section's kind fills in its own.
func applyConnectorDefaults(conn *ConnectorConfig) {
	for _, k := range daemonKinds() {
		if s := settingsOf(*conn, k); s.Section != nil {
			k.Defaults(s)
		}
	}
}

// validNames are what a connector name and topic prefix may contain: they become parts of
// Kafka topic names, transactional ids and PostgreSQL slot names.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// problems lists every problem of c (defaults applied), each "path: problem".
func (c *Config) problems() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(c.Kafka.Brokers) == 0 {
		add("kafka.brokers: at least one broker (host:port) is needed")
	}
	for _, b := range c.Kafka.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil {
			add("kafka.brokers: %q is not host:port", b)
			continue
		}
		if err := connectors.CheckHost(host); err != nil {
			add("kafka.brokers: host %s", err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			add("kafka.brokers: %q: the port is not 1 to 65535", b)
		}
	}
	problems = append(problems, c.Kafka.securityProblems()...)
	problems = append(problems, c.Kafka.compressionProblems()...)
	problems = append(problems, c.Health.problems()...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		add("log.format: %q is not json or console", c.Log.Format)
	}
	if len(c.Connectors) == 0 && c.API.Listen == apiOff {
		add("connectors: no connector is configured, and api.listen is off")
	}
	switch c.API.LiteralSecrets {
	case "", literalSecretsAllow, literalSecretsRefuse:
	default:
		add("api.literal_secrets: %q is not %s or %s", c.API.LiteralSecrets, literalSecretsAllow, literalSecretsRefuse)
	}
	if c.API.SecretsKey != "" {
		if _, err := parseSecretsKey(c.API.SecretsKey); err != nil {
			add("api.secrets_key: %s", err)
		}
	}
	if (c.API.TLSCert == "") != (c.API.TLSKey == "") {
		add("api: tls_cert and tls_key go together")
	}
	c.Registry.problems(add)
	c.groupProblems(add)
	seen := map[string]bool{}
	// The connectors without a problem of their own, by kind, compared pairwise for what two
	// of a kind cannot share (Kind.Conflict).
	valid := map[string][]connectors.Settings{}
	kinds := daemonKinds()
	for i, conn := range c.Connectors {
		// The path, as decoding names it, so that every problem of the file reads alike.
		where := fmt.Sprintf("connectors[%d]", i)
		if conn.Name != "" && seen[conn.Name] {
			add("%s.name: %q is used twice", where, conn.Name)
		}
		seen[conn.Name] = true
		// Validated as it will run, its references resolved; it is kept, and stored, with
		// them.
		errs := c.literalSecrets(flattenConnector(conn))
		conn, refErrs := resolvedConnector(conn)
		errs = append(append(errs, refErrs...), validateConnector(conn)...)
		for _, fe := range errs {
			if fe.Name == "" {
				add("%s: %s", where, fe.Message)
			} else {
				add("%s.%s: %s", where, fe.Name, fe.Message)
			}
		}
		if k, ok := kinds.Get(conn.Type); ok && len(errs) == 0 {
			valid[k.Name()] = append(valid[k.Name()], settingsOf(conn, k))
		}
	}
	for _, k := range kinds {
		conns := valid[k.Name()]
		for i, a := range conns {
			for _, b := range conns[i+1:] {
				if c := k.Conflict(a, b); c != nil {
					add("%s", c.Message)
				}
			}
		}
	}
	return problems
}

// validateConnector returns every problem of one connector's configuration, each naming its
// key (as the API's flat form does: "postgres.port"), empty for the whole connector.
func validateConnector(conn ConnectorConfig) []api.FieldError {
	var errs []api.FieldError
	add := func(key, format string, args ...any) {
		errs = append(errs, api.FieldError{Name: key, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case conn.Name == "":
		add("name", "a name is needed")
	case !validName.MatchString(conn.Name):
		add("name", "only letters, digits, '_', '.' and '-' are allowed")
	case len(conn.Name) > maxNameLength:
		add("name", "%d characters, at most %d are allowed", len(conn.Name), maxNameLength)
	}
	switch {
	case !validName.MatchString(conn.TopicPrefix):
		add("topic_prefix", "needed, made of letters, digits, '_', '.' and '-'")
	case len(conn.TopicPrefix) > maxTopicPrefixLength:
		add("topic_prefix", "%d characters, at most %d are allowed (Kafka topic names stop at 249, and __debezium-heartbeat.<topic_prefix> is one)",
			len(conn.TopicPrefix), maxTopicPrefixLength)
	}
	for _, r := range numericRanges {
		if v := r.value(conn); v != 0 && (v < r.min || v > r.max) {
			add(r.key, "%d is out of range: 0 (the default, %s) or %d to %d %s", v, r.zero, r.min, r.max, r.unit)
		}
	}
	errs = append(errs, validateTransforms(conn.Transforms)...)
	errs = append(errs, validateSkippedOperations(conn.SkippedOperations)...)
	errs = append(errs, validateBatchLinger(conn)...)
	errs = append(errs, validateTopicCreation(conn.TopicCreation)...)
	if _, err := transform.ParseKeyColumns(conn.MessageKeyColumns); err != nil {
		add("message_key_columns", "%v", err)
	}
	if known := formats("", nil); conn.Format != "" {
		if _, err := known.Lookup(conn.Format); err != nil {
			add("format", "%q is not a known format (%s)", conn.Format, strings.Join(known.Names(), ", "))
		}
	}
	errs = append(errs, validateFormatSections(conn)...)
	if conn.ErrorPolicy != "" {
		if _, err := pipeline.ParsePolicy(conn.ErrorPolicy); err != nil {
			add("error_policy", "%q is not fail, dlq or skip", conn.ErrorPolicy)
		}
	}
	if conn.DLQTopic != "" && conn.ErrorPolicy != "dlq" {
		add("dlq_topic", "is only used with error_policy dlq")
	}
	kinds := daemonKinds()
	k, known := kinds.Get(conn.Type)
	switch {
	case known:
		s := settingsOf(conn, k)
		if s.Section == nil {
			if _, hasField := sectionField(reflect.ValueOf(conn), k.Name()); hasField {
				add(k.Name(), "a %s connector needs its %s section", k.Name(), k.Name())
			}
			break
		}
		errs = append(errs, fieldErrors(k.Validate(s))...)
	case conn.Type == "":
		add("type", "needed (%s)", strings.Join(kinds.Names(), " or "))
	default:
		add("type", "%s", unknownType(kinds, conn.Type))
	}
	if known {
		// Only with a known type does "the other section" mean something.
		for _, other := range presentSections(kinds, conn) {
			if other.Name() != k.Name() {
				add(other.Name(), "is the section of a %s connector, this one is %s: keep only the %s section",
					other.Name(), conn.Type, conn.Type)
			}
		}
	}
	return errs
}

// Length limits of names that become parts of Kafka topic names (249 characters at most).
const (
	// maxNameLength leaves room for the default schema history topic, <name>.schema-history.
	maxNameLength = 200
	// maxTopicPrefixLength keeps __debezium-heartbeat.<topic_prefix> within 249 characters.
	maxTopicPrefixLength = 249 - len(connectors.HeartbeatTopicPrefix+".")
)

// numericRange is the allowed range of one numeric connector setting; 0 always means its
// default. The bounds keep values that would parse but cannot work (a linger of three years, a
// queue of one byte) out at validation, with the range in the message, instead of failing later.
type numericRange struct {
	key      string
	value    func(ConnectorConfig) int
	min, max int
	unit     string
	zero     string
}

var numericRanges = []numericRange{
	{"max_batch_records", func(c ConnectorConfig) int { return c.MaxBatchRecords }, 1, 1_000_000, "records",
		fmt.Sprint(pipeline.DefaultMaxBatchRecords)},
	// A Kafka transaction is cut at half the transaction timeout: a linger as long would keep
	// every transaction open until the cut.
	{"max_batch_linger_ms", func(c ConnectorConfig) int { return c.MaxBatchLingerMS }, 1,
		int(pipeline.DefaultTransactionTimeout/2/time.Millisecond) - 1, "ms", pipeline.DefaultMaxLinger.String()},
	{"max_queue_size", func(c ConnectorConfig) int { return c.MaxQueueSize }, 16, 1 << 20, "events",
		fmt.Sprint(pipeline.DefaultEventBuffer)},
	{"max_queue_size_in_bytes", func(c ConnectorConfig) int { return c.MaxQueueSizeInBytes }, 64 << 10, 2 << 30, "bytes",
		"16 MiB"},
	{"producer_buffer_bytes", func(c ConnectorConfig) int { return c.ProducerBufferBytes }, 1 << 20, 2 << 30, "bytes",
		"64 MiB"},
}
