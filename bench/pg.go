package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The workload's table; every measurement captures this one table.
const (
	benchTable     = "bench_items"
	createTableSQL = `CREATE TABLE bench_items (id bigint PRIMARY KEY, qty int, price numeric(10,2),
		name text, updated_at timestamptz)`
	// insertRangeSQL writes the rows $1..$2 in one statement; updated_at is the time of the row's
	// own write, not of its transaction's start.
	insertRangeSQL = `INSERT INTO bench_items (id, qty, price, name, updated_at)
		SELECT g, g % 1000, (g % 100000) / 100.0, 'item ' || g, clock_timestamp()
		FROM generate_series($1::bigint, $2::bigint) AS g`
)

// pgDatabase is a database created by the bench, with its publication.
type pgDatabase struct {
	name        string
	publication string
}

func (b *bench) dsn(database string) string {
	return fmt.Sprintf("postgres://postgres@%s:%d/%s?sslmode=disable&connect_timeout=10",
		b.s.pgHost, b.s.pgPort, database)
}

func (b *bench) connect(ctx context.Context, database string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, b.dsn(database))
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL %s:%d database %s (is the stack up? make stack-up): %w",
			b.s.pgHost, b.s.pgPort, database, err)
	}
	return conn, nil
}

func (b *bench) postgresVersion(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := b.connect(ctx, "postgres")
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("reading the PostgreSQL version: %w", err)
	}
	return v, nil
}

// newDatabase creates a database named after phase holding the empty bench table and a
// publication of it, and registers its removal (slots first: a slot keeps its database).
func (b *bench) newDatabase(ctx context.Context, phase string) (*pgDatabase, error) {
	db := &pgDatabase{name: b.name(phase), publication: b.name(phase) + "_pub"}
	admin, err := b.connect(ctx, "postgres")
	if err != nil {
		return nil, err
	}
	defer func() { _ = admin.Close(context.Background()) }()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db.name); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", db.name, err)
	}
	b.onCleanup("dropping database "+db.name, func(ctx context.Context) error { return b.dropDatabase(ctx, db.name) })
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, createTableSQL); err != nil {
		return nil, fmt.Errorf("creating table %s in database %s: %w", benchTable, db.name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+db.publication+" FOR TABLE "+benchTable); err != nil {
		return nil, fmt.Errorf("creating publication %s in database %s: %w", db.publication, db.name, err)
	}
	return db, nil
}

// createSlot creates a pgoutput slot; changes committed after it returns are kept for it.
func (b *bench) createSlot(ctx context.Context, db *pgDatabase, slot string) error {
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot); err != nil {
		return fmt.Errorf("creating replication slot %s in database %s: %w", slot, db.name, err)
	}
	return nil
}

// insertRange writes rows from..to in one autocommitted statement.
func insertRange(ctx context.Context, conn *pgx.Conn, from, to int64) error {
	if _, err := conn.Exec(ctx, insertRangeSQL, from, to); err != nil {
		return fmt.Errorf("inserting rows %d..%d into %s: %w", from, to, benchTable, err)
	}
	return nil
}

// errSlotsLeft says a slot of a database could not be dropped yet (its walsender is ending).
var errSlotsLeft = errors.New("replication slots left")

// dropDatabase drops the database's replication slots, then the database. An active slot must
// lose its walsender before it can be dropped, so the drop is retried until the deadline.
func (b *bench) dropDatabase(ctx context.Context, name string) error {
	admin, err := b.connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer func() { _ = admin.Close(context.Background()) }()
	for {
		err := dropSlots(ctx, admin, name)
		if err == nil {
			break
		}
		if !errors.Is(err, errSlotsLeft) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dropping the replication slots of database %s: %w", name, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %s: %w", name, err)
	}
	return nil
}

func dropSlots(ctx context.Context, admin *pgx.Conn, database string) error {
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE database = $1 AND active_pid IS NOT NULL`, database); err != nil {
		return fmt.Errorf("ending the walsenders of database %s: %w", database, err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE database = $1 AND NOT active`, database); err != nil {
		return fmt.Errorf("dropping the replication slots of database %s: %w", database, err)
	}
	var left int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`,
		database).Scan(&left); err != nil {
		return fmt.Errorf("counting the replication slots of database %s: %w", database, err)
	}
	if left > 0 {
		return fmt.Errorf("%w: %d", errSlotsLeft, left)
	}
	return nil
}

// slotActive tells whether a walsender is streaming from slot.
func (b *bench) slotActive(ctx context.Context, db *pgDatabase, slot string) (bool, error) {
	conn, err := b.connect(ctx, db.name)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var active bool
	err = conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the state of slot %s: %w", slot, err)
	}
	return active, nil
}
