package postgres

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
)

// PublicationPolicy says what Open does when the configured publication does not exist.
type PublicationPolicy uint8

// The publication policies.
const (
	// PublicationCreateMissing creates the publication when it does not exist: FOR TABLE the
	// configured tables, or FOR ALL TABLES when none is configured. The default.
	PublicationCreateMissing PublicationPolicy = iota
	// PublicationMustExist fails Open when the publication does not exist, for setups where a
	// DBA owns the publication.
	PublicationMustExist
)

// String names the policy as configuration files spell it.
func (p PublicationPolicy) String() string {
	switch p {
	case PublicationCreateMissing:
		return "create"
	case PublicationMustExist:
		return "must-exist"
	default:
		return "PublicationPolicy(" + strconv.Itoa(int(p)) + ")"
	}
}

// StreamingMode says whether the server streams a large transaction while it is in progress.
type StreamingMode uint8

// The streaming modes.
const (
	// StreamingOn asks pgoutput to stream a transaction in chunks once its decoded changes
	// exceed the server's logical_decoding_work_mem, before it commits. The source spills the
	// chunks to files in Config.SpillDir and replays each transaction at its commit, so the
	// pipeline still sees whole transactions in commit order, while the server neither spills
	// to its own disk nor holds the whole transaction until its commit is decoded. The default.
	StreamingOn StreamingMode = iota
	// StreamingOff has the server decode each transaction whole and send it after its commit,
	// spilling a large one to its own disk (pg_replslot) meanwhile.
	StreamingOff
)

// String names the mode as configuration files spell it.
func (m StreamingMode) String() string {
	switch m {
	case StreamingOn:
		return "on"
	case StreamingOff:
		return "off"
	default:
		return "StreamingMode(" + strconv.Itoa(int(m)) + ")"
	}
}

// SnapshotMode says whether Stream reads the captured tables' existing rows before it streams
// their changes.
type SnapshotMode uint8

// The snapshot modes.
const (
	// SnapshotInitial snapshots the captured tables when Stream starts from the zero Position
	// (no stored offset), then streams from exactly the point the snapshot saw. The default.
	SnapshotInitial SnapshotMode = iota
	// SnapshotInitialOnly snapshots as SnapshotInitial does and then streams nothing: Stream
	// waits for its context to end. The slot is a temporary one that lives only as long as the
	// snapshot's first read, so no WAL is kept for a stream that never comes.
	SnapshotInitialOnly
	// SnapshotNoData never snapshots: Stream streams changes from the slot only.
	SnapshotNoData
	// SnapshotWhenNeeded snapshots as SnapshotInitial does, and also when the stored position
	// can no longer be resumed (the slot is gone, or its confirmed flush LSN is past the
	// position): it warns, creates the slot anew with an exported snapshot, snapshots, and
	// streams from there, instead of failing with ErrPositionReleased.
	SnapshotWhenNeeded
	// SnapshotAlways snapshots once at each start of the Source (each Open), as SnapshotWhenNeeded
	// would on a lost position: a stored snapshot in progress is resumed rather than started
	// again, and a later Stream of the same Source (a retry) whose stored position is at or
	// past the end of that snapshot streams. See the package documentation.
	SnapshotAlways
)

// String names the mode as configuration files spell it (Debezium's snapshot.mode values).
func (m SnapshotMode) String() string {
	switch m {
	case SnapshotInitial:
		return "initial"
	case SnapshotInitialOnly:
		return "initial_only"
	case SnapshotNoData:
		return "no_data"
	case SnapshotWhenNeeded:
		return "when_needed"
	case SnapshotAlways:
		return "always"
	default:
		return "SnapshotMode(" + strconv.Itoa(int(m)) + ")"
	}
}

