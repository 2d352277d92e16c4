package mysql

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/snapshot"
)

// The defaults, in one place.
const (
	// DefaultPort is MySQL's and MariaDB's port.
	DefaultPort = 3306
	// DefaultHeartbeatPeriod is how often the server sends a heartbeat when the binlog is
	// idle; Stream fails with ErrUnreachable after three periods without any event.
	DefaultHeartbeatPeriod = 10 * time.Second
	// DefaultConnectTimeout bounds each connection attempt.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultHistoryTopicSuffix makes the default schema history topic: the connector's name
	// and this suffix.
	DefaultHistoryTopicSuffix = ".schema-history"
	// DefaultSnapshotChunkRows is how many rows one snapshot chunk (one source transaction,
	// held in memory whole) holds.
	DefaultSnapshotChunkRows = 10000
	// DefaultSnapshotChunkBytes is the byte budget of one snapshot chunk, initial or
	// incremental: 16 MiB.
	DefaultSnapshotChunkBytes = connectors.DefaultSnapshotChunkBytes
	// maxSnapshotChunkRows bounds a chunk.
	maxSnapshotChunkRows = 1000000
	// DefaultIncrementalChunkRows is how many rows one chunk of an incremental snapshot reads
	// (one source transaction, held in memory until the stream reaches its point), as
	// Debezium's incremental.snapshot.chunk.size.
	DefaultIncrementalChunkRows = 1024
)

// SnapshotMode says whether Stream reads the captured tables' existing rows before it streams
// their changes.
type SnapshotMode uint8

// The snapshot modes. Their names are Debezium's snapshot.mode values.
const (
	// SnapshotInitial, the default, snapshots the captured tables when Stream starts from the
	// zero Position, then streams from the snapshot's binlog position. A stored position whose
	// binary logs the server has purged fails with ErrPositionPurged.
	SnapshotInitial SnapshotMode = iota
	// SnapshotNoData only streams, from the binlog's end at the first start. A purged stored
	// position fails with ErrPositionPurged.
	SnapshotNoData
	// SnapshotInitialOnly snapshots as SnapshotInitial does and then streams nothing: Stream
	// waits for its context to end (a snapshot cut by a restart is read on to its end first).
	SnapshotInitialOnly
	// SnapshotWhenNeeded snapshots as SnapshotInitial does, and also when the stored position
	// can no longer be resumed because the server purged the binary logs it needs: it logs a
	// warning saying why, snapshots at the server's current position, and streams from there,
	// instead of failing with ErrPositionPurged.
	SnapshotWhenNeeded
	// SnapshotAlways snapshots once at each start of the Source (each Open), then streams: a
	// stored snapshot in progress is resumed rather than started again, and a later Stream of
	// the same Source (a retry) whose stored position is at or past that snapshot's point
	// streams. A purged stored position snapshots as under SnapshotWhenNeeded.
	SnapshotAlways
)

// String returns the mode's configuration name.
func (m SnapshotMode) String() string {
	switch m {
	case SnapshotInitial:
		return "initial"
	case SnapshotNoData:
		return "no_data"
	case SnapshotInitialOnly:
		return "initial_only"
	case SnapshotWhenNeeded:
		return "when_needed"
	case SnapshotAlways:
		return "always"
	}
	return fmt.Sprintf("SnapshotMode(%d)", uint8(m))
}

// UnparseableDDLMode says what Stream does with a DDL statement on a captured table that the
// SQL parser cannot read.
type UnparseableDDLMode uint8

// The modes.
const (
	// UnparseableDDLFail, the default, stops Stream with a *DDLError (errors.Is
	// ErrDDLUnparseable) naming the statement: rows after it could be decoded with a wrong
	// schema.
	UnparseableDDLFail UnparseableDDLMode = iota
	// UnparseableDDLSkip logs the statement at warn level and goes on with the schema as it
	// was. Use it for a statement known not to change the captured tables' columns (a
	// MariaDB-only table option, say); a skipped statement that did change them makes the
	// following rows fail to decode, or decode wrongly.
	UnparseableDDLSkip
)

