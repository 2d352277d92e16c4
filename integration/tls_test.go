package integration

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/internal/testcerts"
)

// tlsStartDeadline bounds a refused start: a wrong CA or server name must be reported at once,
// not retried until some timeout.
const tlsStartDeadline = 10 * time.Second

// The rows of the TLS tests: tlsSnapshotRows before cdcd starts, tlsStreamRows after, each
// insert its own transaction, then one update of tlsUpdatedRows rows.
const (
	tlsSnapshotRows = 50
	tlsStreamRows   = 50
	tlsUpdatedRows  = 10
)

// tlsServerFiles writes a CA and a server certificate for "localhost" only (ca.pem, server.pem,
// server-key.pem: what CDCD_PG_TLS_DIR and CDCD_MARIADB_TLS_DIR hold), and another CA that
// signed nothing of the server's. Connecting to 127.0.0.1 is then a wrong server name.
func tlsServerFiles(t *testing.T) (dir, otherCA string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "tls")
	set, err := testcerts.NewCA(dir, "cdcd test CA")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := set.Issue("server", "localhost"); err != nil {
		t.Fatal(err)
	}
	other, err := testcerts.NewCA(filepath.Join(t.TempDir(), "other"), "another CA")
	if err != nil {
		t.Fatal(err)
	}
	return dir, other.CA()
}

// refusedStart opens kind's source with s as cdcd does and checks that it fails within
// tlsStartDeadline with a configuration error (not retried) whose message names addr and says
// want.
func refusedStart(t *testing.T, kind connectors.Kind, s connectors.Settings, env connectors.Env, addr, want string) {
	t.Helper()
	kind.Defaults(s)
	if errs := kind.Validate(s); len(errs) > 0 {
		t.Fatalf("invalid settings: %v", errs)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := kind.Open(ctx, s, env)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("opened the source; want a refusal saying %q", want)
	}
	t.Logf("refused in %s: %v", took.Round(time.Millisecond), err)
	var ce *connectors.ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("the error is a %T, not a configuration error: it would be retried", err)
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || !strings.Contains(msg, want) {
		t.Errorf("the error %q does not name the server %s and say %q", msg, addr, want)
	}
	if took > tlsStartDeadline {
		t.Errorf("the refusal took %s, more than %s", took, tlsStartDeadline)
	}
}

// checkTLSRecords checks the records of the TLS tests: the snapshot's rows, the inserts and the
// update, each exactly once, the inserts in commit order.
func checkTLSRecords(t *testing.T, records []ChangeRecord) {
	t.Helper()
	if len(records) != tlsSnapshotRows+tlsStreamRows+tlsUpdatedRows {
		t.Fatalf("%d records, want %d", len(records), tlsSnapshotRows+tlsStreamRows+tlsUpdatedRows)
	}
	id := func(r ChangeRecord) int {
		n, _ := strconv.Atoi(fmt.Sprint(Unwrap(r.After()["id"])))
		return n
	}
	updated := map[int]bool{}
	for i, r := range records {
		switch {
		case i < tlsSnapshotRows:
			if r.Op() != "r" || id(r) != i+1 {
				t.Fatalf("record %d: op %s id %d, want the snapshot's row %d", i, r.Op(), id(r), i+1)
			}
		case i < tlsSnapshotRows+tlsStreamRows:
			if r.Op() != "c" || id(r) != i+1 {
				t.Fatalf("record %d: op %s id %d, want the insert of %d", i, r.Op(), id(r), i+1)
			}
		default:
			if r.Op() != "u" || id(r) < 1 || id(r) > tlsUpdatedRows || updated[id(r)] {
				t.Fatalf("record %d: op %s id %d, want an update of a row 1 to %d, once", i, r.Op(), id(r), tlsUpdatedRows)
			}
			updated[id(r)] = true
		}
	}
}

