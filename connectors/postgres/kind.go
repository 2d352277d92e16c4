package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/snapshot"
)

// Kind is the postgres connector kind (connectors.Kind): its section of a connector's
// configuration is a Section.
type Kind struct{}

var _ connectors.Kind = Kind{}

// Section is a postgres connector's section of the configuration (postgres: in the config
// file, postgres.<key> over the REST API); docs/configuration.md describes every key.
type Section struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	Database string `json:"database"`
	// SSLMode is libpq's sslmode: disable, allow, prefer, require, verify-ca, verify-full.
	SSLMode string `json:"sslmode"`
	// SSLRootCert is libpq's sslrootcert: the PEM file of the CAs the server's certificate
	// must chain to (verify-ca, verify-full), or "system"; empty: the system's roots.
	SSLRootCert string `json:"sslrootcert"`
	// SSLCert and SSLKey are the client certificate and key (PEM files), for a server that
	// asks for one; both or neither.
	SSLCert string `json:"sslcert"`
	SSLKey  string `json:"sslkey"`
	// SSLPassword is the passphrase of an encrypted sslkey (a secret: masked by the API).
	SSLPassword string `json:"sslpassword"`
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
	// HeartbeatHost is the primary ("host:port") that heartbeats (and, on a standby, the
	// running-xacts records a slot's creation waits for) are written on, when host is a hot
	// standby; empty: host.
	HeartbeatHost string `json:"heartbeat_host"`
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
	// PublishGeneratedColumns publishes stored generated columns (PostgreSQL 18's
	// publish_generated_columns = stored), in the stream and the snapshot alike; false (the
	// default) leaves the publication's setting as it is.
	PublishGeneratedColumns bool `json:"publish_generated_columns"`
	// Hosts are more servers ("host:port") tried after host, for the one that accepts
	// writes: the standbys a failover may promote (see Config.Hosts).
	Hosts []string `json:"hosts"`
	// MessagePrefixes are the prefixes of the transactional logical decoding messages
	// (pg_logical_emit_message(true, prefix, content)) emitted as changes, e.g. ["outbox"] for
	// the outbox router; empty: none.
	MessagePrefixes []string `json:"message_prefixes"`
	// IncludeUnknownDatatypes, as Debezium's include.unknown.datatypes: a column of a type no
	// mapping knows is emitted as its text, its type named in the schema (true, the default),
	// or stops the connector (false).
	IncludeUnknownDatatypes *bool `json:"include_unknown_datatypes"`
	// HStoreHandlingMode, as Debezium's hstore.handling.mode: json (the default: a JSON object
	// in a string) or map (a map of strings).
	HStoreHandlingMode string `json:"hstore_handling_mode"`
}

// sectionHStoreModes maps the section's hstore_handling_mode values to the decoder's modes
// ("" is the default).
var sectionHStoreModes = map[string]decoder.HStoreMode{"": decoder.HStoreJSON, "json": decoder.HStoreJSON, "map": decoder.HStoreMap}

// Name is "postgres".
func (Kind) Name() string { return "postgres" }

// Aliases are Debezium's connector class, its simple name, and "postgresql".
func (Kind) Aliases() []string {
	return []string{"io.debezium.connector.postgresql.PostgresConnector", "PostgresConnector", "postgresql"}
}

// section returns s's section; a Kind is only asked about connectors that have one.
func section(s connectors.Settings) *Section { return s.Section.(*Section) }

// Defaults sets the port, and the slot and publication, which default to cdcd_<name>.
func (Kind) Defaults(s connectors.Settings) {
	pg := section(s)
	if pg.Port == 0 {
		pg.Port = DefaultPort
	}
	if pg.Slot == "" {
		pg.Slot = DefaultSlotName(s.Name)
	}
	if pg.Publication == "" {
		pg.Publication = DefaultSlotName(s.Name)
	}
}

