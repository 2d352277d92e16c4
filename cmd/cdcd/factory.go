package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/cdcd-dev/cdcd/worker"
)

// connectorFactory builds the daemon's connectors from their flat configurations: the
// worker.Factory of cmd/cdcd, the one place that knows both the config format and the sources.
type connectorFactory struct {
	cfg *Config
	// kafka are the options of the connectors' Kafka clients (kafkaClientOptions).
	kafka    []kgo.Opt
	registry avro.Registry
	log      zerolog.Logger
}

var _ worker.Factory = (*connectorFactory)(nil)

// connectorConfig reads a flat configuration, with the file format's defaults, and validates
// it; every problem is a field error. As for a config file, the problems of reading and of
// validation come at once: what was read is validated even when some keys were not, but for
// the keys a reading problem names already (withoutShadowed). Its references to secrets are
// resolved first (resolveConfig): a key whose reference fails is one more field error, naming
// the reference; the configuration given, and stored, keeps its references.
func (f *connectorFactory) connectorConfig(name string, cfg api.Config) (ConnectorConfig, []api.FieldError) {
	cfg, refErrs := resolveConfig(cfg)
	if len(refErrs) > 0 {
		// The other keys are checked still, the failed ones left out (not read as literals).
		cfg = maps.Clone(cfg)
		for _, fe := range refErrs {
			delete(cfg, fe.Name)
		}
	}
	conn, errs := unflattenConnector(name, cfg)
	errs = append(refErrs, errs...)
	applyConnectorDefaults(&conn)
	shadow := errs
	if slices.ContainsFunc(errs, func(fe api.FieldError) bool { return fe.Name == keyConnectorClass }) {
		// connector.class sets type: a type missing because of it is the same problem.
		shadow = append(slices.Clip(errs), api.FieldError{Name: "type"})
	}
	return conn, append(errs, withoutShadowedFields(shadow, validateConnector(conn))...)
}

// withoutShadowedFields is withoutShadowed for field errors: later's errors whose key is, or is
// under, one of decoded's.
func withoutShadowedFields(decoded, later []api.FieldError) []api.FieldError {
	if len(decoded) == 0 {
		return later
	}
	text := func(fes []api.FieldError) []string {
		out := make([]string, len(fes))
		for i, fe := range fes {
			out[i] = fe.Name + ": " + fe.Message
		}
		return out
	}
	kept := withoutShadowed(text(decoded), text(later))
	var out []api.FieldError
	for i, fe := range later {
		if slices.Contains(kept, text(later[i : i+1])[0]) {
			out = append(out, fe)
		}
	}
	return out
}

func (f *connectorFactory) Validate(_ context.Context, name string, cfg api.Config) []api.FieldError {
	_, errs := f.connectorConfig(name, cfg)
	return append(f.cfg.literalSecrets(cfg), errs...)
}

// Conflicts refuses a connector that cannot run beside another connector of the daemon
// (Kind.Conflict: a PostgreSQL slot or publication in common), as the config file's validation
// does between its own.
func (f *connectorFactory) Conflicts(name string, cfg api.Config, others map[string]api.Config) []api.FieldError {
	conn, k, errs := f.connectorKind(name, cfg)
	if len(errs) > 0 {
		return nil
	}
	mine := settingsOf(conn, k)
	var problems []api.FieldError
	for _, other := range slices.Sorted(maps.Keys(others)) {
		oc, otherKind, errs := f.connectorKind(other, others[other])
		if len(errs) > 0 || otherKind.Name() != k.Name() {
			continue
		}
		if c := k.Conflict(mine, settingsOf(oc, otherKind)); c != nil {
			problems = append(problems, api.FieldError{Name: c.Key, Message: c.Message + "; " + c.Hint})
		}
	}
	return problems
}

// connectorKind is connectorConfig with the connector's kind; a configuration without one has
// errors.
func (f *connectorFactory) connectorKind(name string, cfg api.Config) (ConnectorConfig, connectors.Kind, []api.FieldError) {
	conn, errs := f.connectorConfig(name, cfg)
	if len(errs) > 0 {
		return conn, nil, errs
	}
	kinds := daemonKinds()
	k, ok := kinds.Get(conn.Type)
	if !ok {
		// Validation refuses an unknown type first; this is a safety net.
		return conn, nil, []api.FieldError{{Name: "type", Message: unknownType(kinds, conn.Type)}}
	}
	return conn, k, nil
}

