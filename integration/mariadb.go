package integration

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	// Registers the "mysql" database/sql driver.
	_ "github.com/go-sql-driver/mysql"
)

// MariaDBCaptureUser and MariaDBCapturePassword are the capture user the stack creates, with the
// grants a connector needs (SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE and CLIENT).
const (
	MariaDBCaptureUser     = "cdcd"
	MariaDBCapturePassword = "cdcd"
)

// MariaDB is a database created for one test and dropped when the test ends.
type MariaDB struct {
	// Name is the database's name.
	Name string
	// DB is a connection pool on this database as root, closed when the test ends.
	DB   *sql.DB
	addr string
}

// NewMariaDB creates an empty database for the calling test.
func NewMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	m := &MariaDB{Name: Name(t, "db"), addr: StackFromEnv().MariaDBAddr}
	admin := openMariaDB(t, m.dsn(""))
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+m.Name); err != nil {
		t.Fatalf("creating database %s on MariaDB %s (is the stack up? make stack-up): %v", m.Name, m.addr, err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+m.Name); err != nil {
			t.Errorf("dropping database %s: %v", m.Name, err)
		}
	})
	m.DB = openMariaDB(t, m.dsn(m.Name))
	return m
}

// Host returns the server's host.
func (m *MariaDB) Host() string {
	host, _, _ := net.SplitHostPort(m.addr)
	return host
}

// Port returns the server's port.
func (m *MariaDB) Port() uint16 {
	_, port, _ := net.SplitHostPort(m.addr)
	n, _ := strconv.ParseUint(port, 10, 16)
	return uint16(n)
}

func (m *MariaDB) dsn(database string) string {
	return fmt.Sprintf("root@tcp(%s)/%s?timeout=10s&parseTime=true", m.addr, database)
}

func openMariaDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatalf("opening MariaDB: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
