package connectors

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
)

// Kind is one kind of connector (postgres, mysql): everything the daemon knows of a source is
// asked of its Kind, so that the daemon's configuration, its REST API and its flat configuration
// iterate the table of kinds (Kinds) instead of naming sources. Each source package implements
// it once (postgres.Kind, mysql.Kind); the daemon holds the one list of the kinds it runs.
//
// A kind's settings are its section of a connector's configuration (postgres: {...}): a pointer
// to the kind's own section struct, whose json tags are the keys users write, decoded by the
// daemon and handed to the kind in Settings.Section.
//
// A new source is a package implementing Kind and Source, a field of cmd/cdcd's ConnectorConfig
// for its section (its json key the kind's name), and one entry in cmd/cdcd's daemonKinds; the
// permanent-error contract test (cmd/cdcd) then covers it.
type Kind interface {
	// Name is the connector's type in a configuration ("postgres") and the key of its section.
	Name() string
	// Aliases are the other names the kind answers to where Kafka Connect's tools name a
	// connector plugin (connector.class, /connector-plugins/{type}): Debezium's connector
	// classes, their simple names, and the database's own name ("postgresql", "mariadb").
	Aliases() []string
	// Defaults fills in the unset settings of s.Section that have a default (the port, names
	// derived from the connector's name), in the file as over the API.
	Defaults(s Settings)
	// Validate returns every problem of s.Section (defaults applied), each naming its key in
	// the flat form, under the kind's section ("postgres.port"); the section's own key
	// ("postgres") for a problem of the whole section.
	Validate(s Settings) []FieldError
	// Conflict tells why two valid connectors of this kind cannot both run (a PostgreSQL slot
	// or publication in common), nil when they can.
	Conflict(a, b Settings) *Conflict
	// Origin is what the Debezium envelope's source block says of the connector.
	Origin(s Settings) Origin
	// Open opens the source of a valid connector, which checks the database's settings and
	// fails fast on what is wrong. Its errors name the source ("postgres source: ...").
	Open(ctx context.Context, s Settings, env Env) (Source, error)
	// CheckOffset tells whether the source can resume from pos (nil) or why not: a position it
	// cannot resume from, or cannot read, is a *PositionError; any other error is a failure to
	// check.
	CheckOffset(ctx context.Context, s Settings, env Env, pos offsets.Position) error
	// Signal asks the running connector, through its signal table, for an incremental
	// snapshot of tables; the signal's id is id. A connector without a signal table answers a
	// *ConfigError.
	Signal(ctx context.Context, s Settings, env Env, id string, tables []string) error
	// Leftovers says what a deleted connector keeps on its source and, when purge is set,
	// drops it; on an error, Dropped is what was dropped before it.
	Leftovers(ctx context.Context, s Settings, env Env, purge bool) (Leftovers, error)
	// PermanentErrors are the sentinels of the failures a restart from the same committed
	// position meets again: Stream returns them marked with Permanent, so that the connector
	// stops (FAILED) instead of retrying forever.
	PermanentErrors() []error
	// StreamError is what the source's Stream applies to the error it returns (its boundary,
	// where the engine learns whether a restart can help): Permanent for a failure a restart
	// cannot fix (one of PermanentErrors, at any depth), err's meaning unchanged otherwise.
	// Exposed so that one contract test runs every kind's sentinels through the engine's
	// classifier.
	StreamError(err error) error
}

// Settings are one connector's settings as a Kind reads them: those every kind shares, and
// the kind's own section.
type Settings struct {
	// Name is the connector's name.
	Name string
	// TopicPrefix starts every topic name of the connector.
	TopicPrefix string
	// SkippedOperations are the operations the pipeline does not write; nil: its default.
	SkippedOperations []decoder.Op
	// Section is the kind's section: a pointer to its section struct; nil when the
	// configuration has none.
	Section any
}

