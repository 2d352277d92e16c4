package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cdcd-dev/cdcd/connectors"
)

// Source reads one PostgreSQL database through a logical replication slot; it implements
// connectors.Source. Build it with Open. It holds no connection between Streams: each Stream
// opens a replication connection and a catalog connection and closes them when it returns.
type Source struct {
	cfg Config

	// acked is the highest acknowledged LSN; it only grows.
	acked atomic.Uint64
	// failed is set when a Stream fails, and cleared when the next one starts.
	failed atomic.Bool
	// running guards against two Streams at once.
	running atomic.Bool
	// wake tells the Stream loop that acked moved.
	wake chan struct{}
	// window holds the acknowledgements back from the server for Config.ReplayWindow; nil
	// when there is none.
	window *ackWindow

	// recvMu guards recvConn, the replication connection while the Stream loop receives on
	// it: an Ack interrupts that receive (a read deadline in the past) so that the loop sends
	// the new acknowledgement at once.
	recvMu   sync.Mutex
	recvConn net.Conn

	// snappedAt is, under SnapshotAlways, the consistent point of the snapshot this Source
	// last started or resumed; 0 before. Only a Stream uses it, and Streams do not overlap
	// (running orders them).
	snappedAt pglogrepl.LSN

	// BacklogGauge is the slot's retained WAL, pg_current_wal_lsn() minus the slot's
	// confirmed_flush_lsn, as a Stream last measured it (every backlogInterval while one runs:
	// backlog.go).
	connectors.BacklogGauge
}

// Open checks the configuration and the server, creates the publication and the slot when they
// are missing, and returns a Source ready to Stream. Every problem a user can fix comes back as
// a *ConfigError saying what to do.
func Open(ctx context.Context, cfg Config) (_ *Source, err error) {
	defer func() { err = connectors.PrefixOnce("postgres source: ", err) }()
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	var walLevel string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return nil, fmt.Errorf("postgres source: reading wal_level: %w", err)
	}
	if err := judgeWALLevel(walLevel); err != nil {
		return nil, err
	}
	var canReplicate, isSuper bool
	err = conn.QueryRow(ctx, "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user").
		Scan(&canReplicate, &isSuper)
	if err != nil {
		return nil, fmt.Errorf("postgres source: reading the attributes of user %q: %w", cfg.User, err)
	}
	if err := onServer(judgeRole(cfg.User, canReplicate, isSuper), cfg); err != nil {
		return nil, err
	}
	standby, err := checkStandby(ctx, conn, cfg)
	if err != nil {
		return nil, err
	}
	// A standby is read-only: its publication is the primary's, which cdcd neither creates
	// nor alters there (the errors name the statement to run on the primary).
	pubCfg := cfg
	if standby {
		pubCfg.PublicationPolicy = PublicationMustExist
	}
	if err := checkTables(ctx, conn, cfg); err != nil {
		return nil, err
	}
	if err := checkSignalTable(ctx, conn, cfg); err != nil {
		return nil, err
	}
	// Whose the publication and slot are is checked before anything is created, and again
	// after, in case another connector created them meanwhile.
	if err := checkOwnership(ctx, conn, cfg); err != nil {
		return nil, err
	}
	if err := ensurePublication(ctx, conn, pubCfg); err != nil {
		return nil, standbyFix(standby, err)
	}
	if err := ensureGeneratedColumns(ctx, conn, pubCfg); err != nil {
		return nil, standbyFix(standby, err)
	}
	claimPublication(ctx, conn, pubCfg)
	if err := checkOwnership(ctx, conn, cfg); err != nil {
		return nil, err
	}
	if err := ensureSlot(ctx, conn, cfg); err != nil {
		return nil, err
	}
	if cfg.Streaming == StreamingOn {
		// Fail now if the directory cannot be written; files left by a process that is gone
		// go too (the server sends their transactions again).
		if err := clearSpillDir(cfg.SpillDir); err != nil {
			return nil, err
		}
	}
	// A replication connection can fail where a normal one does not (max_wal_senders,
	// pg_hba.conf): find out now rather than at the first Stream.
	repl, err := connectReplication(ctx, cfg)
	if err != nil {
		return nil, err
	}
	_, err = pglogrepl.IdentifySystem(ctx, repl)
	_ = repl.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("postgres source: IDENTIFY_SYSTEM on a replication connection to %s:%d: %w",
			cfg.Host, cfg.Port, err)
	}
	src := &Source{cfg: cfg, wake: make(chan struct{}, 1)}
	if cfg.ReplayWindow > 0 {
		src.window = &ackWindow{span: cfg.ReplayWindow}
	}
	return src, nil
}