// DefaultSlotName makes a slot (and publication) name from a connector name: PostgreSQL allows
// only lowercase letters, digits and underscores in slot names, at most 63 bytes.
func DefaultSlotName(connector string) string {
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

// sectionSnapshotModes maps the section's snapshot_mode values to the source's modes ("" is
// the default).
var sectionSnapshotModes = map[string]SnapshotMode{
	"":             SnapshotInitial,
	"initial":      SnapshotInitial,
	"initial_only": SnapshotInitialOnly,
	"no_data":      SnapshotNoData,
	"when_needed":  SnapshotWhenNeeded,
	"always":       SnapshotAlways,
}

// sectionPublicationGaps maps the section's publication_gap values to the source's policies
// ("" is the default).
var sectionPublicationGaps = map[string]PublicationGapPolicy{
	"": PublicationGapResnapshot, "resnapshot": PublicationGapResnapshot, "fail": PublicationGapFail,
}

// Validate checks every key of the section.
func (Kind) Validate(s connectors.Settings) []connectors.FieldError {
	var errs []connectors.FieldError
	add := connectors.Collector(&errs)
	pg := section(s)
	if pg.Host == "" || pg.User == "" || pg.Database == "" {
		add("postgres", "host, user and database are needed")
	}
	connectors.CheckText("postgres", map[string]string{"host": pg.Host, "user": pg.User, "database": pg.Database}, add)
	if _, ok := sectionHStoreModes[pg.HStoreHandlingMode]; !ok {
		add("postgres.hstore_handling_mode", "%q is not json or map", pg.HStoreHandlingMode)
	}
	if pg.SSLMode != "" && !slices.Contains(SSLModes, pg.SSLMode) {
		add("postgres.sslmode", "%q is not one of %s", pg.SSLMode, strings.Join(SSLModes, ", "))
	}
	for _, fe := range checkTLSFiles(pg.SSLMode, pg.SSLRootCert, pg.SSLCert, pg.SSLKey) {
		add(fe.Key, "%s", fe.Message)
	}
	connectors.CheckList("postgres.tables", pg.Tables, add)
	connectors.CheckPort("postgres.port", pg.Port, add)
	if pg.Streaming != "" && pg.Streaming != "on" && pg.Streaming != "off" {
		add("postgres.streaming", "%q is not on or off", pg.Streaming)
	}
	if _, ok := sectionSnapshotModes[pg.SnapshotMode]; !ok {
		add("postgres.snapshot_mode", "%q is not initial, initial_only, no_data, when_needed or always", pg.SnapshotMode)
	}
	connectors.CheckSnapshotShared("postgres", pg.SnapshotChunkRows, pg.SnapshotChunkBytes, pg.IncrementalSnapshotChunkRows, pg.HeartbeatInterval, add)
	if pg.SnapshotMaxThreads < 0 || pg.SnapshotMaxThreads > MaxSnapshotMaxThreads {
		add("postgres.snapshot_max_threads", "%d is not 0 to %d", pg.SnapshotMaxThreads, MaxSnapshotMaxThreads)
	}
	if pg.ReplayWindow != "" {
		if d, err := time.ParseDuration(pg.ReplayWindow); err != nil || d < 0 {
			add("postgres.replay_window", "%q is not a duration like 10m", pg.ReplayWindow)
		}
	}
	if _, ok := sectionPublicationGaps[pg.PublicationGap]; !ok {
		add("postgres.publication_gap", "%q is not resnapshot or fail", pg.PublicationGap)
	}
	if pg.PublicationCheckInterval != "" {
		if d, err := time.ParseDuration(pg.PublicationCheckInterval); err != nil ||
			d < MinPublicationCheckInterval || d > MaxPublicationCheckInterval {
			add("postgres.publication_check_interval", "%q is not a duration from %s to %s like 5s",
				pg.PublicationCheckInterval, MinPublicationCheckInterval, MaxPublicationCheckInterval)
		}
	}
	for _, t := range pg.Tables {
		connectors.CheckQualified("postgres.tables", t, "schema", "public", add)
	}
	connectors.CheckQualified("postgres.signal_table", pg.SignalTable, "schema", "public", add)
	checkMessagePrefixes(pg.MessagePrefixes, add)
	return errs
}

// Conflict refuses two connectors with one slot or publication (NameCollision).
func (Kind) Conflict(a, b connectors.Settings) *connectors.Conflict {
	err := NameCollision(SourceConfig(a, connectors.Env{}), SourceConfig(b, connectors.Env{}))
	if err == nil {
		return nil
	}
	return &connectors.Conflict{Key: "postgres.slot",
		Message: strings.TrimPrefix(err.Error(), ErrNameCollision.Error()+": "),
		Hint:    "give this connector postgres.slot and postgres.publication of its own"}
}

// Origin is connector postgresql, in the one database the connector captures.
func (Kind) Origin(s connectors.Settings) connectors.Origin {
	return connectors.Origin{Source: SourceBlock, Database: section(s).Database}
}

// Open opens the source.
func (Kind) Open(ctx context.Context, s connectors.Settings, env connectors.Env) (connectors.Source, error) {
	pc := SourceConfig(s, env)
	return Open(ctx, pc)
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

// Leftovers names (or, with purge, drops) the replication slot, which keeps WAL until
// dropped, and the publication when cdcd named it (a publication the configuration names may
// serve others: it is kept).
func (k Kind) Leftovers(ctx context.Context, s connectors.Settings, env connectors.Env, purge bool) (connectors.Leftovers, error) {
	pc := SourceConfig(s, env)
	pub := PublicationKeep
	if k.cdcdNamedPublication(s) {
		pub = PublicationDrop
	}
	kept := Leftovers(pc, pub)
	if !purge {
		return connectors.Leftovers{Kept: kept, Message: fmt.Sprintf("replication slot %s keeps WAL on PostgreSQL until dropped: "+
			"delete with ?purge=true (cdcd connectors delete --purge) or drop it as shown", pc.Slot)}, nil
	}
	dropped, err := Purge(ctx, pc, pub)
	if err != nil {
		return connectors.Leftovers{Dropped: dropped, Kept: kept[len(dropped):]}, err
	}
	l := connectors.Leftovers{Dropped: dropped}
	if pub == PublicationKeep {
		l.Message = fmt.Sprintf("publication %s, named in the configuration, is kept", pc.Publication)
	}
	return l, nil
}

// cdcdNamedPublication tells whether the connector's publication has the name cdcd gives one
// the configuration does not name: cdcd created it and may drop it.
func (k Kind) cdcdNamedPublication(s connectors.Settings) bool {
	pg := *section(s)
	pg.Publication = ""
	probe := s
	probe.Section = &pg
	k.Defaults(probe)
	return pg.Publication == section(s).Publication
}

// permanentErrors are the sentinels of the failures a restart from the same position meets
// again: a released or invalid position, a broken protocol, an invalidated slot.
var permanentErrors = []error{ErrBadPosition, ErrPositionReleased, ErrResumeTxMissing, ErrProtocol, ErrSlotInvalidated}

// PermanentErrors returns the sentinels markPermanent marks.
func (Kind) PermanentErrors() []error { return slices.Clone(permanentErrors) }

// StreamError is what Stream's deferred boundary applies to the error it returns.
func (Kind) StreamError(err error) error {
	return connectors.PrefixOnce("postgres source: ", markPermanent(err))
}

// SourceConfig is the source configuration of a valid postgres connector.
func SourceConfig(s connectors.Settings, env connectors.Env) Config {
	pg := section(s)
	streaming := StreamingOn
	if pg.Streaming == "off" {
		streaming = StreamingOff
	}
	// Validated: the durations parse.
	window, _ := time.ParseDuration(pg.ReplayWindow)
	heartbeat, _ := time.ParseDuration(pg.HeartbeatInterval)
	pubCheck, _ := time.ParseDuration(pg.PublicationCheckInterval)
	routing := PartitionsViaRoot
	if pg.PublishViaPartitionRoot != nil && !*pg.PublishViaPartitionRoot {
		routing = PartitionsViaLeaves
	}
	progress, _ := env.Progress.(*snapshot.Board)
	unknown := decoder.UnknownTypesAsText
	if pg.IncludeUnknownDatatypes != nil && !*pg.IncludeUnknownDatatypes {
		unknown = decoder.UnknownTypesFail
	}
	return Config{
		Host:        pg.Host,
		Port:        uint16(pg.Port),
		Hosts:       pg.Hosts,
		SSLMode:     pg.SSLMode,
		SSLRootCert: pg.SSLRootCert,
		SSLCert:     pg.SSLCert,
		SSLKey:      pg.SSLKey,
		SSLPassword: pg.SSLPassword,
		User:        pg.User,
		Password:    pg.Password,
		Database:    pg.Database,
		Slot:        pg.Slot,
		Publication: pg.Publication,
		Connector:   s.Name,
		Tables:      pg.Tables,
		Streaming:   streaming,
		SpillDir:    pg.SpillDir,
		// Validated: the map holds every accepted value.
		SnapshotMode:         sectionSnapshotModes[pg.SnapshotMode],
		SnapshotChunkRows:    pg.SnapshotChunkRows,
		SnapshotChunkBytes:   pg.SnapshotChunkBytes,
		SnapshotMaxThreads:   pg.SnapshotMaxThreads,
		SignalTable:          pg.SignalTable,
		IncrementalChunkRows: pg.IncrementalSnapshotChunkRows,
		ReplayWindow:         window,
		HeartbeatInterval:    heartbeat,
		HeartbeatHost:        pg.HeartbeatHost,
		TopicPrefix:          s.TopicPrefix,
		HeartbeatTopic:       DefaultHeartbeatTopic(s.TopicPrefix),
		MessagePrefixes:      pg.MessagePrefixes,
		Logger:               env.Logger.With().Str("connector", s.Name).Logger(),
		Progress:             progress,

		// Validated: the map holds every accepted value.
		PublicationGap:           sectionPublicationGaps[pg.PublicationGap],
		PublicationCheckInterval: pubCheck,
		PartitionRouting:         routing,
		PublishGeneratedColumns:  pg.PublishGeneratedColumns,
		SkippedOperations:        s.SkippedOperations,
		UnknownTypes:             unknown,
		// Validated: the map holds every accepted value.
		HStoreMode: sectionHStoreModes[pg.HStoreHandlingMode],
	}
}