// The defaults, in one place.
const (
	// DefaultPort is PostgreSQL's port.
	DefaultPort = 5432
	// DefaultStatusInterval is how often a standby status goes out when nothing else sends
	// one; well under the server's default wal_sender_timeout of 60 s.
	DefaultStatusInterval = 10 * time.Second
	// DefaultConnectTimeout bounds each connection attempt.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultSnapshotChunkRows is how many rows one snapshot chunk (one source transaction)
	// holds.
	DefaultSnapshotChunkRows = 10000
	// DefaultSnapshotChunkBytes is the byte budget of one snapshot chunk, initial or
	// incremental: 16 MiB.
	DefaultSnapshotChunkBytes = connectors.DefaultSnapshotChunkBytes
	// DefaultIncrementalChunkRows is how many rows one chunk of an incremental snapshot reads,
	// Debezium's incremental.snapshot.chunk.size default.
	DefaultIncrementalChunkRows = 1024
	// DefaultSnapshotMaxThreads is how many connections read an initial snapshot: one, which
	// reads each chunk in turn.
	DefaultSnapshotMaxThreads = 1
	// MaxSnapshotMaxThreads bounds Config.SnapshotMaxThreads: each thread is a connection
	// (counted against max_connections) and holds a chunk in memory.
	MaxSnapshotMaxThreads = 16
	// DefaultSnapshotProgressEvery is how often the snapshot logs its progress.
	DefaultSnapshotProgressEvery = 5 * time.Second
	// DefaultSSLMode is libpq's default: TLS when the server offers it.
	DefaultSSLMode = "prefer"
	// minDecodingWorkMemKB and maxDecodingWorkMemKB are the bounds PostgreSQL puts on
	// logical_decoding_work_mem, in kB.
	minDecodingWorkMemKB = 64
	maxDecodingWorkMemKB = 2147483647
	// MinHeartbeatInterval bounds Config.HeartbeatInterval from below: each heartbeat is a
	// WAL record, a Kafka record and a Kafka transaction.
	MinHeartbeatInterval = connectors.MinHeartbeatInterval
	// DefaultHeartbeatTopicPrefix starts the default heartbeat topic's name, as Debezium's
	// topic.heartbeat.prefix default does.
	DefaultHeartbeatTopicPrefix = connectors.HeartbeatTopicPrefix
	// maxSnapshotChunkRows bounds a chunk, which is held in memory whole.
	maxSnapshotChunkRows = 1000000
)

// DefaultSpillDir returns the spill directory used when Config.SpillDir is empty: a folder
// named after the slot under os.TempDir().
func DefaultSpillDir(slot string) string {
	return filepath.Join(os.TempDir(), "cdcd-spill-"+slot)
}

