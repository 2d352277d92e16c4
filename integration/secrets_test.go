package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSecretsByReferenceNeverShown is issue 15's secrets test. A private PostgreSQL asks two
// roles for their passwords (scram-sha-256); one connector is created over the API with its
// role's password as a literal, one with ${file:...} naming a properties file the test writes.
// The daemon's secrets key (api.secrets_key) is a reference to the same file. Both stream.
// Then the test searches for the passwords' bytes: neither password is in the config topic's
// raw records (the literal is sealed there, under the key's id), the API's answers, the CLI's
// output, cdcd's debug log. A connector with a wrong literal password fails with an error that
// shows neither password. A properties file losing its key makes the connector FAILED at its
// next restart, the error naming the reference; the key back, a restart runs it again. The
// daemon restarted, the literal connector opens its sealed password and runs again.
func TestSecretsByReferenceNeverShown(t *testing.T) {
	pg := StartPrivatePostgres(t)
	db := pg.NewDB(t)
	admin := db.Conn(t)
	mustExec(t, admin, `CREATE TABLE items (id int PRIMARY KEY)`)
	secret := func() string {
		var b [12]byte
		_, _ = rand.Read(b[:])
		return "Pw" + hex.EncodeToString(b[:])
	}
	litPW, refPW, wrongPW := secret(), secret(), secret()
	mustExec(t, admin, fmt.Sprintf(`CREATE ROLE lit_user LOGIN SUPERUSER REPLICATION PASSWORD '%s'`, litPW))
	mustExec(t, admin, fmt.Sprintf(`CREATE ROLE ref_user LOGIN SUPERUSER REPLICATION PASSWORD '%s'`, refPW))
	requirePasswords(t, admin, pg.Addr(), "lit_user", "ref_user")

	props := filepath.Join(t.TempDir(), "pg.properties")
	var key [32]byte
	_, _ = rand.Read(key[:])
	keyLine := "cdcd.secrets_key = " + base64.StdEncoding.EncodeToString(key[:]) + "\n"
	writeFile(t, props, "# cdcd's PostgreSQL secrets\npg.password = "+refPW+"\n"+keyLine)
	ref := "${file:" + props + ":pg.password}"

	d := &Daemon{API: "http://" + FreeAddr(t), Registry: FreeAddr(t), Prefix: Name(t, "d")}
	d.config = DaemonConfig(d.Prefix, strings.TrimPrefix(d.API, "http://"), d.Registry,
		"secrets_key: ${file:"+props+":cdcd.secrets_key}")
	d.CDCD = StartCDCD(t, d.config)
	d.WaitReady(t)
	var answers [][]byte
	call := func(want int, method, path string, body any) []byte {
		t.Helper()
		code, raw := d.Call(t, method, path, body)
		answers = append(answers, raw)
		if code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
		}
		return raw
	}
	config := func(name, user, password string) map[string]string {
		c := PostgresAPIConfig(db, name, name, "public.items")
		c["postgres.user"], c["postgres.password"] = user, password
		return c
	}
	litName, refName, wrongName := Name(t, "lit"), Name(t, "ref"), Name(t, "wrong")
	call(http.StatusOK, http.MethodPut, "/connector-plugins/postgres/config/validate", config(litName, "lit_user", litPW))
	call(http.StatusOK, http.MethodPut, "/connector-plugins/postgres/config/validate", config(refName, "ref_user", ref))
	call(http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": litName, "config": config(litName, "lit_user", litPW)})
	call(http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": refName, "config": config(refName, "ref_user", ref)})
	d.WaitState(t, litName, "RUNNING")
	d.WaitState(t, refName, "RUNNING")
	mustExec(t, admin, `INSERT INTO items VALUES (1), (2)`)
	for _, name := range []string{litName, refName} {
		if got := ids(NewAvroConsumer(t, "http://"+d.Registry, name+".public.items").Collect(t, 2, 2*time.Minute)); len(got) != 2 {
			t.Fatalf("%s streamed ids %v, want 2 rows", name, got)
		}
	}

	// A failed connection: a wrong literal password. Its error names the server and the
	// cause, not the password.
	call(http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": wrongName, "config": config(wrongName, "lit_user", wrongPW)})
	var trace string
	WaitFor(t, 2*time.Minute, "the wrong password's error in the status", func() error {
		raw := call(http.StatusOK, http.MethodGet, "/connectors/"+wrongName+"/status", nil)
		if !bytes.Contains(raw, []byte("password authentication failed")) {
			return fmt.Errorf("status %s", raw)
		}
		trace = string(raw)
		return nil
	})

	// Every read of the API.
	call(http.StatusOK, http.MethodGet, "/connectors", nil)
	call(http.StatusOK, http.MethodGet, "/connectors?expand=status&expand=info", nil)
	for _, name := range []string{litName, refName, wrongName} {
		for _, path := range []string{"", "/config", "/status", "/offsets"} {
			call(http.StatusOK, http.MethodGet, "/connectors/"+name+path, nil)
		}
	}
	// The reference is shown as it is, the literal masked.
	info := string(call(http.StatusOK, http.MethodGet, "/connectors/"+refName+"/config", nil))
	if !strings.Contains(info, `"postgres.password":"`+ref+`"`) {
		t.Errorf("GET %s/config = %s, want the reference shown", refName, info)
	}
	if lit := string(call(http.StatusOK, http.MethodGet, "/connectors/"+litName+"/config", nil)); !strings.Contains(lit, `"postgres.password":"********"`) {
		t.Errorf("GET %s/config = %s, want the literal masked", litName, lit)
	}

	// The CLI.
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	var cliOut bytes.Buffer
	for _, args := range [][]string{{"connectors", "list"}, {"connectors", "get", litName}, {"connectors", "get", refName}, {"connectors", "get", wrongName}} {
		out, err := exec.CommandContext(t.Context(), bin, append(args, "--api", d.API)...).CombinedOutput()
		if err != nil {
			t.Fatalf("cdcd %v: %v\n%s", args, err, out)
		}
		cliOut.Write(out)
	}
	if !strings.Contains(cliOut.String(), ref) {
		t.Errorf("the CLI's output does not show the reference:\n%s", cliOut.String())
	}

	// A rotated secret is read at the next start: the key gone, a restart FAILS naming the
	// reference; the key back, a restart runs again.
	writeFile(t, props, "other = x\n"+keyLine)
	call(http.StatusNoContent, http.MethodPost, "/connectors/"+refName+"/restart", nil)
	d.WaitState(t, refName, "FAILED")
	st := string(call(http.StatusOK, http.MethodGet, "/connectors/"+refName+"/status", nil))
	if !strings.Contains(st, ref) || !strings.Contains(st, `no key`) {
		t.Errorf("status %s, want the trace to name the reference and the missing key", st)
	}
	writeFile(t, props, "pg.password = "+refPW+"\n"+keyLine)
	call(http.StatusNoContent, http.MethodPost, "/connectors/"+refName+"/restart", nil)
	d.WaitState(t, refName, "RUNNING")

	// A new process reads the sealed password back with the key: the literal connector runs,
	// and streams what it had not.
	d.Stop(time.Minute)
	d.Restart(t)
	d.WaitState(t, litName, "RUNNING")
	mustExec(t, admin, `INSERT INTO items VALUES (3)`)
	if got := ids(NewAvroConsumer(t, "http://"+d.Registry, litName+".public.items").Collect(t, 3, 2*time.Minute)); len(got) != 3 {
		t.Fatalf("%s streamed ids %v after the restart, want 3 rows", litName, got)
	}

	// The config topic, as any client of the broker reads it.
	topic := readTopic(t, d.Prefix+"_configs", litName, refName, wrongName)
	t.Logf("searched %d API answers, %d bytes of CLI output, %d config records, %d bytes of log; the failed connection: %s",
		len(answers), cliOut.Len(), len(topic), len(d.Logs()), trace)

	for _, pw := range []struct{ name, value string }{{"referenced", refPW}, {"literal", litPW}, {"wrong", wrongPW}} {
		for i, a := range answers {
			if bytes.Contains(a, []byte(pw.value)) {
				t.Errorf("API answer %d shows the %s password: %s", i, pw.name, a)
			}
		}
		if strings.Contains(cliOut.String(), pw.value) {
			t.Errorf("the CLI's output shows the %s password", pw.name)
		}
		if d.LogsContain(pw.value) {
			t.Errorf("cdcd's log shows the %s password", pw.name)
		}
		if strings.Contains(trace, pw.value) {
			t.Errorf("the failed connection's error shows the %s password: %s", pw.name, trace)
		}
	}
	sealed := 0
	for _, r := range topic {
		key, value := string(r.Key), string(r.Value)
		for _, pw := range []struct{ name, value string }{{"referenced", refPW}, {"literal", litPW}, {"wrong", wrongPW}} {
			if bytes.Contains(r.Key, []byte(pw.value)) || bytes.Contains(r.Value, []byte(pw.value)) {
				t.Errorf("the config topic's record %s holds the %s password", key, pw.name)
			}
		}
		if strings.Contains(key, refName) && strings.Contains(value, "postgres.password") && !strings.Contains(value, ref) {
			t.Errorf("the config topic's record %s does not hold the reference: %s", key, value)
		}
		if strings.Contains(key, litName) && strings.Contains(value, `"postgres.password":"cdcd-sealed:v1:`) {
			sealed++
		}
	}
	if sealed == 0 {
		t.Errorf("no record of %s holds its password sealed", litName)
	}
}

// requirePasswords makes the private server at addr ask users for their password
// (scram-sha-256) on TCP, for normal and replication connections: pg_hba.conf's first lines
// (the private server trusts every other user), then a reload. It waits until a wrong password
// is refused.
func requirePasswords(t *testing.T, admin *pgx.Conn, addr string, users ...string) {
	t.Helper()
	var hba string
	if err := admin.QueryRow(t.Context(), "SHOW hba_file").Scan(&hba); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	var rules string
	for _, db := range []string{"all", "replication"} {
		rules += fmt.Sprintf("host %s %s 127.0.0.1/32 scram-sha-256\n", db, strings.Join(users, ","))
	}
	// The file exists: WriteFile keeps its owner (the server's user).
	if err := os.WriteFile(hba, append([]byte(rules), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	mustExec(t, admin, "SELECT pg_reload_conf()")
	WaitFor(t, time.Minute, "the server to ask for passwords", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:not-it@%s/postgres?sslmode=disable", users[0], addr))
		if err == nil {
			_ = c.Close(ctx)
			return fmt.Errorf("%s connected with a wrong password", users[0])
		}
		if !strings.Contains(err.Error(), "password authentication failed") {
			return err
		}
		return nil
	})
}

// readTopic reads the records of topic from its start until it has read one whose key names
// each of names, and a minute more of nothing new at most.
func readTopic(t *testing.T, topic string, names ...string) []*kgo.Record {
	t.Helper()
	client := NewKafkaClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	seen := map[string]bool{}
	WaitFor(t, 2*time.Minute, "the config topic's records of "+strings.Join(names, ", "), func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		client.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			for _, n := range names {
				if strings.HasSuffix(string(r.Key), n) {
					seen[n] = true
				}
			}
		})
		for _, n := range names {
			if !seen[n] {
				return fmt.Errorf("no record of %s yet (%d read)", n, len(out))
			}
		}
		return nil
	})
	return out
}
