package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// privatePostgresScript is the stack script that runs PostgreSQL, relative to this package's
// folder (where `go test` runs the tests).
const privatePostgresScript = "../deploy/dev/postgres.sh"

// privatePostgresTimeout bounds one start, stop or restart: initdb and a crash recovery after an
// immediate stop take seconds, but the machine may be loaded.
const privatePostgresTimeout = 3 * time.Minute

// PrivatePostgres is a PostgreSQL server of the calling test's own, run by
// deploy/dev/postgres.sh in a private stack folder on a free port, beside the shared stack's
// server. A test may restart it, in any of pg_ctl's modes, or change its settings, which the
// shared server, used by every other test, must never go through.
type PrivatePostgres struct {
	addr string
	dir  string
	env  []string
}

// StartPrivatePostgres initialises and starts a private server (wal_level=logical, as the
// shared one) and registers its stop, and the removal of its folder, when the test ends.
func StartPrivatePostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	// Not t.TempDir: the server runs as the postgres user, which must reach the folder, and
	// t.TempDir's folders are private to root.
	dir, err := os.MkdirTemp("", "cdcd-privatepg-")
	if err != nil {
		t.Fatalf("creating the private PostgreSQL's folder: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("opening the private PostgreSQL's folder to its server: %v", err)
	}
	addr := FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	p := &PrivatePostgres{
		addr: addr,
		dir:  dir,
		env:  append(os.Environ(), "CDCD_STACK_DIR="+dir, "CDCD_PG_PORT="+port),
	}
	t.Cleanup(func() {
		if out, err := p.script("down"); err != nil {
			t.Errorf("stopping the private PostgreSQL on %s: %v\n%s", p.addr, err, out)
			return
		}
		_ = os.RemoveAll(dir)
	})
	if out, err := p.script("up"); err != nil {
		t.Fatalf("starting the private PostgreSQL on %s: %v\n%s", p.addr, err, out)
	}
	return p
}

// Addr is the server's host:port.
func (p *PrivatePostgres) Addr() string { return p.addr }

// NewDB creates an empty database on this server for the calling test, dropped with its slots
// when the test ends (before the server stops).
func (p *PrivatePostgres) NewDB(t testing.TB) *PostgresDB {
	t.Helper()
	db := &PostgresDB{Name: Name(t, "db"), addr: p.addr}
	admin := connectPostgres(t, db.dsn("postgres", ""))
	if _, err := admin.Exec(t.Context(), "CREATE DATABASE "+db.Name); err != nil {
		t.Fatalf("creating database %s on the private PostgreSQL %s: %v", db.Name, p.addr, err)
	}
	t.Cleanup(func() { db.drop(t) })
	return db
}

// Set changes a setting of the server that a reload applies (ALTER SYSTEM, then
// pg_reload_conf), and returns once the server reports the new value.
func (p *PrivatePostgres) Set(t testing.TB, name, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", p.addr))
	if err != nil {
		t.Fatalf("connecting to the private PostgreSQL %s: %v", p.addr, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", pgx.Identifier{name}.Sanitize(), value)); err != nil {
		t.Fatalf("ALTER SYSTEM SET %s on the private PostgreSQL: %v", name, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatalf("reloading the private PostgreSQL's settings: %v", err)
	}
	WaitFor(t, time.Minute, name+" = "+value, func() error {
		var got string
		// A new connection reads the reloaded file; this one may not have processed the
		// reload's signal yet.
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", p.addr))
		if err != nil {
			return err
		}
		defer func() { _ = c.Close(context.Background()) }()
		if err := c.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			return err
		}
		if got != value {
			return fmt.Errorf("%s is %q", name, got)
		}
		return nil
	})
}

// Restart runs pg_ctl restart in mode (smart, fast or immediate) and returns once the server
// accepts connections again.
func (p *PrivatePostgres) Restart(t testing.TB, mode string) {
	t.Helper()
	if out, err := p.pgCtl("restart", "-m", mode); err != nil {
		t.Fatalf("pg_ctl restart -m %s of the private PostgreSQL %s: %v\n%s", mode, p.addr, err, out)
	}
}

// pgCtl runs pg_ctl on this server's data folder with args, as the postgres user when we are
// root (as postgres.sh does), waiting for it to finish what it was asked.
func (p *PrivatePostgres) pgCtl(args ...string) (string, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		return "", fmt.Errorf("no pg_ctl under /usr/lib/postgresql")
	}
	// The newest version, as postgres.sh picks (the versions compare as numbers).
	slices.SortFunc(bins, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	pgData := filepath.Join(p.dir, "postgres", "data")
	cmdline := append([]string{bins[len(bins)-1], "-D", pgData, "-l", filepath.Join(p.dir, "postgres", "postgres.log"),
		"-w", "-t", "120"}, args...)
	if os.Getuid() == 0 {
		cmdline = append([]string{"runuser", "-u", "postgres", "--"}, cmdline...)
	}
	return p.run(cmdline...)
}

// script runs postgres.sh with command on this server's stack, returning its output. It does
// not use the test's context: the cleanup's stop runs after that context is cancelled.
func (p *PrivatePostgres) script(command string) (string, error) {
	return p.run(privatePostgresScript, command)
}

func (p *PrivatePostgres) run(cmdline ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), privatePostgresTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cmdline[0], cmdline[1:]...)
	cmd.Env = p.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w", strings.Join(cmdline, " "), err)
	}
	return out.String(), nil
}
