package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// mariaDBGrant is one grant of docs/security.md's list for a MySQL/MariaDB connector: what is
// granted, and what cdcd's error must name when it is missing (the resource and the
// permission).
type mariaDBGrant struct {
	privilege string
	// on is the grant's level: "*.*" (global) or "db" (the connector's database).
	on string
}

// mariaDBGrants is docs/security.md's list.
var mariaDBGrants = []mariaDBGrant{
	{"SELECT", "db"}, {"RELOAD", "*.*"}, {"REPLICATION SLAVE", "*.*"}, {"REPLICATION CLIENT", "*.*"},
}

// newMariaDBUser creates a user of the shared MariaDB, for the calling test alone (dropped when
// it ends), with password and grants.
func newMariaDBUser(t *testing.T, db *MariaDB, password string, grants []mariaDBGrant) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	user := "cdcd_g_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	exec := func(q string) {
		t.Helper()
		if _, err := db.DB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", user, password))
	t.Cleanup(func() { _, _ = db.DB.ExecContext(context.Background(), fmt.Sprintf("DROP USER '%s'@'%%'", user)) })
	for _, g := range grants {
		on := g.on
		if on == "db" {
			on = db.Name + ".*"
		}
		exec(fmt.Sprintf("GRANT %s ON %s TO '%s'@'%%'", g.privilege, on, user))
	}
	return user
}

// asMariaDBUser returns c's config with user and password in place of the stack's capture
// user's.
func asMariaDBUser(c *MySQLConnector, user, password string) string {
	config := strings.Replace(c.Config(), "user: "+MariaDBCaptureUser+"\n", "user: "+user+"\n", 1)
	return strings.Replace(config, "password: "+MariaDBCapturePassword+"\n", "password: "+password+"\n", 1)
}

// TestMariaDBGrants gives a user of its own exactly docs/security.md's grants: a MariaDB
// connector streams. Without each grant in turn, and with a wrong password, cdcd stops (the
// connector FAILED, the daemon without API exits) with an error naming the server, the
// resource and the permission missing, instead of retrying.
func TestMariaDBGrants(t *testing.T) {
	db := NewMariaDB(t)
	if _, err := db.DB.ExecContext(t.Context(), "CREATE TABLE items (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DB.ExecContext(t.Context(), "INSERT INTO items VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}
	const password = "Grants-Pw-1"
	server := fmt.Sprintf("%s:%d", db.Host(), db.Port())

	t.Run("all", func(t *testing.T) {
		user := newMariaDBUser(t, db, password, mariaDBGrants)
		c := NewMySQLConnector(t, db, "items")
		p := StartCDCD(t, asMariaDBUser(c, user, password))
		if got := ids(NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 2, 2*time.Minute)); len(got) != 2 {
			t.Fatalf("streamed ids %v, want 2 rows", got)
		}
		if code := p.Stop(time.Minute); code != 0 {
			t.Errorf("cdcd exited with %d after SIGTERM", code)
		}
	})

	// fails runs cdcd as user and checks that it stops with an error naming each of want.
	fails := func(t *testing.T, user, password string, want ...string) {
		t.Helper()
		c := NewMySQLConnector(t, db, "items")
		started := time.Now()
		p := StartCDCD(t, asMariaDBUser(c, user, password))
		if code := p.Wait(2 * time.Minute); code == 0 {
			t.Fatalf("cdcd exited with 0")
		}
		elapsed := time.Since(started)
		logs := p.Logs()
		for _, w := range want {
			if !strings.Contains(logs, w) {
				t.Errorf("cdcd's log does not name %q:\n%s", w, grepLines(logs, "error", "warn"))
			}
		}
		for _, retry := range []string{"restarting from the committed position", "retrying"} {
			if n := strings.Count(logs, retry); n > 0 {
				t.Errorf("cdcd logged %q %d times", retry, n)
			}
		}
		if strings.Contains(logs, password) {
			t.Errorf("cdcd's log shows the password")
		}
		t.Logf("exited after %s: %s", elapsed.Round(time.Millisecond), lastLines(grepLines(logs, "error"), 1))
	}
	for _, without := range mariaDBGrants {
		t.Run("without "+without.privilege, func(t *testing.T) {
			var grants []mariaDBGrant
			for _, g := range mariaDBGrants {
				if g != without {
					grants = append(grants, g)
				}
			}
			user := newMariaDBUser(t, db, password, grants)
			resource := "*.*"
			if without.on == "db" {
				resource = db.Name + ".items"
			}
			fails(t, user, password, server, user, resource, without.privilege)
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		user := newMariaDBUser(t, db, password, mariaDBGrants)
		fails(t, user, "Not-"+password, server, user, "Access denied", "check the user and password")
	})
	// Over the API, the connector goes FAILED (not RESTARTING) with the same error, and the
	// daemon goes on.
	t.Run("wrong password over the API", func(t *testing.T) {
		user := newMariaDBUser(t, db, password, mariaDBGrants)
		d := StartDaemon(t)
		name := Name(t, "c")
		cfg := MySQLAPIConfig(db, name, "items")
		cfg["mysql.user"], cfg["mysql.password"] = user, "Not-"+password
		started := time.Now()
		d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": name, "config": cfg}, nil)
		d.WaitState(t, name, "FAILED")
		t.Logf("FAILED after %s", time.Since(started).Round(time.Millisecond))
		_, raw := d.Call(t, http.MethodGet, "/connectors/"+name+"/status", nil)
		for _, w := range []string{server, user, "Access denied"} {
			if !strings.Contains(string(raw), w) {
				t.Errorf("status %s does not name %q", raw, w)
			}
		}
		if d.LogsContain("retrying") || strings.Contains(string(raw), password) {
			t.Errorf("the connector was retried, or its status shows the password:\n%s\n%s", raw, grepLines(d.Logs(), "error", "warn"))
		}
	})
}