// systemDatabases are never captured when no database or table is configured.
var systemDatabases = map[string]bool{"mysql": true, "sys": true, "information_schema": true, "performance_schema": true}

// DefaultServerID returns the replica server id used when Config.ServerID is 0: the 32-bit
// FNV-1a hash of the connector's name with the top bit set. It is stable across restarts (a
// server keeps one dump thread per replica id, and a restarted connector replaces its own),
// differs between connectors of different names with high probability, and stays clear of the
// small ids DBAs give real replicas.
func DefaultServerID(name string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return h.Sum32() | 1<<31
}

// Config is a MySQL/MariaDB source's configuration. Zero fields take the defaults above; Open
// validates the result. Its String never shows the password.
type Config struct {
	// Name is the connector's name; it derives the default ServerID. Required.
	Name string
	// Host is the server's host name or address. Required.
	Host string
	// Port is the server's port; 0 means DefaultPort.
	Port uint16
	// User is the account to connect as; it needs SELECT, RELOAD, REPLICATION SLAVE and
	// REPLICATION CLIENT (BINLOG MONITOR on MariaDB). Required.
	User string
	// Password is User's password.
	Password string
	// SSLMode is the TLS mode of every connection, the binlog's and the queries' (SSLModes);
	// empty means DefaultSSLMode.
	SSLMode string
	// SSLCA is a PEM file of the CAs the server's certificate must chain to (SSLVerifyCA,
	// SSLVerifyIdentity); empty: the system's roots.
	SSLCA string
	// SSLCert and SSLKey are the client certificate and its key (PEM files), for an account
	// that REQUIRE X509 or a server that asks for one; both or neither.
	SSLCert, SSLKey string
	// ServerID is the id this source registers with as a replica; it must differ from the
	// server's and from every other replica's. 0 means DefaultServerID(Name).
	ServerID uint32
	// Databases are captured whole: every table of each.
	Databases []string
	// Tables are captured tables, each "database.table", besides those of Databases. With
	// neither Databases nor Tables, every table outside the system databases is captured.
	Tables []string
	// HeartbeatPeriod is how often the server sends a heartbeat on an idle binlog; 0 means
	// DefaultHeartbeatPeriod.
	HeartbeatPeriod time.Duration
	// ConnectTimeout bounds each connection attempt; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// History reads the schema history topic back when Stream resumes (cdcd gives it
	// kafkalog's SchemaHistoryReader, over the Kafka cluster the connector writes to).
	// Required.
	History HistoryReader
	// HistoryTopic is the schema history topic; "" means Name + DefaultHistoryTopicSuffix.
	// Each connector needs its own (records are keyed by Name, but a topic per connector keeps
	// a restart's read short). The source declares it (Source.Topics) and the engine creates
	// it before Stream.
	HistoryTopic string
	// UnparseableDDL says what Stream does with a DDL statement on a captured table that the
	// parser cannot read; the zero value is UnparseableDDLFail.
	UnparseableDDL UnparseableDDLMode
	// SnapshotMode says whether the existing rows are read first; the zero value is
	// SnapshotInitial.
	SnapshotMode SnapshotMode
	// SnapshotChunkRows is the number of rows per snapshot chunk, each one source transaction
	// and the unit a restart resumes from; 0 means DefaultSnapshotChunkRows.
	SnapshotChunkRows int
	// SnapshotChunkBytes caps the rows of a keyed table's snapshot chunks (initial and
	// incremental) so that they hold about this many bytes: a chunk holds
	// min(SnapshotChunkRows, SnapshotChunkBytes / the table's average row size) rows, at
	// least one. The average is sampled from the table's first rows before its first chunk
	// and corrected from the rows read; the limit only shrinks within a table. A table
	// without a primary key is still read in one chunk. 0 means DefaultSnapshotChunkBytes;
	// from connectors.MinSnapshotChunkBytes to connectors.MaxSnapshotChunkBytes.
	SnapshotChunkBytes int64
	// SignalTable is the signal table, "database.table", with columns id, type and data, as
	// Debezium's signal.data.collection: a row inserted of type execute-snapshot starts an
	// incremental snapshot (MariaDB only), stop-snapshot stops it. Its rows are read from the
	// binlog but never sent. "" means no signals.
	SignalTable string
	// IncrementalChunkRows is the number of rows per chunk of an incremental snapshot; 0
	// means DefaultIncrementalChunkRows.
	IncrementalChunkRows int
	// HeartbeatInterval is how often, at most, Stream emits a heartbeat (Debezium's
	// heartbeat.interval.ms): between two transactions, once the interval has passed since the
	// last one, a source transaction of one record to HeartbeatTopic whose position is the
	// stream's, so that the committed position moves past the transactions of tables not
	// captured, and the topic shows the connector alive. 0 (the default) emits none;
	// otherwise at least connectors.MinHeartbeatInterval. With heartbeats the server is asked
	// for its own heartbeat events at least twice per interval, to wake an idle stream.
	HeartbeatInterval time.Duration
	// TopicPrefix is the connector's topic prefix: the heartbeat record's key names it
	// ({"serverName": TopicPrefix}, Debezium's heartbeat key). Required with heartbeats.
	TopicPrefix string
	// HeartbeatTopic is the topic of the heartbeat records; empty means
	// connectors.HeartbeatTopic(TopicPrefix). When heartbeats are on, the source declares it
	// (Source.Topics) and the engine creates it before Stream.
	HeartbeatTopic string
	// Progress, when set, receives the snapshots' figures per table, for the status and
	// metrics.
	Progress *snapshot.Board
	// Logger receives the source's warnings (a skipped DDL); the zero Logger discards them.
	Logger zerolog.Logger
}