// Config is a PostgreSQL source's configuration. Zero fields take the defaults above; Open
// validates the result. Its String never shows the password.
type Config struct {
	// Host is the server's host name or address. Required.
	Host string
	// Port is the server's port; 0 means DefaultPort.
	Port uint16
	// Hosts are more servers ("host:port", or a host with Port) tried after Host, in order,
	// for the first that accepts writes (target_session_attrs=read-write): the standbys that
	// may be promoted, so that after a failover cdcd reconnects to the new primary.
	Hosts []string
	// User is the role to connect as; it needs REPLICATION (or superuser). Required.
	User string
	// Password is User's password; empty for trust or peer authentication.
	Password string
	// Database is the database to capture. Required.
	Database string
	// SSLMode is libpq's sslmode (disable, allow, prefer, require, verify-ca, verify-full);
	// empty means DefaultSSLMode. It applies, with the files below, to every connection the
	// source opens: replication, catalog, snapshot and side connections.
	SSLMode string
	// SSLRootCert is libpq's sslrootcert: a PEM file of the certificate authorities that the
	// server's certificate must chain to (verify-ca, verify-full; require then verifies as
	// verify-ca, as libpq does), or "system" for the system's roots (and verify-full). Empty:
	// the system's roots.
	SSLRootCert string
	// SSLCert and SSLKey are libpq's sslcert and sslkey: the client certificate and its key,
	// PEM files, for a server that asks for one (pg_hba's clientcert, or cert
	// authentication). Both or neither.
	SSLCert, SSLKey string
	// SSLPassword is libpq's sslpassword: the passphrase of an encrypted SSLKey (PKCS#1 RSA
	// keys, as pgx reads them). Never logged nor quoted in errors.
	SSLPassword string
	// Slot is the logical replication slot's name: 1 to 63 lowercase letters, digits and
	// underscores, as PostgreSQL requires. Required.
	Slot string
	// Publication is the publication's name (letters, digits, underscores, at most 63 bytes).
	// Required.
	Publication string
	// Connector is the name of the connector this source belongs to. When set, a publication
	// Open creates records it as its owner (and Slot as its slot) in its comment, an existing
	// one without a comment is claimed so (PublicationCreateMissing only), and Open refuses a
	// publication or slot another connector's comment claims: see NameCollision. Empty: no
	// owner is recorded nor checked.
	Connector string
	// Tables are the captured tables, each "schema.table". Empty means all tables: a
	// publication cdcd creates is then FOR ALL TABLES, and an existing one is used as it is.
	Tables []string
	// PublicationPolicy says what happens when the publication is missing; the zero value is
	// PublicationCreateMissing.
	PublicationPolicy PublicationPolicy
	// PartitionRouting says whether a partitioned table's rows go to its own topic (the
	// publication publishes via the partition root) or to its partitions' topics, in the
	// snapshot and the stream alike; the zero value is PartitionsViaRoot. Open sets the
	// publication's publish_via_partition_root to match (PublicationCreateMissing), or fails
	// when it differs (PublicationMustExist).
	PartitionRouting PartitionRouting
	// PublishGeneratedColumns makes the publication publish stored generated columns
	// (PostgreSQL 18's publish_generated_columns = stored): set when cdcd creates it, ALTERed
	// on an existing one (PublicationCreateMissing), an error before 18 (see
	// ensureGeneratedColumns).
	PublishGeneratedColumns bool
	// PublicationGap says what a Stream does when a captured table leaves the publication (or
	// is removed and added back); the zero value is PublicationGapResnapshot.
	PublicationGap PublicationGapPolicy
	// PublicationCheckInterval is how often a Stream checks the publication, besides at each
	// Relation message; 0 means DefaultPublicationCheckInterval.
	PublicationCheckInterval time.Duration
	// StatusInterval is how often a standby status is sent when nothing else sends one; 0
	// means DefaultStatusInterval.
	StatusInterval time.Duration
	// ConnectTimeout bounds each connection attempt; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Streaming says whether the server streams large in-progress transactions; the zero
	// value is StreamingOn.
	Streaming StreamingMode
	// SpillDir is where streamed transactions wait for their commit, one file per
	// transaction. Open and each Stream delete the *.spill files in it: what they held is
	// received again. Empty means DefaultSpillDir(Slot).
	SpillDir string
	// DecodingWorkMemKB sets logical_decoding_work_mem, in kB, for this source's walsender:
	// the memory the server decodes a transaction in before it streams it (StreamingOn) or
	// spills it to its disk. 0 keeps the server's setting; otherwise 64 or more.
	DecodingWorkMemKB int
	// SnapshotMode says whether the existing rows are read first; the zero value is
	// SnapshotInitial.
	SnapshotMode SnapshotMode
	// SnapshotChunkRows is the number of rows per snapshot chunk, each one source transaction
	// and the unit a restart resumes from; 0 means DefaultSnapshotChunkRows.
	SnapshotChunkRows int
	// SnapshotChunkBytes caps the rows of a table's snapshot chunks (initial and incremental)
	// so that they hold about this many bytes decoded: a chunk holds min(SnapshotChunkRows,
	// SnapshotChunkBytes / the table's average row size) rows, at least one. The average is
	// sampled from the table's first rows before its first chunk and corrected from the rows
	// read; the limit only shrinks within a table. 0 means DefaultSnapshotChunkBytes; from
	// connectors.MinSnapshotChunkBytes to connectors.MaxSnapshotChunkBytes.
	SnapshotChunkBytes int64
	// SnapshotMaxThreads is how many worker connections read an initial snapshot's chunks
	// ahead of the one being emitted, in one shared snapshot (Debezium's snapshot.max.threads);
	// the chunks are emitted in the same order and with the same positions either way. Above
	// 1, the snapshot uses SnapshotMaxThreads+2 connections and holds up to
	// SnapshotMaxThreads+1 chunks in memory. 0 means DefaultSnapshotMaxThreads; at most
	// MaxSnapshotMaxThreads.
	SnapshotMaxThreads int
	// SignalTable is the signal table, "schema.table", with columns id, type and data (all
	// text), as Debezium's signal.data.collection: a row inserted with type execute-snapshot
	// starts an incremental snapshot of the tables its data names, stop-snapshot stops it.
	// It must be in the publication (a publication cdcd creates includes it); its rows are
	// not emitted. Empty means no signals.
	SignalTable string
	// IncrementalChunkRows is the number of rows per chunk of an incremental snapshot; 0
	// means DefaultIncrementalChunkRows.
	IncrementalChunkRows int
	// ReplayWindow keeps the slot's confirmed flush LSN this long behind what Kafka has
	// committed, so that the stored offset can be moved back (replayed) within it: the server
	// keeps the WAL of that window. 0 (the default) confirms every commit at once, as
	// Debezium does; a replay then can only move forward.
	ReplayWindow time.Duration
	// SnapshotProgressEvery is how often the snapshot logs its progress at info level; 0
	// means DefaultSnapshotProgressEvery.
	SnapshotProgressEvery time.Duration
	// SkippedOperations are the operations the pipeline does not write (skipped_operations,
	// pipeline.SkipOperations). An incremental snapshot's chunk keeps a row that a skipped
	// insert or update changed while the chunk was read: no record of that change will stand
	// for the row, so dropping the row from the chunk would leave it out of the snapshot.
	SkippedOperations []decoder.Op
	// Progress, when set, receives the snapshots' figures per table, for the status and
	// metrics.
	Progress *snapshot.Board
	// HeartbeatInterval is how often the Stream loop writes a heartbeat into the WAL (a
	// transactional logical decoding message, see the package documentation) and, when it
	// comes back through the slot, emits a record to HeartbeatTopic: the slot's confirmed
	// flush LSN then advances although no captured table is written, and the topic shows the
	// connector alive. 0 (the default, as Debezium's heartbeat.interval.ms) writes none;
	// otherwise at least MinHeartbeatInterval.
	HeartbeatInterval time.Duration
	// TopicPrefix is the connector's topic prefix: the heartbeat record's key names it
	// ({"serverName": TopicPrefix}, Debezium's heartbeat key). Required with heartbeats.
	TopicPrefix string
	// HeartbeatHost is the primary ("host:port", or a host with Port) the heartbeats are
	// written on, with the same credentials, database and TLS settings, for a connector whose
	// Host is a hot standby (which writes no WAL; its slot decodes the primary's messages as
	// they replay). It also receives the requests for running-xacts records that a slot's
	// creation on a standby waits for (hotstandby.go). Empty: heartbeats are written on Host.
	HeartbeatHost string
	// HeartbeatTopic is the topic of the heartbeat records; empty means
	// DefaultHeartbeatTopic(TopicPrefix). When heartbeats are on, the source declares it
	// (Source.Topics) and the engine creates it before Stream.
	HeartbeatTopic string
	// MessagePrefixes are the prefixes of the transactional logical decoding messages the
	// source emits as changes of op m (message.go); empty, the default: none.
	MessagePrefixes []string
	// UnknownTypes says what happens to a column of a type no mapping knows; the zero value,
	// decoder.UnknownTypesAsText, emits its text with the type's name in the schema and warns
	// once per column (include.unknown.datatypes true); decoder.UnknownTypesFail stops at it.
	UnknownTypes decoder.UnknownTypes
	// HStoreMode is how hstore columns are mapped; the zero value, decoder.HStoreJSON, is
	// Debezium's default hstore.handling.mode json.
	HStoreMode decoder.HStoreMode
	// warned holds the unmapped columns warned about, shared by the Source's decoders (set by
	// withDefaults), so that each is warned about once per Source.
	warned *typeWarnings
	// Logger receives the snapshot's progress; the zero Logger discards it.
	Logger zerolog.Logger
}

