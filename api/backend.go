// Package api is cdcd's REST API: connectors created, configured, paused, resumed, stopped,
// restarted and deleted at run time, their status and offsets (KIP-875), config validation,
// incremental snapshots, health and metrics, in the shapes of Kafka Connect's REST API so that
// its tools and habits carry over. The server (server.go) holds no connector state: it turns
// requests into calls of a [Backend] (the daemon's worker) and their answers into JSON.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// The errors a Backend returns, which the server maps to HTTP statuses. A Backend wraps them
// with a message for the user (the message is returned in the error body).
var (
	// ErrNotFound: no connector of that name (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request does not fit the connector's state, e.g. altering the offsets
	// of a connector that is not STOPPED, or creating one that exists (409).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the configuration or the offsets given are not valid (400).
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: the backend cannot serve now (e.g. Kafka unreachable, still restoring)
	// (503).
	ErrUnavailable = errors.New("unavailable")
	// ErrRefused: the daemon's own servers refuse it the request for good, e.g. Kafka denying
	// a write to the config topic for a missing ACL: the operator must fix the setup, and
	// retrying does not help, unlike ErrUnavailable (500, with the message).
	ErrRefused = errors.New("refused")
)

// Config is a connector's configuration as Kafka Connect carries it: flat string keys and
// values. cdcd's keys are those of a connector in the config file, nested sections joined with
// dots ("type", "topic_prefix", "postgres.host", "postgres.tables" as a comma-separated list).
type Config map[string]string

// State is a connector's or a task's state, as Kafka Connect names them.
type State string

// The states. RESTARTING is a connector retrying after a retryable error (a server
// unreachable): its trace is the last error and its next_attempt the time of the next try.
// DEGRADED is a running connector that has not committed for a while although it has changes
// to deliver (a Kafka transaction waiting for an unreachable broker): its trace says why and
// since when; it is RUNNING again at its next commit. Kafka Connect has no such state.
const (
	StateRunning    State = "RUNNING"
	StatePaused     State = "PAUSED"
	StateStopped    State = "STOPPED"
	StateFailed     State = "FAILED"
	StateUnassigned State = "UNASSIGNED"
	StateRestarting State = "RESTARTING"
	StateDegraded   State = "DEGRADED"
)

// TaskID names a connector's task; cdcd runs one task per connector, task 0.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// ConnectorInfo is GET /connectors/{name}: the configuration (secrets masked) and the tasks.
type ConnectorInfo struct {
	Name   string   `json:"name"`
	Config Config   `json:"config"`
	Tasks  []TaskID `json:"tasks"`
	Type   string   `json:"type"`
}

// TaskStatus is one task's state in a ConnectorStatus.
type TaskStatus struct {
	ID       int    `json:"id"`
	State    State  `json:"state"`
	WorkerID string `json:"worker_id"`
	// Trace is the error that failed the task, when it failed, or the last error of a task
	// RESTARTING.
	Trace string `json:"trace,omitempty"`
	// NextAttempt is when a RESTARTING task tries again (or started its current try).
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
}

// ConnectorState is the connector part of a ConnectorStatus.
type ConnectorState struct {
	State    State  `json:"state"`
	WorkerID string `json:"worker_id"`
	// Trace is the error that failed the connector, or the last error of one RESTARTING.
	Trace string `json:"trace,omitempty"`
	// NextAttempt is when a RESTARTING connector tries again (or started its current try).
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
}

// TableProgress is the progress of one table's snapshot (initial or incremental).
type TableProgress struct {
	Table          string  `json:"table"`
	Rows           int64   `json:"rows"`
	EstimatedTotal float64 `json:"estimated_total"`
	RowsPerSecond  float64 `json:"rows_per_second"`
	Incremental    bool    `json:"incremental"`
	// Done tells that the table's reading ended (its rows are all read); `cdcd status` draws
	// its bar at 100% then, whatever the estimate said.
	Done bool `json:"done,omitempty"`
}

// ConnectorStatus is GET /connectors/{name}/status, Kafka Connect's shape plus the snapshot's
// progress.
type ConnectorStatus struct {
	Name      string          `json:"name"`
	Connector ConnectorState  `json:"connector"`
	Tasks     []TaskStatus    `json:"tasks"`
	Type      string          `json:"type"`
	Snapshot  []TableProgress `json:"snapshot,omitempty"`
}