// env is what a kind is given to reach its source and Kafka.
func (f *connectorFactory) env() connectors.Env {
	return sourceEnv(f.cfg, nil, f.log)
}

// sourceEnv is what a kind is given to open its source: the reader of the topics a source
// writes its own records to (the MySQL schema history), in the daemon's Kafka.
func sourceEnv(cfg *Config, board *snapshot.Board, log zerolog.Logger) connectors.Env {
	env := connectors.Env{Logger: log}
	if board != nil {
		env.Progress = board
	}
	if cfg != nil {
		env.History = kafkalog.NewSchemaHistoryReader(kafkaClientOptions(cfg)...)
	}
	return env
}

func (f *connectorFactory) Build(ctx context.Context, name string, cfg api.Config) (worker.Connector, error) {
	conn, errs := f.connectorConfig(name, cfg)
	if len(errs) > 0 {
		// Stored configurations were valid when put: what fails now is a reference whose
		// secret is gone (an unset variable, a missing file or key), which a retry meets
		// again. The connector goes FAILED, with the reference named, until restarted.
		return nil, connectors.Permanent(api.InvalidConfig(errs))
	}
	board := &snapshot.Board{}
	p, err := buildPipeline(ctx, f.cfg, f.kafka, conn, f.registry, board, f.log)
	if err != nil {
		return nil, err
	}
	// The worker runs every pipeline alike: retries, health and stalls reach the status.
	return refusalNamingConnector{worker.PipelineConnector(p, boardProgress(board)), &f.cfg.Kafka}, nil
}

func (f *connectorFactory) OffsetKey(name string, cfg api.Config) offsets.Key {
	return offsets.Key{Connector: name, Server: cfg["topic_prefix"]}
}

func (f *connectorFactory) TransactionalID(name string) string {
	return pipeline.TransactionalIDOf(name)
}

func (f *connectorFactory) CheckOffset(ctx context.Context, name string, cfg api.Config, pos offsets.Position) error {
	conn, k, errs := f.connectorKind(name, cfg)
	if len(errs) > 0 {
		return api.InvalidConfig(errs)
	}
	err := k.CheckOffset(ctx, settingsOf(conn, k), f.env(), pos)
	var pe *connectors.PositionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	default:
		return fmt.Errorf("checking the offset against the source: %w", err)
	}
}

func (f *connectorFactory) Signal(ctx context.Context, name string, cfg api.Config, tables []string) error {
	conn, k, errs := f.connectorKind(name, cfg)
	if len(errs) > 0 {
		return api.InvalidConfig(errs)
	}
	id := "api-" + randomID()
	err := k.Signal(ctx, settingsOf(conn, k), f.env(), id, tables)
	var ce *connectors.ConfigError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	return err
}

func (f *connectorFactory) Secret(key string) bool { return isSecretKey(key) }

// Leftovers drops or names what a deleted connector keeps on its source (Kind.Leftovers): for
// PostgreSQL its replication slot, which keeps WAL until dropped, and its publication when cdcd
// named it; MySQL keeps nothing.
func (f *connectorFactory) Leftovers(ctx context.Context, name string, cfg api.Config, mode api.DeleteMode) (api.Deleted, error) {
	conn, k, errs := f.connectorKind(name, cfg)
	if len(errs) > 0 {
		return api.Deleted{}, api.InvalidConfig(errs)
	}
	l, err := k.Leftovers(ctx, settingsOf(conn, k), f.env(), mode == api.DeletePurge)
	d := api.Deleted{Dropped: l.Dropped, Kept: l.Kept, Message: l.Message}
	if err != nil {
		return d, fmt.Errorf("purging connector %s: %w", name, err)
	}
	return d, nil
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + fmt.Sprintf("-%d", time.Now().Unix())
}

// boardProgress returns the progress of the snapshot tables board has, for the status.
func boardProgress(board *snapshot.Board) func() []api.TableProgress {
	return func() []api.TableProgress {
		stats := board.All()
		out := make([]api.TableProgress, len(stats))
		for i, s := range stats {
			out[i] = api.TableProgress{Table: s.Table, Rows: s.Rows, EstimatedTotal: s.EstimatedTotal,
				RowsPerSecond: s.RowsPerSecond, Incremental: s.Incremental, Done: s.Done}
		}
		return out
	}
}