// String describes the source for logs, without the password.
func (s *Source) String() string { return s.cfg.String() }

// judgeWALLevel tells whether the server's wal_level allows logical decoding.
func judgeWALLevel(level string) error {
	if level == "logical" {
		return nil
	}
	return &ConfigError{Source: "postgres", Field: "wal_level", Problem: fmt.Sprintf("is %q; logical decoding needs logical", level),
		Fix: "set wal_level=logical in postgresql.conf and restart PostgreSQL"}
}

// judgeRole tells whether a role with these attributes may stream logical replication.
func judgeRole(user string, canReplicate, isSuper bool) error {
	if canReplicate || isSuper {
		return nil
	}
	return &ConfigError{Source: "postgres", Field: "user", Problem: fmt.Sprintf("user %q lacks the REPLICATION attribute", user),
		Fix: fmt.Sprintf("ALTER ROLE %s WITH REPLICATION", pgx.Identifier{user}.Sanitize())}
}

// checkTables fails with the first configured table that does not exist.
func checkTables(ctx context.Context, conn *pgx.Conn, cfg Config) error {
	for _, t := range cfg.Tables {
		schema, name, _ := splitTable(t)
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
			WHERE ns.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, name).Scan(&n)
		if err != nil {
			return fmt.Errorf("postgres source: looking up table %s: %w", t, err)
		}
		if n == 0 {
			return &ConfigError{Source: "postgres", Field: "tables", Problem: fmt.Sprintf("table %s does not exist in database %s", t, cfg.Database),
				Fix: "create it or remove it from the tables (names are case-sensitive)"}
		}
	}
	return nil
}

// publishedTables are the tables the publication must cover: the captured ones and the signal
// table.
func publishedTables(cfg Config) []string {
	if cfg.SignalTable == "" {
		return cfg.Tables
	}
	return append(slices.Clip(cfg.Tables), cfg.SignalTable)
}

// signalColumns are the columns a signal table needs, as Debezium's.
var signalColumns = []string{"id", "type", "data"}