// Env is what the daemon gives a kind to open its source: a source knows nothing of Kafka, and
// reaches what it wrote there only through these.
type Env struct {
	// History reads back the records a source wrote to a topic of its own (EventRecord, on a
	// topic it declares: the MySQL schema history); nil where no source needs it (tests).
	History HistoryReader
	// Progress is where the source's snapshots report their progress: a *snapshot.Board (typed
	// loosely so that this package does not depend on snapshot, which builds on it), or nil.
	Progress any
	// Logger is the daemon's logger; the kind adds the connector's name.
	Logger zerolog.Logger
}

// FieldError is one problem of a connector's configuration.
type FieldError struct {
	// Key is the setting at fault in the flat form ("postgres.port"); empty for the whole
	// connector.
	Key string
	// Message says what is wrong.
	Message string
}

// AddFunc adds a problem naming key to a list of FieldErrors.
type AddFunc = func(key, format string, args ...any)

// Collector returns an AddFunc that appends to errs.
func Collector(errs *[]FieldError) AddFunc {
	return func(key, format string, args ...any) {
		*errs = append(*errs, FieldError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
}

// Conflict is why two connectors of one kind cannot both run.
type Conflict struct {
	// Key is the setting they share ("postgres.slot").
	Key string
	// Message says what they share.
	Message string
	// Hint says what to change, for the connector being created over the API.
	Hint string
}

// Origin is what the Debezium envelope's source block says of a connector.
type Origin struct {
	// Source describes the kind's fields of the source block (and its connector field:
	// "postgresql", "mysql"), whose values the kind's changes carry in decoder.SourceInfo.
	Source *decoder.SourceBlock
	// Database is the source block's db field when one database holds every table; empty
	// when each change names its own.
	Database string
}

// Leftovers is what a deleted connector keeps on its source, or what was dropped of it.
type Leftovers struct {
	// Dropped and Kept name each object (a replication slot, a publication) and, for what is
	// kept, how to drop it.
	Dropped, Kept []string
	// Message says what happened, or what was kept and why.
	Message string
}

// PositionError is a position a source cannot resume from or cannot read (Kind.CheckOffset):
// the caller's mistake, not a failure to check. Its message is Err's.
type PositionError struct {
	// Err is the source's error.
	Err error
}

// Error returns Err's message unchanged.
func (e *PositionError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *PositionError) Unwrap() error { return e.Err }

// Kinds is a table of connector kinds, in the order their names are listed to users.
type Kinds []Kind

// Names returns the kinds' names, in order.
func (ks Kinds) Names() []string {
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.Name()
	}
	return names
}

// Get returns the kind named name (its Name, not an alias).
func (ks Kinds) Get(name string) (Kind, bool) {
	for _, k := range ks {
		if k.Name() == name {
			return k, true
		}
	}
	return nil, false
}

// Lookup returns the kind named name or answering to it as an alias.
func (ks Kinds) Lookup(name string) (Kind, bool) {
	if k, ok := ks.Get(name); ok {
		return k, true
	}
	for _, k := range ks {
		if slices.Contains(k.Aliases(), name) {
			return k, true
		}
	}
	return nil, false
}

// Check refuses a table where two kinds share a name or an alias, or a kind has no name.
func (ks Kinds) Check() error {
	seen := map[string]string{}
	for _, k := range ks {
		if k.Name() == "" {
			return fmt.Errorf("connectors: a kind without a name (%T)", k)
		}
		for _, n := range append([]string{k.Name()}, k.Aliases()...) {
			if other, dup := seen[n]; dup {
				return fmt.Errorf("connectors: %q names both the %s and the %s kind", n, other, k.Name())
			}
			seen[n] = k.Name()
		}
	}
	return nil
}

// Unknown says that name is no kind of ks, and which are.
func (ks Kinds) Unknown(name string) error {
	return fmt.Errorf("unknown connector type %q, known: %s", name, strings.Join(ks.Names(), ", "))
}