// withDefaults returns c with every zero field that has a default set to it.
func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.SSLMode == "" {
		c.SSLMode = DefaultSSLMode
	}
	if c.ServerID == 0 && c.Name != "" {
		c.ServerID = DefaultServerID(c.Name)
	}
	if c.HeartbeatPeriod == 0 {
		c.HeartbeatPeriod = DefaultHeartbeatPeriod
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.SnapshotChunkRows == 0 {
		c.SnapshotChunkRows = DefaultSnapshotChunkRows
	}
	if c.IncrementalChunkRows == 0 {
		c.IncrementalChunkRows = DefaultIncrementalChunkRows
	}
	if c.SnapshotChunkBytes == 0 {
		c.SnapshotChunkBytes = DefaultSnapshotChunkBytes
	}
	if c.HistoryTopic == "" && c.Name != "" {
		c.HistoryTopic = c.Name + DefaultHistoryTopicSuffix
	}
	if c.HeartbeatTopic == "" && c.TopicPrefix != "" {
		c.HeartbeatTopic = connectors.HeartbeatTopic(c.TopicPrefix)
	}
	// One spelling per table ("shop"."x" is shop.x), the one positions and signals use.
	c.Tables = connectors.CanonicalTables(c.Tables)
	if c.SignalTable != "" {
		c.SignalTable = connectors.CanonicalTables([]string{c.SignalTable})[0]
	}
	return c
}

