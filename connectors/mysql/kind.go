package mysql

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/snapshot"
)

// Kind is the mysql connector kind (connectors.Kind), for MySQL and MariaDB: its section of a
// connector's configuration is a Section.
type Kind struct{}

var _ connectors.Kind = Kind{}

// Section is a mysql connector's section of the configuration (mysql: in the config file,
// mysql.<key> over the REST API); docs/configuration.md describes every key.
type Section struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	// SSLMode is disabled, preferred (the default: TLS when the server offers it, not
	// verified), required, verify_ca or verify_identity, as MySQL's --ssl-mode.
	SSLMode string `json:"ssl_mode"`
	// SSLCA is the PEM file of the CAs the server's certificate must chain to; empty: the
	// system's roots.
	SSLCA string `json:"ssl_ca"`
	// SSLCert and SSLKey are the client certificate and key (PEM files); both or neither.
	SSLCert string `json:"ssl_cert"`
	SSLKey  string `json:"ssl_key"`
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

// Name is "mysql".
func (Kind) Name() string { return "mysql" }

// Aliases are Debezium's MySQL and MariaDB connector classes, their simple names, and
// "mariadb".
func (Kind) Aliases() []string {
	return []string{"io.debezium.connector.mysql.MySqlConnector", "MySqlConnector",
		"io.debezium.connector.mariadb.MariaDbConnector", "MariaDbConnector", "mariadb"}
}

// section returns s's section; a Kind is only asked about connectors that have one.
func section(s connectors.Settings) *Section { return s.Section.(*Section) }

// Defaults sets the port.
func (Kind) Defaults(s connectors.Settings) {
	if my := section(s); my.Port == 0 {
		my.Port = DefaultPort
	}
}

// sectionSnapshotModes maps the section's snapshot_mode values to the source's modes (""
// is the default).
var sectionSnapshotModes = map[string]SnapshotMode{
	"": SnapshotInitial, "initial": SnapshotInitial, "initial_only": SnapshotInitialOnly,
	"no_data": SnapshotNoData, "when_needed": SnapshotWhenNeeded, "always": SnapshotAlways,
}

// Validate checks every key of the section.
func (Kind) Validate(s connectors.Settings) []connectors.FieldError {
	var errs []connectors.FieldError
	add := connectors.Collector(&errs)
	my := section(s)
	if my.Host == "" || my.User == "" {
		add("mysql", "host and user are needed")
	}
	connectors.CheckText("mysql", map[string]string{"host": my.Host, "user": my.User}, add)
	connectors.CheckList("mysql.databases", my.Databases, add)
	connectors.CheckList("mysql.tables", my.Tables, add)
	connectors.CheckPort("mysql.port", my.Port, add)
	for _, fe := range checkTLS(my.SSLMode, my.SSLCA, my.SSLCert, my.SSLKey) {
		add(fe.Key, "%s", fe.Message)
	}
	if _, ok := sectionSnapshotModes[my.SnapshotMode]; !ok {
		add("mysql.snapshot_mode", "%q is not initial, initial_only, no_data, when_needed or always", my.SnapshotMode)
	}
	connectors.CheckSnapshotShared("mysql", my.SnapshotChunkRows, my.SnapshotChunkBytes, my.IncrementalSnapshotChunkRows, my.HeartbeatInterval, add)
	example := "shop"
	if len(my.Databases) > 0 {
		example = my.Databases[0]
	}
	for _, t := range my.Tables {
		connectors.CheckQualified("mysql.tables", t, "database", example, add)
	}
	connectors.CheckQualified("mysql.signal_table", my.SignalTable, "database", example, add)
	return errs
}

// Conflict is nil: two mysql connectors share nothing on the server.
func (Kind) Conflict(_, _ connectors.Settings) *connectors.Conflict { return nil }

// Origin is connector mysql; each change names its database.
func (Kind) Origin(connectors.Settings) connectors.Origin {
	return connectors.Origin{Source: SourceBlock}
}

// Open opens the source.
func (Kind) Open(ctx context.Context, s connectors.Settings, env connectors.Env) (connectors.Source, error) {
	return Open(ctx, SourceConfig(s, env))
}

// CheckOffset is CheckResume; a position it refuses or cannot read is a
// connectors.PositionError.
func (Kind) CheckOffset(ctx context.Context, s connectors.Settings, env connectors.Env, pos offsets.Position) error {
	err := CheckResume(ctx, SourceConfig(s, env), pos)
	if errors.Is(err, ErrNotResumable) || errors.Is(err, ErrBadPosition) {
		return &connectors.PositionError{Err: err}
	}
	return err
}

// Signal inserts an execute-snapshot row into the signal table.
func (Kind) Signal(ctx context.Context, s connectors.Settings, env connectors.Env, id string, tables []string) error {
	return Signal(ctx, SourceConfig(s, env), id, tables)
}

// Leftovers is nothing: a MySQL connector's binlog position is in Kafka.
func (Kind) Leftovers(context.Context, connectors.Settings, connectors.Env, bool) (connectors.Leftovers, error) {
	return connectors.Leftovers{Message: "a MySQL connector keeps nothing on the server (its binlog position is in Kafka): nothing to drop"}, nil
}

// PermanentErrors returns the sentinels markPermanent marks (see permanent; the server's
// refusal of a binlog dump, error 1236, is marked too).
func (Kind) PermanentErrors() []error { return slices.Clone(permanentErrors) }

// StreamError is what Stream's deferred boundary applies to the error it returns.
func (Kind) StreamError(err error) error {
	return connectors.PrefixOnce("mysql source: ", markPermanent(err))
}

// SourceConfig is the source configuration of a valid mysql connector.
func SourceConfig(s connectors.Settings, env connectors.Env) Config {
	my := section(s)
	ddl := UnparseableDDLFail
	if my.SkipUnparseableDDL {
		ddl = UnparseableDDLSkip
	}
	// Validated: the duration parses.
	heartbeat, _ := time.ParseDuration(my.HeartbeatInterval)
	progress, _ := env.Progress.(*snapshot.Board)
	return Config{
		Name:      s.Name,
		Host:      my.Host,
		Port:      uint16(my.Port),
		User:      my.User,
		Password:  my.Password,
		SSLMode:   my.SSLMode,
		SSLCA:     my.SSLCA,
		SSLCert:   my.SSLCert,
		SSLKey:    my.SSLKey,
		ServerID:  my.ServerID,
		Databases: my.Databases,
		Tables:    my.Tables,
		// The schema history topic lives in the same Kafka as the connector's records.
		History:              env.History,
		HistoryTopic:         my.HistoryTopic,
		UnparseableDDL:       ddl,
		SnapshotMode:         sectionSnapshotModes[my.SnapshotMode],
		SnapshotChunkRows:    my.SnapshotChunkRows,
		SnapshotChunkBytes:   my.SnapshotChunkBytes,
		SignalTable:          my.SignalTable,
		IncrementalChunkRows: my.IncrementalSnapshotChunkRows,
		HeartbeatInterval:    heartbeat,
		TopicPrefix:          s.TopicPrefix,
		HeartbeatTopic:       connectors.HeartbeatTopic(s.TopicPrefix),
		Logger:               env.Logger.With().Str("connector", s.Name).Logger(),
		Progress:             progress,
	}
}