// Offset is one source partition's offset, KIP-875's shape: the partition is {"server":
// "<topic prefix>"}, the offset the source's position (its own JSON) and, when a Kafka
// transaction had to close inside a source transaction, "skip".
type Offset struct {
	Partition map[string]any  `json:"partition"`
	Offset    json.RawMessage `json:"offset"`
}

// Offsets is the body of GET and PATCH /connectors/{name}/offsets.
type Offsets struct {
	Offsets []Offset `json:"offsets"`
}

// DeleteMode says what deleting a connector does to what it keeps on its source.
type DeleteMode int

const (
	// DeleteKeep leaves the source's objects (slot, publication): the answer names them.
	DeleteKeep DeleteMode = iota
	// DeletePurge drops them once the connector's run has ended (?purge=true).
	DeletePurge
)

// Deleted is DELETE /connectors/{name}'s answer: what the connector left on its source.
type Deleted struct {
	Name string `json:"name"`
	// Dropped lists what ?purge=true dropped ("replication slot cdcd_inventory").
	Dropped []string `json:"dropped"`
	// Kept lists what stays on the source, each with how to drop it; a PostgreSQL slot keeps
	// WAL on the server's disk until dropped.
	Kept []string `json:"kept"`
	// Message says it in a sentence.
	Message string `json:"message"`
}

// FieldError is one problem a configuration validation found.
type FieldError struct {
	// Name is the config key ("postgres.host"); empty for a problem of the whole config.
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Validation is PUT /connector-plugins/{type}/config/validate's answer.
type Validation struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Errors     []FieldError `json:"errors"`
}

// Backend is what the server needs of the daemon. Every method is safe for concurrent use and
// returns promptly: long work (starting a connector, restoring) goes on in the background.
type Backend interface {
	// Connectors lists the connectors' names, sorted.
	Connectors(ctx context.Context) ([]string, error)
	// Connector returns a connector's configuration, secrets masked.
	Connector(ctx context.Context, name string) (ConnectorInfo, error)
	// PutConnector creates the connector or replaces its configuration (restarting it), after
	// validating cfg (ErrInvalid with the first problem). created tells which.
	PutConnector(ctx context.Context, name string, cfg Config) (info ConnectorInfo, created bool, err error)
	// DeleteConnector stops the connector and forgets it; its offsets stay in Kafka. With
	// DeletePurge it then drops what the connector keeps on its source (a PostgreSQL
	// replication slot, which holds WAL, and the publication cdcd created); with DeleteKeep the
	// answer says what stays and how to drop it.
	DeleteConnector(ctx context.Context, name string, mode DeleteMode) (Deleted, error)
	// Status returns the connector's state and its task's.
	Status(ctx context.Context, name string) (ConnectorStatus, error)
	// Pause, Resume and Stop set the connector's target state, persisted: a paused connector
	// keeps its resources but reads nothing; a stopped one releases them (only then may its
	// offsets change). Resume starts a paused or stopped connector.
	Pause(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	// Restart restarts the connector's pipeline from its committed offset.
	Restart(ctx context.Context, name string) error
	// Offsets returns the connector's committed offsets.
	Offsets(ctx context.Context, name string) (Offsets, error)
	// AlterOffsets replaces the connector's offsets (ErrConflict unless STOPPED; ErrInvalid
	// when the source can no longer resume from them, with the reason).
	AlterOffsets(ctx context.Context, name string, offs Offsets) error
	// ResetOffsets deletes the connector's offsets (ErrConflict unless STOPPED): it starts
	// anew, as its snapshot mode says, when resumed.
	ResetOffsets(ctx context.Context, name string) error
	// Validate checks a configuration for a connector of type typ without creating anything.
	Validate(ctx context.Context, typ string, cfg Config) (Validation, error)
	// Snapshot starts an incremental snapshot of tables (through the connector's signal table).
	Snapshot(ctx context.Context, name string, tables []string) error
	// Ready tells whether the daemon serves its connectors (configurations restored).
	Ready(ctx context.Context) error
}