// TestPostgresTLSVerifyFull runs a PostgreSQL with ssl=on whose capture role may connect only
// over TLS (hostssl ... scram-sha-256, hostnossl ... reject). cdcd with sslmode verify-full
// snapshots and streams through it exactly once, in order, and stops cleanly; without TLS it
// is refused and says why; with another CA, or a host name the certificate does not hold, it
// fails at start within 10 s naming the server and the cause.
func TestPostgresTLSVerifyFull(t *testing.T) {
	dir, otherCA := tlsServerFiles(t)
	// Debian's 15: the PyPI build of 18, the stack's default, has no TLS (built without OpenSSL).
	const version = "15"
	stack, addr := startPrivateServer(t, "PostgreSQL", "postgres.sh", "CDCD_PG_PORT", "CDCD_PG_TLS_DIR="+dir,
		"CDCD_PG_VERSION="+version)
	pg := &PrivatePostgres{stack: stack, addr: addr, version: version}
	_, portText, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(portText)
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, tlsSnapshotRows)
	mustExec(t, conn, `ALTER TABLE counters OWNER TO cdcd_tls`)
	mustExec(t, conn, `GRANT CREATE ON DATABASE `+db.Name+` TO cdcd_tls`)
	ca := filepath.Join(dir, "ca.pem")

	section := func(host, mode, rootCert string) connectors.Settings {
		return connectors.Settings{Name: Name(t, "refused"), TopicPrefix: "refused", Section: &postgres.Section{
			Host: host, Port: port, User: "cdcd_tls", Password: "cdcd_tls", Database: db.Name,
			SSLMode: mode, SSLRootCert: rootCert, Tables: []string{"public.counters"}, SnapshotMode: "no_data"}}
	}
	t.Run("without TLS", func(t *testing.T) {
		refusedStart(t, postgres.Kind{}, section("localhost", "disable", ""), connectors.Env{}, "localhost:"+portText, "without TLS")
	})
	t.Run("another CA", func(t *testing.T) {
		refusedStart(t, postgres.Kind{}, section("localhost", "verify-full", otherCA), connectors.Env{}, "localhost:"+portText, "authority")
	})
	t.Run("wrong server name", func(t *testing.T) {
		refusedStart(t, postgres.Kind{}, section("127.0.0.1", "verify-full", ca), connectors.Env{}, "127.0.0.1:"+portText, "does not name the server")
	})

	c := newTestConnector(t)
	cdcd := StartCDCD(t, c.config("postgres", fmt.Sprintf(`    postgres:
      host: localhost
      port: %d
      user: cdcd_tls
      password: cdcd_tls
      database: %s
      sslmode: verify-full
      sslrootcert: %s
      slot: %s
      publication: %s
      tables: [public.counters]
`, port, db.Name, ca, c.Name, c.Name)))
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Prefix+".public.counters")
	records := consumer.Collect(t, tlsSnapshotRows, 2*time.Minute)
	for i := tlsSnapshotRows + 1; i <= tlsSnapshotRows+tlsStreamRows; i++ {
		mustExec(t, conn, `INSERT INTO counters VALUES ($1, 0)`, i)
	}
	mustExec(t, conn, `UPDATE counters SET v = v + 1 WHERE id <= $1`, tlsUpdatedRows)
	records = append(records, consumer.Collect(t, tlsSnapshotRows+tlsStreamRows+tlsUpdatedRows-len(records), 2*time.Minute)...)
	records = append(records, consumer.Drain(t, 3*time.Second)...)
	checkTLSRecords(t, records)

	// The replication connection itself is encrypted (the catalog's may have closed).
	var encrypted int
	err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
		WHERE a.usename = 'cdcd_tls' AND a.backend_type = 'walsender' AND s.ssl`).Scan(&encrypted)
	if err != nil || encrypted != 1 {
		t.Errorf("%d encrypted walsenders of cdcd_tls (%v), want 1", encrypted, err)
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited with %d after SIGTERM", code)
	}
}

// noHistory is an empty schema history, for opening a mysql source outside cdcd.
type noHistory struct{}

func (noHistory) ReadHistory(context.Context, string, func(int64, []byte, []byte) error) error {
	return nil
}

// TestMariaDBTLSVerifyIdentity runs a MariaDB with TLS whose capture user REQUIRE SSL. cdcd
// with ssl_mode verify_identity snapshots and streams through it (the binlog and the query
// connections) exactly once, in order, and stops cleanly; without TLS it is refused and says
// why; with another CA, or a host name the certificate does not hold, it fails at start within
// 10 s naming the server and the cause.
func TestMariaDBTLSVerifyIdentity(t *testing.T) {
	dir, otherCA := tlsServerFiles(t)
	stack, addr := startPrivateServer(t, "MariaDB", "mariadb.sh", "CDCD_MARIADB_PORT", "CDCD_MARIADB_TLS_DIR="+dir)
	m := &PrivateMariaDB{stack: stack, Addr: addr}
	_, portText, _ := strings.Cut(addr, ":")
	port, _ := strconv.Atoi(portText)
	db := m.NewDB(t)
	mustExecMySQL(t, db.DB, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	for i := 1; i <= tlsSnapshotRows; i++ {
		mustExecMySQL(t, db.DB, `INSERT INTO counters VALUES (?, 0)`, i)
	}
	ca := filepath.Join(dir, "ca.pem")

	section := func(host, mode, caFile string) connectors.Settings {
		return connectors.Settings{Name: Name(t, "refused"), TopicPrefix: "refused", Section: &mysql.Section{
			Host: host, Port: port, User: "cdcd_tls", Password: "cdcd_tls", SSLMode: mode, SSLCA: caFile,
			Databases: []string{db.Name}, SnapshotMode: "no_data"}}
	}
	env := connectors.Env{History: noHistory{}}
	t.Run("without TLS", func(t *testing.T) {
		refusedStart(t, mysql.Kind{}, section("localhost", "disabled", ""), env, "localhost:"+portText, "REQUIRE SSL")
	})
	t.Run("another CA", func(t *testing.T) {
		refusedStart(t, mysql.Kind{}, section("localhost", "verify_identity", otherCA), env, "localhost:"+portText, "authority")
	})
	t.Run("wrong server name", func(t *testing.T) {
		refusedStart(t, mysql.Kind{}, section("127.0.0.1", "verify_identity", ca), env, "127.0.0.1:"+portText, "does not name the server")
	})

	c := newTestConnector(t)
	cdcd := StartCDCD(t, c.config("mysql", fmt.Sprintf(`    mysql:
      host: localhost
      port: %d
      user: cdcd_tls
      password: cdcd_tls
      ssl_mode: verify_identity
      ssl_ca: %s
      databases: [%s]