// TestPostgresGrants gives a role of its own exactly docs/security.md's grants: a PostgreSQL
// connector streams, with the publication created by cdcd (the role owns the table) and with
// one created beforehand (the role does not). Without each grant in turn, cdcd stops (the
// connector FAILED, the daemon without API exits) with an error naming the server, the
// resource and the permission missing, instead of retrying.
func TestPostgresGrants(t *testing.T) {
	type setup struct {
		replication, connect, selectTable, owner, createOnDB, publication bool
	}
	all := setup{replication: true, connect: true, selectTable: true, owner: true, createOnDB: true}
	// prepare makes a database with a table items, a role with s's grants, and a connector
	// of the role on the table.
	prepare := func(t *testing.T, s setup) (*PostgresConnector, string) {
		db := NewPostgresDB(t)
		admin := db.Conn(t)
		var b [4]byte
		_, _ = rand.Read(b[:])
		role := "cdcd_g_" + hex.EncodeToString(b[:])
		mustExec(t, admin, `CREATE TABLE items (id int PRIMARY KEY)`)
		mustExec(t, admin, `INSERT INTO items VALUES (1), (2)`)
		attrs := "LOGIN"
		if s.replication {
			attrs += " REPLICATION"
		}
		mustExec(t, admin, fmt.Sprintf(`CREATE ROLE %s %s`, role, attrs))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := pgx.Connect(ctx, db.DSN())
			if err != nil {
				t.Errorf("dropping role %s: %v", role, err)
				return
			}
			defer func() { _ = c.Close(ctx) }()
			if _, err := c.Exec(ctx, fmt.Sprintf(`DROP OWNED BY %s; DROP ROLE %s`, role, role)); err != nil {
				t.Errorf("dropping role %s: %v", role, err)
			}
		})
		if s.selectTable {
			mustExec(t, admin, fmt.Sprintf(`GRANT SELECT ON items TO %s`, role))
		}
		if s.owner {
			mustExec(t, admin, fmt.Sprintf(`ALTER TABLE items OWNER TO %s`, role))
		}
		if s.createOnDB {
			mustExec(t, admin, fmt.Sprintf(`GRANT CREATE ON DATABASE %s TO %s`, db.Name, role))
		}
		if !s.connect {
			mustExec(t, admin, fmt.Sprintf(`REVOKE CONNECT ON DATABASE %s FROM PUBLIC`, db.Name))
		}
		c := NewPostgresConnector(t, db, "public.items")
		if s.publication {
			mustExec(t, admin, fmt.Sprintf(`CREATE PUBLICATION %s FOR TABLE items`, c.Name))
		}
		return c, role
	}
	asRole := func(c *PostgresConnector, role string) string {
		return strings.Replace(c.Config(), "user: postgres\n", "user: "+role+"\n", 1)
	}
	server := StackFromEnv().PostgresAddr

	for _, tc := range []struct {
		name string
		s    setup
	}{
		{"all", all},
		{"all, the publication created beforehand", setup{replication: true, connect: true, selectTable: true, publication: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, role := prepare(t, tc.s)
			p := StartCDCD(t, asRole(c, role))
			if got := ids(NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 2, 2*time.Minute)); len(got) != 2 {
				t.Fatalf("streamed ids %v, want 2 rows", got)
			}
			if code := p.Stop(time.Minute); code != 0 {
				t.Errorf("cdcd exited with %d after SIGTERM", code)
			}
		})
	}

	for _, tc := range []struct {
		name string
		s    setup
		// want is what the error must name beside the server and the role: the resource
		// and the permission.
		want func(c *PostgresConnector) []string
	}{
		{"without REPLICATION", setup{connect: true, selectTable: true, owner: true, createOnDB: true},
			func(*PostgresConnector) []string { return []string{"lacks the REPLICATION attribute"} }},
		{"without CONNECT", setup{replication: true, selectTable: true, owner: true, createOnDB: true},
			func(c *PostgresConnector) []string { return []string{c.DB.Name, "GRANT CONNECT"} }},
		{"without SELECT", setup{replication: true, connect: true, publication: true},
			func(*PostgresConnector) []string {
				return []string{"permission denied for table items", "GRANT SELECT"}
			}},
		{"without CREATE on the database, no publication", setup{replication: true, connect: true, selectTable: true, owner: true},
			func(c *PostgresConnector) []string {
				return []string{c.Name, "permission denied for database " + c.DB.Name, "GRANT CREATE ON DATABASE"}
			}},
		{"without owning the table, no publication", setup{replication: true, connect: true, selectTable: true, createOnDB: true},
			func(c *PostgresConnector) []string {
				return []string{c.Name, "must be owner of table items", "OWNER TO"}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, role := prepare(t, tc.s)
			started := time.Now()
			p := StartCDCD(t, asRole(c, role))
			if code := p.Wait(2 * time.Minute); code == 0 {
				t.Fatalf("cdcd exited with 0")
			}
			logs := p.Logs()
			for _, w := range append([]string{server, role}, tc.want(c)...) {
				if !strings.Contains(logs, w) {
					t.Errorf("cdcd's log does not name %q:\n%s", w, grepLines(logs, "error", "warn"))
				}
			}
			for _, retry := range []string{"restarting from the committed position", "retrying"} {
				if n := strings.Count(logs, retry); n > 0 {
					t.Errorf("cdcd logged %q %d times", retry, n)
				}
			}
			t.Logf("exited after %s: %s", time.Since(started).Round(time.Millisecond), lastLines(grepLines(logs, "error"), 1))
		})
	}
}