// withDefaults returns c with every zero field that has a default set to it.
func (c Config) withDefaults() Config {
	if c.warned == nil {
		c.warned = &typeWarnings{seen: map[decoder.UnmappedColumn]bool{}}
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.SSLMode == "" {
		c.SSLMode = DefaultSSLMode
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.PublicationCheckInterval == 0 {
		c.PublicationCheckInterval = DefaultPublicationCheckInterval
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.SnapshotChunkRows == 0 {
		c.SnapshotChunkRows = DefaultSnapshotChunkRows
	}
	if c.SnapshotMaxThreads == 0 {
		c.SnapshotMaxThreads = DefaultSnapshotMaxThreads
	}
	if c.SnapshotChunkBytes == 0 {
		c.SnapshotChunkBytes = DefaultSnapshotChunkBytes
	}
	if c.SnapshotProgressEvery == 0 {
		c.SnapshotProgressEvery = DefaultSnapshotProgressEvery
	}
	if c.IncrementalChunkRows == 0 {
		c.IncrementalChunkRows = DefaultIncrementalChunkRows
	}
	if c.HeartbeatTopic == "" && c.TopicPrefix != "" {
		c.HeartbeatTopic = DefaultHeartbeatTopic(c.TopicPrefix)
	}
	if c.SpillDir == "" && c.Slot != "" {
		c.SpillDir = DefaultSpillDir(c.Slot)
	}
	// One spelling per table ("public"."x" is public.x), the one positions and signals use.
	c.Tables = connectors.CanonicalTables(c.Tables)
	if c.SignalTable != "" {
		c.SignalTable = connectors.CanonicalTables([]string{c.SignalTable})[0]
	}
	return c
}

// SSLModes are libpq's sslmode values, the only ones the sslmode setting takes.
var SSLModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// validate rejects a configuration that cannot work, before any connection is tried. It
// expects withDefaults to have run.
func (c Config) validate() error {
	budgetErr := connectors.CheckChunkBytes("postgres", "snapshot chunk bytes", c.SnapshotChunkBytes)
	hbErr := connectors.CheckHeartbeat("postgres", c.HeartbeatInterval, c.TopicPrefix, c.HeartbeatTopic)
	pubErr := c.checkPublicationWatch()
	switch {
	case c.Host == "":
		return &ConfigError{Source: "postgres", Field: "host", Problem: "is empty", Fix: "set the server's host name or address"}
	case c.User == "":
		return &ConfigError{Source: "postgres", Field: "user", Problem: "is empty", Fix: "set a role with the REPLICATION attribute"}
	case c.Database == "":
		return &ConfigError{Source: "postgres", Field: "database", Problem: "is empty", Fix: "set the database to capture"}
	case !validSlotName(c.Slot):
		return &ConfigError{Source: "postgres", Field: "slot", Problem: fmt.Sprintf("%q is not a valid slot name", c.Slot),
			Fix: "use 1 to 63 lowercase letters, digits and underscores"}
	case !validIdentifier(c.Publication):
		return &ConfigError{Source: "postgres", Field: "publication", Problem: fmt.Sprintf("%q is not a valid publication name", c.Publication),
			Fix: "use 1 to 63 letters, digits and underscores, not starting with a digit"}
	case c.PublicationPolicy > PublicationMustExist:
		return &ConfigError{Source: "postgres", Field: "publication policy", Problem: c.PublicationPolicy.String() + " is not a policy",
			Fix: "use create or must-exist"}
	case c.StatusInterval < 0 || c.StatusInterval > time.Hour:
		return &ConfigError{Source: "postgres", Field: "status interval", Problem: c.StatusInterval.String() + " is out of range",
			Fix: "use a duration above 0 and below the server's wal_sender_timeout (60s by default)"}
	case c.ConnectTimeout < 0:
		return &ConfigError{Source: "postgres", Field: "connect timeout", Problem: c.ConnectTimeout.String() + " is negative",
			Fix: "use a positive duration"}
	case c.PartitionRouting > PartitionsViaLeaves:
		return &ConfigError{Source: "postgres", Field: "publish_via_partition_root", Problem: c.PartitionRouting.String() + " is not a routing",
			Fix: "use true (PartitionsViaRoot) or false (PartitionsViaLeaves)"}
	case c.Streaming > StreamingOff:
		return &ConfigError{Source: "postgres", Field: "streaming", Problem: c.Streaming.String() + " is not a streaming mode",
			Fix: "use on or off"}
	case c.SnapshotMode > SnapshotAlways:
		return &ConfigError{Source: "postgres", Field: "snapshot mode", Problem: c.SnapshotMode.String() + " is not a snapshot mode",
			Fix: "use initial, initial_only, no_data, when_needed or always"}
	case c.SnapshotChunkRows < 1 || c.SnapshotChunkRows > maxSnapshotChunkRows:
		return &ConfigError{Source: "postgres", Field: "snapshot chunk rows", Problem: fmt.Sprintf("%d is out of range", c.SnapshotChunkRows),
			Fix: fmt.Sprintf("use 1 to %d rows (each chunk is held in memory)", maxSnapshotChunkRows)}
	case budgetErr != nil:
		return budgetErr
	case c.SnapshotMaxThreads < 1 || c.SnapshotMaxThreads > MaxSnapshotMaxThreads:
		return &ConfigError{Source: "postgres", Field: "snapshot max threads", Problem: fmt.Sprintf("%d is out of range", c.SnapshotMaxThreads),
			Fix: fmt.Sprintf("use 1 (one connection reads) to %d", MaxSnapshotMaxThreads)}
	case c.IncrementalChunkRows < 1 || c.IncrementalChunkRows > maxSnapshotChunkRows:
		return &ConfigError{Source: "postgres", Field: "incremental snapshot chunk rows", Problem: fmt.Sprintf("%d is out of range", c.IncrementalChunkRows),
			Fix: fmt.Sprintf("use 1 to %d rows (each chunk is held in memory)", maxSnapshotChunkRows)}
	case c.SignalTable != "" && !validTableName(c.SignalTable):
		return &ConfigError{Source: "postgres", Field: "signal table", Problem: fmt.Sprintf("%q is not schema.table", c.SignalTable),
			Fix: "name the table with its schema, e.g. public.cdcd_signal"}
	case c.SignalTable != "" && slices.Contains(c.Tables, c.SignalTable):
		return &ConfigError{Source: "postgres", Field: "signal table", Problem: fmt.Sprintf("%s is also a captured table", c.SignalTable),
			Fix: "remove it from the tables: cdcd adds it to the publication itself, and its rows are not data"}
	case c.ReplayWindow < 0:
		return &ConfigError{Source: "postgres", Field: "replay window", Problem: c.ReplayWindow.String() + " is negative",
			Fix: "use 0 (no replay window) or a positive duration"}
	case c.SnapshotProgressEvery < 0:
		return &ConfigError{Source: "postgres", Field: "snapshot progress interval", Problem: c.SnapshotProgressEvery.String() + " is negative",
			Fix: "use a positive duration"}
	case hbErr != nil:
		return hbErr
	case pubErr != nil:
		return pubErr
	case c.DecodingWorkMemKB != 0 && (c.DecodingWorkMemKB < minDecodingWorkMemKB || c.DecodingWorkMemKB > maxDecodingWorkMemKB):
		return &ConfigError{Source: "postgres", Field: "decoding work mem", Problem: fmt.Sprintf("%d kB is out of range", c.DecodingWorkMemKB),
			Fix: "use 0 (the server's logical_decoding_work_mem) or 64 kB or more"}
	}
	if !slices.Contains(SSLModes, c.SSLMode) {
		return &ConfigError{Source: "postgres", Field: "sslmode", Problem: fmt.Sprintf("%q is not an sslmode", c.SSLMode),
			Fix: "use one of " + strings.Join(SSLModes, ", ")}
	}
	if fe := checkTLSFiles(c.SSLMode, c.SSLRootCert, c.SSLCert, c.SSLKey); len(fe) > 0 {
		return &ConfigError{Source: "postgres", Field: strings.TrimPrefix(fe[0].Key, "postgres."), Problem: fe[0].Message, Fix: "name readable PEM files (see docs/postgres.md, \"TLS\")"}
	}
	if err := connectors.CheckHost(c.Host); err != nil {
		return &ConfigError{Source: "postgres", Field: "host", Problem: err.Error(), Fix: "set the server's host name or address"}
	}
	if c.HeartbeatHost != "" {
		if h, _ := splitHostPort(c.HeartbeatHost, c.Port); connectors.CheckHost(h) != nil {
			return &ConfigError{Source: "postgres", Field: "heartbeat_host", Problem: fmt.Sprintf("%q is not host or host:port", c.HeartbeatHost),
				Fix: "name the primary as host:port, e.g. primary.example.com:5432"}
		}
	}
	seen := make(map[string]bool, len(c.Tables))
	for _, t := range c.Tables {
		if _, _, ok := splitTable(t); !ok {
			return &ConfigError{Source: "postgres", Field: "tables", Problem: fmt.Sprintf("%q is not schema.table", t),
				Fix: `name each table with its schema, e.g. public.orders; double-quote a name that holds a '.' or a ',', e.g. "my schema"."my.table" (each name at most 63 bytes)`}
		}
		if seen[t] {
			return &ConfigError{Source: "postgres", Field: "tables", Problem: fmt.Sprintf("%s is listed twice", t), Fix: "list each table once"}
		}
		seen[t] = true
	}
	return connectors.CheckTableTopics("postgres", c.Tables)
}

// String describes c for logs and errors, without the password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = ":***"
	}
	return fmt.Sprintf("postgres://%s%s@%s:%d/%s slot=%s publication=%s tables=[%s]",
		c.User, pw, c.Host, c.Port, c.Database, c.Slot, c.Publication, strings.Join(c.Tables, ","))
}

// GoString is String, so that %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

// validSlotName tells whether s is a name PostgreSQL accepts for a replication slot; such a
// name also needs no quoting in replication commands.
func validSlotName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_') {
			return false
		}
	}
	return true
}

// validIdentifier tells whether s is a name that, double-quoted, is a safe identifier both in
// SQL and in pgoutput's publication_names list.
func validIdentifier(s string) bool {
	if s == "" || len(s) > 63 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_') {
			return false
		}
	}
	return true
}

// validTableName tells whether s is "schema.table" (see connectors.SplitTable).
func validTableName(s string) bool {
	_, _, ok := splitTable(s)
	return ok
}

// splitTable splits "schema.table", each part plain or double-quoted (connectors.SplitTable),
// into its parts; both must be names PostgreSQL can hold.
func splitTable(s string) (schema, table string, ok bool) {
	schema, table, err := connectors.SplitTable(s)
	if err != nil || !validRelName(schema) || !validRelName(table) {
		return "", "", false
	}
	return schema, table, true
}

// validRelName tells whether s can be a schema or table name: PostgreSQL takes any character
// but NUL in a quoted identifier, and keeps 63 bytes (NAMEDATALEN - 1) of it; a longer name
// would be cut silently and then not be found.
func validRelName(s string) bool {
	return s != "" && len(s) <= 63 && !strings.ContainsRune(s, 0)
}
