package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/pipeline"

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
	// Type is the source kind: postgres or mysql (MySQL and MariaDB).
	Type string `json:"type"`
	// TopicPrefix starts every topic name: <prefix>.<schema>.<table> for PostgreSQL,
	// <prefix>.<database>.<table> for MySQL.
	TopicPrefix string `json:"topic_prefix"`
	// TombstonesOnDelete adds a null-valued record after each delete, for log compaction.
	TombstonesOnDelete *bool `json:"tombstones_on_delete"`
	// Format is the output format of the connector's records, by name (formats.go); empty:
	// avro.
	Format string `json:"format"`
	// UnavailableValuePlaceholder replaces unchanged TOASTed values.
	UnavailableValuePlaceholder string `json:"unavailable_value_placeholder"`
	// MaxBatchRecords and MaxBatchLingerMS bound one Kafka transaction.
	MaxBatchRecords  int `json:"max_batch_records"`
	MaxBatchLingerMS int `json:"max_batch_linger_ms"`
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
	// SkippedOperations are the operations not written, as Debezium's skipped.operations:
	// any of c, u, d, t, or none; empty means t (skipped.go).
	SkippedOperations []string `json:"skipped_operations"`
	// Postgres configures a postgres connector.
	Postgres *PostgresConfig `json:"postgres"`
	// MySQL configures a mysql connector.
	MySQL *MySQLConfig `json:"mysql"`
}

// PostgresConfig is a PostgreSQL source.
type PostgresConfig struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	Database string `json:"database"`
	// SSLMode is libpq's sslmode: disable, allow, prefer, require, verify-ca, verify-full.
	SSLMode string `json:"sslmode"`
	// Slot and Publication are created when missing; both default to cdcd_<connector name>.
	Slot        string `json:"slot"`
	Publication string `json:"publication"`
	// Tables are schema-qualified; empty captures every table.
	Tables []string `json:"tables"`
	// Streaming is "on" (the default: large in-progress transactions are streamed and spilled
	// to SpillDir until they commit) or "off" (the server spills them to its own disk).
	Streaming string `json:"streaming"`
	// SpillDir holds the spill files of streamed transactions; empty: a folder under the
	// system's temporary directory named after the slot.
	SpillDir string `json:"spill_dir"`
	// SnapshotMode is initial (the default: the tables' rows first when there is no stored
	// position), initial_only (the rows, then no streaming), no_data (streaming only),
	// when_needed (as initial, and again when the stored position cannot be resumed) or
	// always (at each start of the connector; a snapshot cut by a crash is resumed).
	SnapshotMode string `json:"snapshot_mode"`
	// SnapshotChunkRows is how many rows one snapshot chunk (one Kafka transaction) holds.
	SnapshotChunkRows int `json:"snapshot_chunk_rows"`
	// SnapshotChunkBytes caps a snapshot chunk (initial or incremental) at about this many
	// bytes of rows, fewer rows than SnapshotChunkRows when they are wide; 0: 16 MiB.
	SnapshotChunkBytes int64 `json:"snapshot_chunk_bytes"`
	// SnapshotMaxThreads is how many connections read the initial snapshot's chunks ahead
	// (Debezium's snapshot.max.threads); 0: 1, one connection. At most 16.
	SnapshotMaxThreads int `json:"snapshot_max_threads"`
	// ReplayWindow keeps the slot's confirmed position this long (a Go duration, e.g. 30m)
	// behind Kafka's commits, so that offsets can be moved back within it; empty: none.
	ReplayWindow string `json:"replay_window"`
	// SignalTable is the signal table (schema.table with columns id, type, data): a row of
	// type execute-snapshot starts an incremental snapshot. Empty: no signals.
	SignalTable string `json:"signal_table"`
	// IncrementalSnapshotChunkRows is how many rows one chunk of an incremental snapshot
	// reads; 0: 1024.
	IncrementalSnapshotChunkRows int `json:"incremental_snapshot_chunk_rows"`
	// HeartbeatInterval is how often (a Go duration, e.g. 10s; at least 100ms) a heartbeat
	// goes through the slot to __debezium-heartbeat.<topic_prefix>, so that the slot advances
	// while no captured table is written; empty or 0: no heartbeats.
	HeartbeatInterval string `json:"heartbeat_interval"`
	// PublicationGap is what happens when a captured table leaves the publication:
	// resnapshot (the default: cdcd adds it back and re-reads it) or fail.
	PublicationGap string `json:"publication_gap"`
	// PublicationCheckInterval is how often (a Go duration, 100ms to 1h) the publication is
	// checked, besides at each Relation message; empty: 5s.
	PublicationCheckInterval string `json:"publication_check_interval"`
	// PublishViaPartitionRoot puts the rows of a partitioned table on its own topic, in the
	// snapshot and the stream (the publication's publish_via_partition_root); false puts them
	// on its partitions' topics. Empty: true.
	PublishViaPartitionRoot *bool `json:"publish_via_partition_root"`
}