// validate rejects a configuration that cannot work, before any connection is tried. It
// expects withDefaults to have run.
func (c Config) validate() error {
	budgetErr := connectors.CheckChunkBytes("mysql", "snapshot chunk bytes", c.SnapshotChunkBytes)
	hbErr := connectors.CheckHeartbeat("mysql", c.HeartbeatInterval, c.TopicPrefix, c.HeartbeatTopic)
	switch {
	case c.Name == "":
		return &ConfigError{Source: "mysql", Field: "name", Problem: "is empty", Fix: "set the connector's name"}
	case c.Host == "":
		return &ConfigError{Source: "mysql", Field: "host", Problem: "is empty", Fix: "set the server's host name or address"}
	case c.User == "":
		return &ConfigError{Source: "mysql", Field: "user", Problem: "is empty",
			Fix: "set a user with SELECT, RELOAD, REPLICATION SLAVE and REPLICATION CLIENT"}
	case c.ServerID == 0:
		return &ConfigError{Source: "mysql", Field: "server id", Problem: "is 0", Fix: "set an id unique among the server's replicas, or leave it 0 with a name"}
	case c.HeartbeatPeriod < 100*time.Millisecond || c.HeartbeatPeriod > time.Hour:
		return &ConfigError{Source: "mysql", Field: "heartbeat period", Problem: c.HeartbeatPeriod.String() + " is out of range",
			Fix: "use a duration from 100ms to 1h"}
	case c.ConnectTimeout < 0:
		return &ConfigError{Source: "mysql", Field: "connect timeout", Problem: c.ConnectTimeout.String() + " is negative",
			Fix: "use a positive duration"}
	case c.History == nil:
		return &ConfigError{Source: "mysql", Field: "history reader", Problem: "is not set, and a resumed stream reads the schema history",
			Fix: "set the reader of the schema history topic (kafkalog.NewSchemaHistoryReader over the Kafka cluster the connector writes to)"}
	case !validTopic(c.HistoryTopic):
		return &ConfigError{Source: "mysql", Field: "history topic", Problem: fmt.Sprintf("%q is not a Kafka topic name", c.HistoryTopic),
			Fix: "use 1 to 249 letters, digits, '.', '_' or '-' (set the history topic when the connector's name has others)"}
	case c.UnparseableDDL > UnparseableDDLSkip:
		return &ConfigError{Source: "mysql", Field: "unparseable ddl", Problem: fmt.Sprintf("mode %d is unknown", c.UnparseableDDL),
			Fix: "use UnparseableDDLFail or UnparseableDDLSkip"}
	case c.SnapshotMode > SnapshotAlways:
		return &ConfigError{Source: "mysql", Field: "snapshot mode", Problem: c.SnapshotMode.String() + " is not a snapshot mode",
			Fix: "use initial, initial_only, no_data, when_needed or always (SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotWhenNeeded, SnapshotAlways)"}
	case c.SnapshotChunkRows < 1 || c.SnapshotChunkRows > maxSnapshotChunkRows:
		return &ConfigError{Source: "mysql", Field: "snapshot chunk rows", Problem: fmt.Sprintf("%d is out of range", c.SnapshotChunkRows),
			Fix: fmt.Sprintf("use 1 to %d", maxSnapshotChunkRows)}
	case budgetErr != nil:
		return budgetErr
	case c.IncrementalChunkRows < 1 || c.IncrementalChunkRows > maxSnapshotChunkRows:
		return &ConfigError{Source: "mysql", Field: "incremental snapshot chunk rows", Problem: fmt.Sprintf("%d is out of range", c.IncrementalChunkRows),
			Fix: fmt.Sprintf("use 1 to %d", maxSnapshotChunkRows)}
	case c.SignalTable != "" && !validTable(c.SignalTable):
		return &ConfigError{Source: "mysql", Field: "signal table", Problem: fmt.Sprintf("%q is not database.table", c.SignalTable),
			Fix: "name the signal table with its database, e.g. shop.cdcd_signal"}
	case c.SignalTable != "" && slices.Contains(c.Tables, c.SignalTable):
		return &ConfigError{Source: "mysql", Field: "signal table", Problem: fmt.Sprintf("%s is also a captured table", c.SignalTable),
			Fix: "remove it from the tables: signals are not data"}
	case hbErr != nil:
		return hbErr
	}
	if fe := checkTLS(c.SSLMode, c.SSLCA, c.SSLCert, c.SSLKey); len(fe) > 0 {
		return &ConfigError{Source: "mysql", Field: strings.TrimPrefix(fe[0].Key, "mysql."), Problem: fe[0].Message,
			Fix: "use " + strings.Join(SSLModes, ", ") + ", and readable PEM files (see docs/mysql.md, \"TLS\")"}
	}
	if err := connectors.CheckHost(c.Host); err != nil {
		return &ConfigError{Source: "mysql", Field: "host", Problem: err.Error(), Fix: "set the server's host name or address"}
	}
	seen := make(map[string]bool, len(c.Databases)+len(c.Tables))
	for _, d := range c.Databases {
		if !validName(d) {
			return &ConfigError{Source: "mysql", Field: "databases", Problem: fmt.Sprintf("%q is not a database name", d),
				Fix: "use 1 to 64 characters, no space at the end"}
		}
		if seen[d] {
			return &ConfigError{Source: "mysql", Field: "databases", Problem: d + " is listed twice", Fix: "list each database once"}
		}
		seen[d] = true
	}
	for _, t := range c.Tables {
		db, _, ok := splitTable(t)
		if !ok {
			return &ConfigError{Source: "mysql", Field: "tables", Problem: fmt.Sprintf("%q is not database.table", t),
				Fix: `name each table with its database, e.g. shop.orders; double-quote a name that holds a '.' or a ',', e.g. "my db"."my.table" (each name 1 to 64 characters, no space at the end)`}
		}
		if seen[t] {
			return &ConfigError{Source: "mysql", Field: "tables", Problem: t + " is listed twice", Fix: "list each table once"}
		}
		if seen[db] {
			return &ConfigError{Source: "mysql", Field: "tables", Problem: fmt.Sprintf("%s is in database %s, captured whole", t, db),
				Fix: "remove the table or the database from the lists"}
		}
		seen[t] = true
	}
	return connectors.CheckTableTopics("mysql", c.Tables)
}

