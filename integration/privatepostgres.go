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

// privateScriptTimeout bounds one run of a stack script or of pg_ctl on a private server: a
// start includes creating the data folder, a stop waits up to 60 s for a clean shutdown, and a
// crash recovery after an immediate stop takes seconds; the machine may be loaded.
const privateScriptTimeout = 5 * time.Minute

// privateStack is a private stack folder run by the deploy/dev scripts with env overrides: the
// folder of a test's own PostgreSQL, MariaDB or Kafka, beside the shared stack's servers.
type privateStack struct {
	dir string
	env []string
}

// newPrivateStack makes a private stack folder the postgres user can reach (initdb refuses to
// run as root, so postgres.sh runs the server as postgres, and t.TempDir's folders are private
// to their owner).
func newPrivateStack(t testing.TB, env ...string) *privateStack {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("opening %s to the postgres user: %v", d, err)
		}
	}
	s := &privateStack{dir: filepath.Join(dir, "stack")}
	s.env = append(append(os.Environ(), "CDCD_STACK_DIR="+s.dir), env...)
	return s
}

// script runs a deploy/dev script of this stack (relative to this package's folder, where
// `go test` runs the tests). Not the test's context: a cleanup's stop runs after it is
// cancelled.
func (s *privateStack) script(name, command string) error {
	return s.run("../deploy/dev/"+name, command)
}

// run runs cmdline with the stack's environment, bounded by privateScriptTimeout; the error
// holds its output.
func (s *privateStack) run(cmdline ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), privateScriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cmdline[0], cmdline[1:]...)
	cmd.Env = s.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmdline, " "), err, out.String())
	}
	return nil
}

// startPrivateServer starts the server of a deploy/dev script (what names it in errors) on a
// private stack, its port variable set to a free port, and registers its stop when the test
// ends. It returns the stack and the server's host:port. env holds more settings of the
// script (VAR=value), e.g. CDCD_PG_TLS_DIR.
func startPrivateServer(t testing.TB, what, script, portVar string, env ...string) (*privateStack, string) {
	t.Helper()
	addr := FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	s := newPrivateStack(t, append([]string{portVar + "=" + port}, env...)...)
	t.Cleanup(func() {
		if err := s.script(script, "down"); err != nil {
			t.Errorf("stopping the private %s on %s: %v", what, addr, err)
		}
	})
	if err := s.script(script, "up"); err != nil {
		t.Fatalf("starting the private %s on %s: %v", what, addr, err)
	}
	return s, addr
}

// PrivatePostgres is a PostgreSQL server of the calling test's own, run by
// deploy/dev/postgres.sh in a private stack folder on a free port, beside the shared stack's
// server. A test may stop or restart it, in any of pg_ctl's modes, or change its settings,
// which the shared server, used by every other test, must never go through. The restart tests
// and the chaos suite both use it.
type PrivatePostgres struct {
	stack   *privateStack
	addr    string
	version string
}

// StartPrivatePostgres initialises and starts a private server (wal_level=logical, as the
// shared one) and registers its stop, and the removal of its folder, when the test ends. Its
// major version is CDCD_PG_VERSION's, as postgres.sh picks it (18 when unset).
func StartPrivatePostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	return StartPrivatePostgresVersion(t, "")
}

// StartPrivatePostgresVersion is StartPrivatePostgres with the server of a chosen major
// version ("15" Debian's; "16", "17", "18" fetched and cached by deploy/dev/pgversions.sh), so
// that a test runs against several versions beside the shared server of one. An empty version
// is CDCD_PG_VERSION's.
func StartPrivatePostgresVersion(t testing.TB, version string) *PrivatePostgres {
	t.Helper()
	if version == "" {
		version = PostgresVersionWanted()
	}
	stack, addr := startPrivateServer(t, "PostgreSQL "+version, "postgres.sh", "CDCD_PG_PORT",
		"CDCD_PG_VERSION="+version)
	return &PrivatePostgres{stack: stack, addr: addr, version: version}
}

// PostgresVersionWanted is the major version CDCD_PG_VERSION asks for, "18" (the newest
// supported, deploy/dev/postgres.sh's default, which make test's stack runs) when unset.
func PostgresVersionWanted() string {
	if v := os.Getenv("CDCD_PG_VERSION"); v != "" {
		return v
	}
	return "18"
}