// MySQLConfig is a MySQL or MariaDB source.
type MySQLConfig struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	// ServerID is the replica id cdcd registers with; 0 derives one from the connector name.
	ServerID uint32 `json:"server_id"`
	// Databases are captured whole; Tables ("database.table") besides them; with neither,
	// every table outside the system databases.
	Databases []string `json:"databases"`
	Tables    []string `json:"tables"`
	// HistoryTopic holds the schema history; empty: <connector name>.schema-history.
	HistoryTopic string `json:"history_topic"`
	// SkipUnparseableDDL skips (with a warning) a DDL on a captured table that cdcd cannot
	// parse, instead of stopping the connector. Rows after it are then decoded with the schema
	// as it was.
	SkipUnparseableDDL bool `json:"skip_unparseable_ddl"`
	// SnapshotMode is initial (the default: the tables' rows first when there is no stored
	// position), initial_only, no_data (only the changes from the binlog's end), when_needed
	// (as initial, and again when the binary logs of the stored position are purged) or
	// always.
	SnapshotMode string `json:"snapshot_mode"`
	// SnapshotChunkRows is how many rows one snapshot chunk holds; 0: the source's default.
	SnapshotChunkRows int `json:"snapshot_chunk_rows"`
	// SnapshotChunkBytes caps a snapshot chunk (initial or incremental) of a table with a
	// primary key at about this many bytes of rows; 0: 16 MiB.
	SnapshotChunkBytes int64 `json:"snapshot_chunk_bytes"`
	// SignalTable is the signal table (database.table with columns id, type, data): a row of
	// type execute-snapshot starts an incremental snapshot (MariaDB). Empty: no signals.
	SignalTable string `json:"signal_table"`
	// IncrementalSnapshotChunkRows is how many rows one chunk of an incremental snapshot
	// reads; 0: 1024.
	IncrementalSnapshotChunkRows int `json:"incremental_snapshot_chunk_rows"`
	// HeartbeatInterval is how often (a Go duration, e.g. 10s; at least 100ms) a heartbeat
	// record goes to __debezium-heartbeat.<topic_prefix> with the binlog position read so far,
	// so that the committed position moves while only tables not captured are written; empty
	// or 0: no heartbeats.
	HeartbeatInterval string `json:"heartbeat_interval"`
}

// mysqlSnapshotModes maps a mysql section's snapshot_mode values to the source's modes (""
// is the default).
var mysqlSnapshotModes = map[string]mysql.SnapshotMode{
	"": mysql.SnapshotInitial, "initial": mysql.SnapshotInitial, "initial_only": mysql.SnapshotInitialOnly,
	"no_data": mysql.SnapshotNoData, "when_needed": mysql.SnapshotWhenNeeded, "always": mysql.SnapshotAlways,
}

// The defaults, in one place.
const (
	defaultRegistryListen = "127.0.0.1:18081"
	defaultRegistryTopic  = "_cdcd_schemas"
	defaultOffsetsTopic   = "_cdcd_offsets"
	defaultConfigTopic    = "_cdcd_configs"
	defaultAPIListen      = "127.0.0.1:8083"
	// apiOff is the api.listen value that turns the API off.
	apiOff               = "off"
	defaultCompatibility = "BACKWARD"
	defaultPostgresPort  = 5432
	defaultMySQLPort     = 3306
	defaultLogLevel      = "info"
	defaultLogFormat     = "json"
)

// publicationGaps maps the config's publication_gap values to the source's policies ("" is
// the default).
var publicationGaps = map[string]postgres.PublicationGapPolicy{
	"": postgres.PublicationGapResnapshot, "resnapshot": postgres.PublicationGapResnapshot, "fail": postgres.PublicationGapFail,
}

// snapshotModes maps the config's snapshot_mode values to the source's modes ("" is the
// default).
var snapshotModes = map[string]postgres.SnapshotMode{
	"":             postgres.SnapshotInitial,
	"initial":      postgres.SnapshotInitial,
	"initial_only": postgres.SnapshotInitialOnly,
	"no_data":      postgres.SnapshotNoData,
	"when_needed":  postgres.SnapshotWhenNeeded,
	"always":       postgres.SnapshotAlways,
}

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