// checkSignalTable fails when the signal table is configured but missing, or lacks a column.
func checkSignalTable(ctx context.Context, conn *pgx.Conn, cfg Config) error {
	if cfg.SignalTable == "" {
		return nil
	}
	schema, name, _ := splitTable(cfg.SignalTable)
	const create = "CREATE TABLE %s (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"
	rows, err := conn.Query(ctx, `SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`, schema, name)
	if err != nil {
		return fmt.Errorf("postgres source: looking up signal table %s: %w", cfg.SignalTable, err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres source: looking up signal table %s: %w", cfg.SignalTable, err)
	}
	if len(cols) == 0 {
		return &ConfigError{Source: "postgres", Field: "signal table", Problem: fmt.Sprintf("table %s does not exist in database %s", cfg.SignalTable, cfg.Database),
			Fix: fmt.Sprintf(create, quoteTables([]string{cfg.SignalTable}))}
	}
	for _, c := range signalColumns {
		if !slices.Contains(cols, c) {
			return &ConfigError{Source: "postgres", Field: "signal table", Problem: fmt.Sprintf("table %s has no column %s", cfg.SignalTable, c),
				Fix: "give it the columns id, type and data: " + fmt.Sprintf(create, quoteTables([]string{cfg.SignalTable}))}
		}
	}
	return nil
}

// ensurePublication checks that the publication covers the configured tables and publishes
// every operation, creating it when missing and the policy allows.
func ensurePublication(ctx context.Context, conn *pgx.Conn, cfg Config) error {
	pub := pgx.Identifier{cfg.Publication}.Sanitize()
	var all, ins, upd, del, trunc bool
	err := conn.QueryRow(ctx, `SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate
		FROM pg_publication WHERE pubname = $1`, cfg.Publication).Scan(&all, &ins, &upd, &del, &trunc)
	if errors.Is(err, pgx.ErrNoRows) {
		return createPublication(ctx, conn, cfg, pub)
	}
	if err != nil {
		return fmt.Errorf("postgres source: reading publication %s: %w", cfg.Publication, err)
	}
	var missingOps []string
	for _, op := range []struct {
		on   bool
		name string
	}{{ins, "insert"}, {upd, "update"}, {del, "delete"}, {trunc, "truncate"}} {
		if !op.on {
			missingOps = append(missingOps, op.name)
		}
	}
	if len(missingOps) > 0 {
		return &ConfigError{Source: "postgres", Field: "publication",
			Problem: fmt.Sprintf("publication %s does not publish %s", cfg.Publication, strings.Join(missingOps, ", ")),
			Fix:     fmt.Sprintf("ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate')", pub)}
	}
	if err := ensurePartitionRouting(ctx, conn, cfg, pub); err != nil {
		return err
	}
	if all || len(publishedTables(cfg)) == 0 {
		return nil
	}
	// A partitioned table in the publication is listed by pg_publication_tables as its
	// partitions unless it publishes via the root: pg_publication_rel names it.
	rows, err := conn.Query(ctx, `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1
		UNION SELECT ns.nspname, c.relname FROM pg_publication_rel r
		JOIN pg_publication p ON p.oid = r.prpubid JOIN pg_class c ON c.oid = r.prrelid
		JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE p.pubname = $1`,
		cfg.Publication)
	if err != nil {
		return fmt.Errorf("postgres source: reading the tables of publication %s: %w", cfg.Publication, err)
	}
	covered, err := pgx.CollectRows(rows, scanTableName)
	if err != nil {
		return fmt.Errorf("postgres source: reading the tables of publication %s: %w", cfg.Publication, err)
	}
	var missing []string
	for _, t := range publishedTables(cfg) {
		if !slices.Contains(covered, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 && cfg.PublicationGap == PublicationGapResnapshot {
		// Perhaps removed while cdcd was down: the Stream's first check of the publication adds
		// them back and re-reads them (publication.go).
		cfg.Logger.Warn().Str("publication", cfg.Publication).Strs("tables", missing).
			Msg("the publication does not cover these tables: the stream adds them back and re-reads them")
		return nil
	}
	if len(missing) > 0 {
		return &ConfigError{Source: "postgres", Field: "publication",
			Problem: fmt.Sprintf("publication %s does not cover %s", cfg.Publication, strings.Join(missing, ", ")),
			Fix: fmt.Sprintf("ALTER PUBLICATION %s ADD TABLE %s, then re-read them with an execute-snapshot signal "+
				"(changes made while they were out are not captured), or set postgres.publication_gap: resnapshot", pub, quoteTables(missing))}
	}
	return nil
}

func createPublication(ctx context.Context, conn *pgx.Conn, cfg Config, pub string) error {
	what := "FOR ALL TABLES"
	if len(cfg.Tables) > 0 {
		what = "FOR TABLE " + quoteTables(publishedTables(cfg))
	}
	stmt := "CREATE PUBLICATION " + pub + " " + what + publicationOptions(cfg)
	if cfg.PublicationPolicy == PublicationMustExist {
		return &ConfigError{Source: "postgres", Field: "publication", Problem: fmt.Sprintf("publication %s does not exist", cfg.Publication),
			Fix: stmt + " (or let cdcd create it with the create policy)"}
	}
	exec := stmt
	if cfg.Connector != "" {
		// One implicit transaction: the publication never exists without its owner.
		exec += "; " + commentStatement(cfg)
	}
	if _, err := conn.Exec(ctx, exec); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" {
			// Created meanwhile by another process: check it as an existing one.
			return ensurePublication(ctx, conn, cfg)
		}
		return &ConfigError{Source: "postgres", Field: "publication",
			Problem: fmt.Sprintf("%s:%d: user %q cannot create publication %s", cfg.Host, cfg.Port, cfg.User, cfg.Publication),
			Fix: fmt.Sprintf("creating it needs CREATE on the database and to be the owner of the tables (FOR ALL TABLES: a superuser): GRANT CREATE ON DATABASE %s TO %s and ALTER TABLE ... OWNER TO %s, or run %s as the tables' owner",
				pgx.Identifier{cfg.Database}.Sanitize(), pgx.Identifier{cfg.User}.Sanitize(), pgx.Identifier{cfg.User}.Sanitize(), stmt),
			Err: err}
	}
	return nil
}

// ensureSlot checks that the slot is a pgoutput logical slot of this database, creating it
// when missing.
func ensureSlot(ctx context.Context, conn *pgx.Conn, cfg Config) error {
	var plugin, kind, database string
	var temporary bool
	err := conn.QueryRow(ctx, `SELECT coalesce(plugin, ''), slot_type, coalesce(database, ''), temporary
		FROM pg_replication_slots WHERE slot_name = $1`, cfg.Slot).Scan(&plugin, &kind, &database, &temporary)
	if errors.Is(err, pgx.ErrNoRows) {
		if cfg.SnapshotMode != SnapshotNoData {
			// The first Stream creates it, on its replication connection, exporting the
			// snapshot it reads the tables in.
			return nil
		}
		_, err := nudgePrimary(ctx, cfg, inHotStandby(conn.PgConn()), func() (pgconn.CommandTag, error) {
			return conn.Exec(ctx, createSlotSQL(conn.PgConn()), cfg.Slot)
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42710" {
			// Created meanwhile by another process: check it as an existing one.
			return ensureSlot(ctx, conn, cfg)
		}
		if err != nil {
			return slotCreateError(cfg.Slot, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("postgres source: reading replication slot %s: %w", cfg.Slot, err)
	}
	if kind != "logical" || plugin != "pgoutput" || database != cfg.Database || temporary {
		return &ConfigError{Source: "postgres", Field: "slot",
			Problem: fmt.Sprintf("slot %s exists as a %s slot of plugin %q on database %q (temporary: %t)",
				cfg.Slot, kind, plugin, database, temporary),
			Fix: fmt.Sprintf("use another slot name, or drop it: SELECT pg_drop_replication_slot('%s')", cfg.Slot)}
	}
	return warnNotFailover(ctx, conn, cfg)
}

// scanTableName reads a row of (schema, table) as connectors.JoinTable's "schema.table", the
// form of the configured names.
func scanTableName(row pgx.CollectableRow) (string, error) {
	var schema, table string
	if err := row.Scan(&schema, &table); err != nil {
		return "", err
	}
	return connectors.JoinTable(schema, table), nil
}

// quoteTables renders schema.table names as a quoted SQL list.
func quoteTables(tables []string) string {
	parts := make([]string, len(tables))
	for i, t := range tables {
		schema, name, _ := splitTable(t)
		parts[i] = pgx.Identifier{schema, name}.Sanitize()
	}
	return strings.Join(parts, ", ")
}

// slotCreateError says why a slot could not be created. Only the server's own refusal (too
// many slots, no REPLICATION attribute...) is a configuration error that stops the connector:
// a connection cut or timed out while the command ran is retried like any other network
// failure.
func slotCreateError(slot string, err error) error {
	if _, ok := errors.AsType[*pgconn.PgError](err); !ok {
		return fmt.Errorf("postgres source: creating replication slot %s: %w", slot, err)
	}
	return &ConfigError{Source: "postgres", Field: "slot", Problem: fmt.Sprintf("cannot create replication slot %s", slot),
		Fix: "check max_replication_slots and that the user has REPLICATION", Err: err}
}