// Version is the server's major version, as it was asked for.
func (p *PrivatePostgres) Version() string { return p.version }

// Addr is the server's host:port.
func (p *PrivatePostgres) Addr() string { return p.addr }

// Start starts the server (again, with its data) and returns once it accepts connections; a
// server that runs is left as it is.
func (p *PrivatePostgres) Start(t testing.TB) {
	t.Helper()
	if err := p.stack.script("postgres.sh", "up"); err != nil {
		t.Fatalf("starting the private PostgreSQL on %s: %v", p.addr, err)
	}
}

// Stop stops the server with pg_ctl's shutdown mode (smart, fast or immediate). With wait
// false it returns once the shutdown was asked for: a smart shutdown waits for every client
// session to end (see Stopped).
func (p *PrivatePostgres) Stop(t testing.TB, mode string, wait bool) {
	t.Helper()
	waitFlag := "-W"
	if wait {
		waitFlag = "-w"
	}
	if err := p.pgCtl("stop", "-m", mode, waitFlag); err != nil {
		t.Fatalf("pg_ctl stop -m %s of the private PostgreSQL %s: %v", mode, p.addr, err)
	}
}

// Restart runs pg_ctl restart in mode (smart, fast or immediate) and returns once the server
// accepts connections again.
func (p *PrivatePostgres) Restart(t testing.TB, mode string) {
	t.Helper()
	if err := p.pgCtl("restart", "-m", mode); err != nil {
		t.Fatalf("pg_ctl restart -m %s of the private PostgreSQL %s: %v", mode, p.addr, err)
	}
}

// Stopped tells whether the server's postmaster has gone (its pid file with it).
func (p *PrivatePostgres) Stopped() bool {
	_, err := os.Stat(filepath.Join(p.dataDir(), "postmaster.pid"))
	return os.IsNotExist(err)
}

// NewDB creates an empty database on this server for the calling test, dropped with its slots
// when the test ends (before the server stops).
func (p *PrivatePostgres) NewDB(t testing.TB) *PostgresDB {
	t.Helper()
	db := &PostgresDB{Name: Name(t, "db"), addr: p.addr}
	admin := connectPostgres(t, db.dsn("postgres", ""))
	defer func() { _ = admin.Close(context.Background()) }()
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

// dataDir is the server's data folder, as postgres.sh lays out its stack folder: data for
// Debian's 15, data-<major> for the others.
func (p *PrivatePostgres) dataDir() string {
	name := "data"
	if p.version != "" && p.version != "15" {
		name = "data-" + p.version
	}
	return filepath.Join(p.stack.dir, "postgres", name)
}

// pgCtl runs pg_ctl on this server's data folder with args, as the postgres user when we are
// root (as postgres.sh does), waiting at most 120 s for what it was asked when it waits.
func (p *PrivatePostgres) pgCtl(args ...string) error {
	pgCtl, err := p.binary("pg_ctl")
	if err != nil {
		return err
	}
	cmdline := append([]string{pgCtl, "-D", p.dataDir(),
		"-l", filepath.Join(p.stack.dir, "postgres", "postgres.log"), "-t", "120"}, args...)
	if os.Getuid() == 0 {
		cmdline = append([]string{"runuser", "-u", "postgres", "--"}, cmdline...)
	}
	return p.stack.run(cmdline...)
}

// binary is the path of a server program (pg_ctl, pg_basebackup...) of this server's version:
// postgres.sh records the binaries' folder it started a data folder with beside it
// (<data>.bin); without that record, Debian's newest.
func (p *PrivatePostgres) binary(name string) (string, error) {
	if b, err := os.ReadFile(p.dataDir() + ".bin"); err == nil && strings.TrimSpace(string(b)) != "" {
		return filepath.Join(strings.TrimSpace(string(b)), name), nil
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(bins) == 0 {
		return "", fmt.Errorf("no %s under /usr/lib/postgresql", name)
	}
	// The newest version, as postgres.sh picks (the versions compare as numbers).
	slices.SortFunc(bins, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return bins[len(bins)-1], nil
}
