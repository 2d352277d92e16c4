package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/schemaregistry"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/cdcd-dev/cdcd/worker"
)

// connectorFactory builds the daemon's connectors from their flat configurations: the
// worker.Factory of cmd/cdcd, the one place that knows both the config format and the sources.
type connectorFactory struct {
	cfg *Config
	// kafka are the options of the connectors' Kafka clients (kafkaClientOptions).
	kafka    []kgo.Opt
	registry schemaregistry.Registry
	log      zerolog.Logger
}

var _ worker.Factory = (*connectorFactory)(nil)

// connectorConfig reads a flat configuration, with the file format's defaults, and validates
// it; every problem is a field error. As for a config file, the problems of reading and of
// validation come at once: what was read is validated even when some keys were not, but for
// the keys a reading problem names already (withoutShadowed).
func (f *connectorFactory) connectorConfig(name string, cfg api.Config) (ConnectorConfig, []api.FieldError) {
	conn, errs := unflattenConnector(name, cfg)
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
	return errs
}

// Conflicts refuses a PostgreSQL connector whose slot or publication another connector of the
// daemon has (postgres.NameCollision), as the config file's validation does between its own.
func (f *connectorFactory) Conflicts(name string, cfg api.Config, others map[string]api.Config) []api.FieldError {
	conn, errs := f.connectorConfig(name, cfg)
	if len(errs) > 0 || conn.Postgres == nil {
		return nil
	}
	mine := postgresConfig(conn, zerolog.Nop())
	var problems []api.FieldError
	for _, other := range slices.Sorted(maps.Keys(others)) {
		oc, errs := f.connectorConfig(other, others[other])
		if len(errs) > 0 || oc.Postgres == nil {
			continue
		}
		if err := postgres.NameCollision(mine, postgresConfig(oc, zerolog.Nop())); err != nil {
			problems = append(problems, api.FieldError{Name: "postgres.slot",
				Message: strings.TrimPrefix(err.Error(), postgres.ErrNameCollision.Error()+": ") +
					"; give this connector postgres.slot and postgres.publication of its own"})
		}
	}
	return problems
}

func (f *connectorFactory) Build(ctx context.Context, name string, cfg api.Config) (worker.Connector, error) {
	conn, errs := f.connectorConfig(name, cfg)
	if len(errs) > 0 {
		return nil, api.InvalidConfig(errs)
	}
	board := &snapshot.Board{}
	p, err := buildPipeline(ctx, f.cfg, f.kafka, conn, f.registry, board, f.log)
	if err != nil {
		return nil, err
	}
	// The worker runs every pipeline alike: retries, health and stalls reach the status.
	return worker.PipelineConnector(p, boardProgress(board)), nil
}

func (f *connectorFactory) OffsetKey(name string, cfg api.Config) offsets.Key {
	return offsets.Key{Connector: name, Server: cfg["topic_prefix"]}
}

func (f *connectorFactory) TransactionalID(name string) string {
	return pipeline.TransactionalIDOf(name)
}

func (f *connectorFactory) CheckOffset(ctx context.Context, name string, cfg api.Config, pos offsets.Position) error {
	conn, errs := f.connectorConfig(name, cfg)
	if len(errs) > 0 {
		return api.InvalidConfig(errs)
	}
	var err error
	switch conn.Type {
	case "postgres":
		err = postgres.CheckResume(ctx, postgresConfig(conn, f.log), pos)
	case "mysql":
		err = mysql.CheckResume(ctx, mysqlConfig(f.cfg, conn, f.log), pos)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, postgres.ErrNotResumable), errors.Is(err, mysql.ErrNotResumable),
		errors.Is(err, postgres.ErrBadPosition), errors.Is(err, mysql.ErrBadPosition):
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	default:
		return fmt.Errorf("checking the offset against the source: %w", err)
	}
}

func (f *connectorFactory) Signal(ctx context.Context, name string, cfg api.Config, tables []string) error {
	conn, errs := f.connectorConfig(name, cfg)
	if len(errs) > 0 {
		return api.InvalidConfig(errs)
	}
	id := "api-" + randomID()
	var err error
	switch conn.Type {
	case "postgres":
		err = postgres.Signal(ctx, postgresConfig(conn, f.log), id, tables)
	case "mysql":
		err = mysql.Signal(ctx, mysqlConfig(f.cfg, conn, f.log), id, tables)
	}
	var ce *connectors.ConfigError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	return err
}

func (f *connectorFactory) Secret(key string) bool { return isSecretKey(key) }

// Leftovers drops or names what a deleted connector keeps on its source: for PostgreSQL its
// replication slot, which keeps WAL until dropped, and its publication when cdcd named it (a
// publication the configuration names may serve others: it is kept); MySQL keeps nothing.
func (f *connectorFactory) Leftovers(ctx context.Context, name string, cfg api.Config, mode api.DeleteMode) (api.Deleted, error) {
	conn, errs := f.connectorConfig(name, cfg)
	if len(errs) > 0 {
		return api.Deleted{}, api.InvalidConfig(errs)
	}
	if conn.Type == "mysql" {
		return api.Deleted{Message: "a MySQL connector keeps nothing on the server (its binlog position is in Kafka): nothing to drop"}, nil
	}
	pc := postgresConfig(conn, f.log)
	pub := postgres.PublicationKeep
	if cdcdNamedPublication(conn) {
		pub = postgres.PublicationDrop
	}
	kept := postgres.Leftovers(pc, pub)
	if mode != api.DeletePurge {
		return api.Deleted{Kept: kept, Message: fmt.Sprintf("replication slot %s keeps WAL on PostgreSQL until dropped: "+
			"delete with ?purge=true (cdcd connectors delete --purge) or drop it as shown", pc.Slot)}, nil
	}
	dropped, err := postgres.Purge(ctx, pc, pub)
	if err != nil {
		return api.Deleted{Dropped: dropped, Kept: kept[len(dropped):]}, fmt.Errorf("purging connector %s: %w", name, err)
	}
	d := api.Deleted{Dropped: dropped}
	if pub == postgres.PublicationKeep {
		d.Message = fmt.Sprintf("publication %s, named in the configuration, is kept", pc.Publication)
	}
	return d, nil
}

// cdcdNamedPublication tells whether the postgres connector's publication has the name cdcd
// gives one the configuration does not name: cdcd created it and may drop it.
func cdcdNamedPublication(conn ConnectorConfig) bool {
	if conn.Postgres == nil {
		return false
	}
	probe, pg := conn, *conn.Postgres
	pg.Publication = ""
	probe.Postgres = &pg
	applyConnectorDefaults(&probe)
	return probe.Postgres.Publication == conn.Postgres.Publication
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
				RowsPerSecond: s.RowsPerSecond, Incremental: s.Incremental}
		}
		return out
	}
}
