// Package worker runs the daemon's connectors: it keeps their configurations and target states
// in a compacted Kafka topic, runs each connector on its own goroutine, and answers the REST
// API (it implements [api.Backend]).
//
// The config topic (default [DefaultConfigTopic]) holds, per connector, the record keyed
// "connector-<name>" with the value {"config": {...}, "target_state": "STARTED"|"PAUSED"|
// "STOPPED"}, and a tombstone once the connector is deleted. A change is written, acks=all,
// before the call that made it returns, so a process killed after answering keeps it. Like a
// Kafka Connect cluster's config.storage.topic, one config topic belongs to one daemon: two
// daemons reading one topic would both run every connector, their pipelines fencing each other.
// A daemon whose connectors all come from its config file, with nothing to change them (cdcd
// with its REST API off), keeps them in memory instead ([InMemoryConfigs]): every connector,
// of the file or of the API, runs through the same Manager, with the same states, retries,
// stall watch and metrics.
//
// A connector's states, as its status shows them:
//
//	UNASSIGNED  being built (Factory.Build: the source opened and checked)
//	RUNNING     Connector.Run is running
//	RESTARTING  Build failed with a retryable error, or the run is retrying one (a server
//	            unreachable): the trace is the last error, next_attempt when it tries again;
//	            RUNNING again once built, or once the retried run is healthy (see [Health])
//	DEGRADED    the run goes on but makes no progress (Health.Stalled: a commit waiting for
//	            an unreachable broker): the trace says why; RUNNING again at the next progress
//	FAILED      Build failed with a permanent error, or Run returned one: it stays FAILED,
//	            not retried, until restarted, resumed or given a configuration
//	PAUSED      target PAUSED: not running
//	STOPPED     target STOPPED: not running; only now may its offsets change
//
// One connector's failure, build or run, changes only that connector's state.
package worker