// String describes c for logs and errors, without the password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = ":***"
	}
	return fmt.Sprintf("mysql://%s%s@%s:%d server_id=%d databases=[%s] tables=[%s] history=%s",
		c.User, pw, c.Host, c.Port, c.ServerID, strings.Join(c.Databases, ","), strings.Join(c.Tables, ","), c.HistoryTopic)
}

// GoString is String, so that %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

// validName tells whether s is a database or table name MySQL can hold: any character but NUL
// in a quoted identifier, at most 64 characters, not ending with a space.
func validName(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 64 || strings.HasSuffix(s, " ") {
		return false
	}
	return !strings.ContainsRune(s, 0)
}

// validTopic tells whether s is a legal Kafka topic name.
func validTopic(s string) bool { return offsets.ValidTopic(s) }

// splitTable splits "database.table", each part plain or double-quoted
// (connectors.SplitTable), into its parts.
func splitTable(s string) (db, table string, ok bool) {
	db, table, err := connectors.SplitTable(s)
	if err != nil || !validName(db) || !validName(table) {
		return "", "", false
	}
	return db, table, true
}

// validTable tells whether s is "database.table".
func validTable(s string) bool {
	_, _, ok := splitTable(s)
	return ok
}

// scope says which tables are captured. The signal table counts as captured, so that its
// schema is tracked and its rows decoded; the assembler and the snapshot never send its rows.
type scope struct {
	databases map[string]bool
	tables    map[string]bool
	all       bool
	// signal is the signal table, "database.table"; "" without one.
	signal string
}

func newScope(c Config) scope {
	s := scope{databases: map[string]bool{}, tables: map[string]bool{}, all: len(c.Databases) == 0 && len(c.Tables) == 0,
		signal: c.SignalTable}
	for _, d := range c.Databases {
		s.databases[d] = true
	}
	for _, t := range c.Tables {
		s.tables[t] = true
	}
	if c.SignalTable != "" {
		s.tables[c.SignalTable] = true
	}
	return s
}

// captures tells whether table db.table is captured.
func (s scope) captures(db, table string) bool {
	if s.all {
		return !systemDatabases[db]
	}
	return s.databases[db] || s.tables[connectors.JoinTable(db, table)]
}

// capturesAnyOf tells whether a statement on the whole database db changes captured tables.
func (s scope) capturesAnyOf(db string) bool {
	if s.all {
		return !systemDatabases[db]
	}
	if s.databases[db] {
		return true
	}
	for t := range s.tables {
		if strings.HasPrefix(t, db+".") {
			return true
		}
	}
	return false
}
