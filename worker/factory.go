package worker

import (
	"context"
	"time"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// Factory knows the connector types: it checks configurations and builds connectors from them.
// The daemon (cmd/cdcd) provides it; the worker stays free of source-specific code.
type Factory interface {
	// Validate checks cfg for a connector named name without touching any server: every
	// problem, each naming its config key.
	Validate(ctx context.Context, name string, cfg api.Config) []api.FieldError
	// Conflicts tells what cfg, a connector named name, would share with the other
	// connectors of the daemon (others, by name) that two connectors must not share: a
	// PostgreSQL replication slot or publication. Each problem names its config key.
	Conflicts(name string, cfg api.Config, others map[string]api.Config) []api.FieldError
	// Build opens the connector's source (checking the database, failing fast with a clear
	// error on what is wrong) and returns the connector, ready to Run.
	Build(ctx context.Context, name string, cfg api.Config) (Connector, error)
	// OffsetKey returns the key of the connector's offset records.
	OffsetKey(name string, cfg api.Config) offsets.Key
	// TransactionalID returns the Kafka transactional id the connector's pipeline uses, which
	// the worker uses too when it writes the connector's offsets, fencing any other writer.
	TransactionalID(name string) string
	// CheckOffset tells whether the connector's source can still resume from pos (nil), or
	// why not (an error wrapping api.ErrInvalid with the reason, e.g. a PostgreSQL LSN before
	// the slot's confirmed flush LSN, MySQL GTIDs purged from the binary logs).
	CheckOffset(ctx context.Context, name string, cfg api.Config, pos offsets.Position) error
	// Signal starts an incremental snapshot of tables through the connector's signal table
	// (an error wrapping api.ErrInvalid when the connector has none).
	Signal(ctx context.Context, name string, cfg api.Config, tables []string) error
	// Secret tells whether the config key holds a secret: masked in answers, never logged.
	Secret(key string) bool
	// Leftovers is called once a deleted connector's run has ended. With api.DeletePurge it
	// drops what the connector keeps on its source (a PostgreSQL slot and the publication cdcd
	// created); it returns what it dropped, what stays (each with how to drop it) and a
	// sentence for the user. On error, what it could not drop is in Kept.
	Leftovers(ctx context.Context, name string, cfg api.Config, mode api.DeleteMode) (api.Deleted, error)
}

// Connector is one built connector.
type Connector interface {
	// Run runs the connector until ctx ends (it returns nil or ctx's error) or it fails for
	// good (a permanent error; retryable ones are retried inside, each retry told to health,
	// which the worker turns into the connector's status).
	Run(ctx context.Context, health Health) error
	// Stats returns the pipeline's counters, for metrics.
	Stats() pipeline.Stats
	// Progress returns the progress of the snapshot tables being read, if any.
	Progress() []api.TableProgress
}

// Health is what a running connector tells the worker about its retries; the worker shows it
// as the connector's status. Its methods return at once and are safe for concurrent use.
type Health interface {
	// Retrying says that the connector failed with err, a retryable error, and tries again
	// at next: the status is RESTARTING, with err as its trace and next as its next attempt.
	Retrying(err error, next time.Time)
	// Healthy says that the connector works again after a retry or a stall: the status is
	// RUNNING.
	Healthy()
	// Stalled says that the connector, still running, has made no progress for a while
	// although it has changes to deliver (reason says why and since when): the status is
	// DEGRADED until Healthy.
	Stalled(reason error)
}