// applyConnectorDefaults fills in a connector's defaults, in the file as over the API.
func applyConnectorDefaults(conn *ConnectorConfig) {
	if my := conn.MySQL; my != nil && my.Port == 0 {
		my.Port = defaultMySQLPort
	}
	pg := conn.Postgres
	if pg == nil {
		return
	}
	if pg.Port == 0 {
		pg.Port = defaultPostgresPort
	}
	if pg.Slot == "" {
		pg.Slot = defaultSlotName(conn.Name)
	}
	if pg.Publication == "" {
		pg.Publication = defaultSlotName(conn.Name)
	}
}

// defaultSlotName makes a slot (and publication) name from a connector name: PostgreSQL allows
// only lowercase letters, digits and underscores in slot names, at most 63 bytes.
func defaultSlotName(connector string) string {
	var b strings.Builder
	b.WriteString("cdcd_")
	for _, r := range strings.ToLower(connector) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 63 {
		name = name[:63]
	}
	return name
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
	if (c.API.TLSCert == "") != (c.API.TLSKey == "") {
		add("api: tls_cert and tls_key go together")
	}
	seen := map[string]bool{}
	// The postgres connectors without a problem of their own, whose slot and publication
	// names are compared pairwise.
	var pgConns []postgres.Config
	for i, conn := range c.Connectors {
		// The path, as decoding names it, so that every problem of the file reads alike.
		where := fmt.Sprintf("connectors[%d]", i)
		if conn.Name != "" && seen[conn.Name] {
			add("%s.name: %q is used twice", where, conn.Name)
		}
		seen[conn.Name] = true
		errs := validateConnector(conn)
		for _, fe := range errs {
			if fe.Name == "" {
				add("%s: %s", where, fe.Message)
			} else {
				add("%s.%s: %s", where, fe.Name, fe.Message)
			}
		}
		if len(errs) == 0 && conn.Postgres != nil {
			pgConns = append(pgConns, postgresConfig(conn, zerolog.Nop()))
		}
	}
	for i, a := range pgConns {
		for _, b := range pgConns[i+1:] {
			if err := postgres.NameCollision(a, b); err != nil {
				add("%s", strings.TrimPrefix(err.Error(), postgres.ErrNameCollision.Error()+": "))
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
	if known := formats("", nil); conn.Format != "" {
		if _, err := known.Lookup(conn.Format); err != nil {
			add("format", "%q is not a known format (%s)", conn.Format, strings.Join(known.Names(), ", "))
		}
	}
	if conn.ErrorPolicy != "" {
		if _, err := pipeline.ParsePolicy(conn.ErrorPolicy); err != nil {
			add("error_policy", "%q is not fail, dlq or skip", conn.ErrorPolicy)
		}
	}
	if conn.DLQTopic != "" && conn.ErrorPolicy != "dlq" {
		add("dlq_topic", "is only used with error_policy dlq")
	}
	switch conn.Type {
	case "postgres":
		if conn.Postgres == nil {
			add("postgres", "a postgres connector needs its postgres section")
			break
		}
		pg := conn.Postgres
		if pg.Host == "" || pg.User == "" || pg.Database == "" {
			add("postgres", "host, user and database are needed")
		}
		checkText("postgres", map[string]string{"host": pg.Host, "user": pg.User, "database": pg.Database}, add)
		if pg.SSLMode != "" && !slices.Contains(postgres.SSLModes, pg.SSLMode) {
			add("postgres.sslmode", "%q is not one of %s", pg.SSLMode, strings.Join(postgres.SSLModes, ", "))
		}
		checkList("postgres.tables", pg.Tables, add)
		if pg.Port < 1 || pg.Port > 65535 {
			add("postgres.port", "%d is not a TCP port", pg.Port)
		}
		if pg.Streaming != "" && pg.Streaming != "on" && pg.Streaming != "off" {
			add("postgres.streaming", "%q is not on or off", pg.Streaming)
		}
		if _, ok := snapshotModes[pg.SnapshotMode]; !ok {
			add("postgres.snapshot_mode", "%q is not initial, initial_only, no_data, when_needed or always", pg.SnapshotMode)
		}
		checkSourceShared("postgres", pg.SnapshotChunkRows, pg.SnapshotChunkBytes, pg.IncrementalSnapshotChunkRows, pg.HeartbeatInterval, add)
		if pg.SnapshotMaxThreads < 0 || pg.SnapshotMaxThreads > postgres.MaxSnapshotMaxThreads {
			add("postgres.snapshot_max_threads", "%d is not 0 to %d", pg.SnapshotMaxThreads, postgres.MaxSnapshotMaxThreads)
		}
		if pg.ReplayWindow != "" {
			if d, err := time.ParseDuration(pg.ReplayWindow); err != nil || d < 0 {
				add("postgres.replay_window", "%q is not a duration like 10m", pg.ReplayWindow)
			}
		}
		if _, ok := publicationGaps[pg.PublicationGap]; !ok {
			add("postgres.publication_gap", "%q is not resnapshot or fail", pg.PublicationGap)
		}
		if pg.PublicationCheckInterval != "" {
			if d, err := time.ParseDuration(pg.PublicationCheckInterval); err != nil ||
				d < postgres.MinPublicationCheckInterval || d > postgres.MaxPublicationCheckInterval {
				add("postgres.publication_check_interval", "%q is not a duration from %s to %s like 5s",
					pg.PublicationCheckInterval, postgres.MinPublicationCheckInterval, postgres.MaxPublicationCheckInterval)
			}
		}
	case "mysql":
		if conn.MySQL == nil {
			add("mysql", "a mysql connector needs its mysql section")
			break
		}
		my := conn.MySQL
		if my.Host == "" || my.User == "" {
			add("mysql", "host and user are needed")
		}
		checkText("mysql", map[string]string{"host": my.Host, "user": my.User}, add)
		checkList("mysql.databases", my.Databases, add)
		checkList("mysql.tables", my.Tables, add)
		if my.Port < 1 || my.Port > 65535 {
			add("mysql.port", "%d is not a TCP port", my.Port)
		}
		if _, ok := mysqlSnapshotModes[my.SnapshotMode]; !ok {
			add("mysql.snapshot_mode", "%q is not initial, initial_only, no_data, when_needed or always", my.SnapshotMode)
		}
		checkSourceShared("mysql", my.SnapshotChunkRows, my.SnapshotChunkBytes, my.IncrementalSnapshotChunkRows, my.HeartbeatInterval, add)
	case "":
		add("type", "needed (%s)", strings.Join(connectorTypes, " or "))
	default:
		add("type", "%s", unknownType(conn.Type))
	}
	if slices.Contains(connectorTypes, conn.Type) {
		// Only with a known type does "the other section" mean something.
		for _, other := range otherSections(conn) {
			add(other, "is the section of a %s connector, this one is %s: keep only the %s section", other, conn.Type, conn.Type)
		}
	}
	errs = append(errs, checkSchemaQualified(conn)...)
	return errs
}

// checkSourceShared checks the settings both source sections have, named under section.
func checkSourceShared(section string, chunkRows int, chunkBytes int64, incrementalRows int, heartbeat string,
	add func(key, format string, args ...any)) {
	if chunkRows < 0 {
		add(section+".snapshot_chunk_rows", "cannot be negative")
	}
	if chunkBytes != 0 && (chunkBytes < connectors.MinSnapshotChunkBytes || chunkBytes > connectors.MaxSnapshotChunkBytes) {
		add(section+".snapshot_chunk_bytes", "%d is not 0 (16 MiB) or %d to %d bytes", chunkBytes,
			connectors.MinSnapshotChunkBytes, connectors.MaxSnapshotChunkBytes)
	}
	if incrementalRows < 0 {
		add(section+".incremental_snapshot_chunk_rows", "cannot be negative")
	}
	if heartbeat != "" {
		d, err := time.ParseDuration(heartbeat)
		if err != nil || d < 0 || d > 0 && d < connectors.MinHeartbeatInterval {
			add(section+".heartbeat_interval", "%q is not 0 (off) or a duration of at least %s like 10s",
				heartbeat, connectors.MinHeartbeatInterval)
		}
	}
}

// Length limits of names that become parts of Kafka topic names (249 characters at most).
const (
	// maxNameLength leaves room for the default schema history topic, <name>.schema-history.
	maxNameLength = 200
	// maxTopicPrefixLength keeps __debezium-heartbeat.<topic_prefix> within 249 characters.
	maxTopicPrefixLength = 249 - len("__debezium-heartbeat.")
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

// checkText refuses a control character (a newline, say) in a source's connection settings:
// they go into connection strings and logs, where one would cut or forge a line. The host is
// checked as a host name or address.
func checkText(section string, fields map[string]string, add func(key, format string, args ...any)) {
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		v := fields[key]
		if key == "host" {
			if v != "" {
				if err := connectors.CheckHost(v); err != nil {
					add(section+".host", "%s", err)
				}
			}
			continue
		}
		if strings.ContainsFunc(v, unicode.IsControl) {
			add(section+"."+key, "%q holds a control character", v)
		}
	}
}

// checkList refuses an empty entry in a list of names (`a,,b` over the API) and one listed twice.
func checkList(key string, items []string, add func(key, format string, args ...any)) {
	seen := make(map[string]bool, len(items))
	for i, item := range items {
		switch {
		case strings.TrimSpace(item) == "":
			add(key, "entry %d is empty (two commas in a row?)", i+1)
		case strings.ContainsFunc(item, unicode.IsControl):
			add(key, "%q holds a control character", item)
		case seen[item]:
			add(key, "%q is listed twice", item)
		}
		seen[item] = true
	}
}
