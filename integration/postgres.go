package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresDB is a database created for one test and dropped, with its replication slots, when
// the test ends.
type PostgresDB struct {
	// Name is the database's name.
	Name string
	addr string
}

// NewPostgresDB creates an empty database for the calling test.
func NewPostgresDB(t testing.TB) *PostgresDB {
	t.Helper()
	db := &PostgresDB{Name: Name(t, "db"), addr: StackFromEnv().PostgresAddr}
	admin := connectPostgres(t, db.dsn("postgres", ""))
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+db.Name); err != nil {
		t.Fatalf("creating database %s on PostgreSQL %s: %v", db.Name, db.addr, err)
	}
	t.Cleanup(func() { db.drop(t) })
	return db
}

// DSN returns a connection string for this database as the superuser postgres.
func (db *PostgresDB) DSN() string { return db.dsn(db.Name, "") }

// ReplicationDSN returns a connection string for a logical replication connection to this
// database (replication=database), the kind that creates slots and streams pgoutput.
func (db *PostgresDB) ReplicationDSN() string { return db.dsn(db.Name, "&replication=database") }

func (db *PostgresDB) dsn(name, extra string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&connect_timeout=10%s", db.addr, name, extra)
}

// Conn opens a connection to this database, closed when the test ends.
func (db *PostgresDB) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	return connectPostgres(t, db.DSN())
}

// ReplicationConn opens a logical replication connection to this database, closed when the test
// ends.
func (db *PostgresDB) ReplicationConn(t testing.TB) *pgconn.PgConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, db.ReplicationDSN())
	if err != nil {
		t.Fatalf("opening a replication connection to PostgreSQL %s: %v", db.addr, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func connectPostgres(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to PostgreSQL (is the stack up? make stack-up): %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// drop removes the database's slots, then the database. A logical slot keeps its database
// alive, and an active one must lose its walsender before it can be dropped.
func (db *PostgresDB) drop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, db.dsn("postgres", ""))
	if err != nil {
		t.Errorf("dropping database %s: %v", db.Name, err)
		return
	}
	defer func() { _ = admin.Close(ctx) }()
	dropSlots := func() error {
		_, err := admin.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
			WHERE database = $1 AND active_pid IS NOT NULL`, db.Name)
		if err != nil {
			return err
		}
		_, err = admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
			WHERE database = $1 AND NOT active`, db.Name)
		if err != nil {
			return err
		}
		var left int
		if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = $1`,
			db.Name).Scan(&left); err != nil {
			return err
		}
		if left > 0 {
			return fmt.Errorf("%d replication slots left", left)
		}
		return nil
	}
	if err := Eventually(20*time.Second, dropSlots); err != nil {
		t.Errorf("dropping the replication slots of database %s: %v", db.Name, err)
		return
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db.Name+" WITH (FORCE)"); err != nil {
		t.Errorf("dropping database %s: %v", db.Name, err)
	}
}

// mustExec runs SQL on conn, failing the test on error.
func mustExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