`, port, ca, db.Name)))
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Prefix+"."+db.Name+".counters")
	records := consumer.Collect(t, tlsSnapshotRows, 2*time.Minute)
	for i := tlsSnapshotRows + 1; i <= tlsSnapshotRows+tlsStreamRows; i++ {
		mustExecMySQL(t, db.DB, `INSERT INTO counters VALUES (?, 0)`, i)
	}
	mustExecMySQL(t, db.DB, `UPDATE counters SET v = v + 1 WHERE id <= ?`, tlsUpdatedRows)
	records = append(records, consumer.Collect(t, tlsSnapshotRows+tlsStreamRows+tlsUpdatedRows-len(records), 2*time.Minute)...)
	records = append(records, consumer.Drain(t, 3*time.Second)...)
	checkTLSRecords(t, records)
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited with %d after SIGTERM", code)
	}

	// ssl_mode preferred (the default) uses TLS on the binlog connection too when the server
	// offers it: the account, REQUIRE SSL, would be refused there otherwise.
	c = newTestConnector(t)
	cdcd = StartCDCD(t, c.config("mysql", fmt.Sprintf(`    mysql:
      host: 127.0.0.1
      port: %d
      user: cdcd_tls
      password: cdcd_tls
      databases: [%s]
`, port, db.Name)))
	consumer = NewAvroConsumer(t, c.RegistryURL(), c.Prefix+"."+db.Name+".counters")
	rows := tlsSnapshotRows + tlsStreamRows
	consumer.Collect(t, rows, 2*time.Minute)
	mustExecMySQL(t, db.DB, `INSERT INTO counters VALUES (?, 0)`, rows+1)
	if got := consumer.Collect(t, 1, 2*time.Minute); got[len(got)-1].Op() != "c" {
		t.Fatalf("after the snapshot, %s; want the insert streamed from the binlog", got[len(got)-1].Op())
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd (ssl_mode preferred) exited with %d after SIGTERM", code)
	}
}
