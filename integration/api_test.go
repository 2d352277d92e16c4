package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

type offsetsBody struct {
	Offsets []struct {
		Partition map[string]any  `json:"partition"`
		Offset    json.RawMessage `json:"offset"`
	} `json:"offsets"`
}

// ids returns the "id" of each record's after image, in order.
func ids(records []ChangeRecord) []int64 {
	out := make([]int64, 0, len(records))
	for _, r := range records {
		if after := r.After(); after != nil {
			out = append(out, toInt64(after["id"]))
		}
	}
	return out
}

func idsFromTo(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestAPIConnectorLifecycle runs the lifecycle over HTTP against the real stack: a
// PostgreSQL and a MariaDB connector created, RUNNING, their changes in Kafka; paused (nothing
// new arrives) and resumed; stopped, their offsets read, patched back to an earlier position
// and resumed: the range after it is delivered again; a position the source no longer has is
// refused with the reason; deleted.
func TestAPIConnectorLifecycle(t *testing.T) {
	pg := NewPostgresDB(t)
	pconn := pg.Conn(t)
	mustExec(t, pconn, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)`)
	my := NewMariaDB(t)
	mustExecMySQL(t, my.DB, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)`)

	d := StartDaemon(t)
	pgName, myName := Name(t, "pg"), Name(t, "my")
	pgPrefix, myPrefix := Name(t, "pp"), Name(t, "mp")
	pgCfg := PostgresAPIConfig(pg, pgName, pgPrefix, "public.items")
	pgCfg["postgres.replay_window"] = "30m"
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": pgName, "config": pgCfg}, nil)
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors",
		map[string]any{"name": myName, "config": MySQLAPIConfig(my, myPrefix, "items")}, nil)
	d.WaitState(t, pgName, "RUNNING")
	d.WaitState(t, myName, "RUNNING")

	var names []string
	d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors", nil, &names)
	if !slices.Contains(names, pgName) || !slices.Contains(names, myName) {
		t.Fatalf("GET /connectors = %v, want both connectors", names)
	}
	// The status carries the initial snapshot's progress per table.
	WaitFor(t, time.Minute, "the snapshot's progress in the status", func() error {
		var st struct {
			WorkerID struct {
				WorkerID string `json:"worker_id"`
			} `json:"connector"`
			Snapshot []struct {
				Table string `json:"table"`
			} `json:"snapshot"`
		}
		d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors/"+pgName+"/status", nil, &st)
		if len(st.Snapshot) != 1 || st.Snapshot[0].Table != "public.items" || st.WorkerID.WorkerID == "" {
			return fmt.Errorf("status %+v, want the snapshot of public.items and a worker id", st)
		}
		return nil
	})
	var info struct {
		Config map[string]string `json:"config"`
	}
	d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors/"+myName, nil, &info)
	if pw := info.Config["mysql.password"]; pw == MariaDBCapturePassword || pw == "" {
		t.Errorf("GET /connectors/%s shows the password as %q, want it masked", myName, pw)
	}

	pgCons := NewAvroConsumer(t, "http://"+d.Registry, pgPrefix+".public.items")
	myCons := NewAvroConsumer(t, "http://"+d.Registry, myPrefix+"."+my.Name+".items")
	write := func(from, to int) {
		for i := from; i <= to; i++ {
			mustExec(t, pconn, `INSERT INTO items VALUES ($1, 0)`, i)
			mustExecMySQL(t, my.DB, `INSERT INTO items VALUES (?, 0)`, i)
		}
	}
	expectIDs := func(what string, c *AvroConsumer, want []int64) {
		t.Helper()
		got := ids(c.Collect(t, len(want), 2*time.Minute))
		if !slices.Equal(got, want) {
			t.Fatalf("%s: ids %v, want %v", what, got, want)
		}
	}
	write(1, 5)
	expectIDs("postgres, first rows", pgCons, idsFromTo(1, 5))
	expectIDs("mariadb, first rows", myCons, idsFromTo(1, 5))
	// The offsets after the first five rows, to replay from later. They are read while the
	// connectors run (GET is allowed), once every record up to them is visible.
	var pgEarlier, myEarlier offsetsBody
	d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors/"+pgName+"/offsets", nil, &pgEarlier)
	d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors/"+myName+"/offsets", nil, &myEarlier)
	if len(pgEarlier.Offsets) != 1 || len(myEarlier.Offsets) != 1 {
		t.Fatalf("offsets: postgres %+v, mariadb %+v; want one each", pgEarlier, myEarlier)
	}
	write(6, 10)
	expectIDs("postgres, next rows", pgCons, idsFromTo(6, 10))
	expectIDs("mariadb, next rows", myCons, idsFromTo(6, 10))

	// Paused: nothing new arrives; resumed: it does.
	d.MustCall(t, http.StatusAccepted, http.MethodPut, "/connectors/"+pgName+"/pause", nil, nil)
	d.WaitState(t, pgName, "PAUSED")
	mustExec(t, pconn, `INSERT INTO items VALUES (11, 0)`)
	if extra := pgCons.Drain(t, 3*time.Second); len(extra) != 0 {
		t.Fatalf("%d records arrived while the connector was paused", len(extra))
	}
	d.MustCall(t, http.StatusAccepted, http.MethodPut, "/connectors/"+pgName+"/resume", nil, nil)
	d.WaitState(t, pgName, "RUNNING")
	expectIDs("postgres, after resume", pgCons, []int64{11})

	// Offsets change only while stopped.
	code, raw := d.Call(t, http.MethodPatch, "/connectors/"+pgName+"/offsets", pgEarlier)
	if code != http.StatusConflict {
		t.Fatalf("PATCH offsets of a running connector: %d %s, want 409", code, raw)
	}
	for _, name := range []string{pgName, myName} {
		d.MustCall(t, http.StatusNoContent, http.MethodPut, "/connectors/"+name+"/stop", nil, nil)
		d.WaitState(t, name, "STOPPED")
	}
	// A position the source no longer has is refused, saying why.
	gone := fmt.Sprintf(`{"offsets":[{"partition":{"server":%q},"offset":{"source":{"lsn":"0/10"}}}]}`, pgPrefix)
	code, raw = d.Call(t, http.MethodPatch, "/connectors/"+pgName+"/offsets", gone)
	if code != http.StatusBadRequest || !strings.Contains(string(raw), "confirmed flush") {
		t.Fatalf("PATCH an LSN the slot no longer has: %d %s, want 400 naming the confirmed flush LSN", code, raw)
	}
	// Patched back, resumed: the range after the earlier offset comes again.
	d.MustCall(t, http.StatusOK, http.MethodPatch, "/connectors/"+pgName+"/offsets", pgEarlier, nil)
	d.MustCall(t, http.StatusOK, http.MethodPatch, "/connectors/"+myName+"/offsets", myEarlier, nil)
	var now offsetsBody
	d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors/"+myName+"/offsets", nil, &now)
	if len(now.Offsets) != 1 || string(now.Offsets[0].Offset) != string(myEarlier.Offsets[0].Offset) {
		t.Fatalf("offsets after PATCH = %+v, want %s", now, myEarlier.Offsets[0].Offset)
	}
	for _, name := range []string{pgName, myName} {
		d.MustCall(t, http.StatusAccepted, http.MethodPut, "/connectors/"+name+"/resume", nil, nil)
		d.WaitState(t, name, "RUNNING")
	}
	expectIDs("postgres, replayed", pgCons, idsFromTo(6, 11))
	expectIDs("mariadb, replayed", myCons, idsFromTo(6, 10))

	for _, name := range []string{pgName, myName} {
		d.MustCall(t, http.StatusOK, http.MethodDelete, "/connectors/"+name, nil, nil)
		if code, raw := d.Call(t, http.MethodGet, "/connectors/"+name, nil); code != http.StatusNotFound {
			t.Errorf("GET a deleted connector: %d %s, want 404", code, raw)
		}
	}
	d.Stop(time.Minute)
}

// TestAPIDaemonRestartRestoresConnectorsExactlyOnce creates a PostgreSQL and a MariaDB
// connector over HTTP, runs the counter workload on both, and kills the daemon with SIGKILL
// twice: each restart restores both connectors from the config topic, and each topic holds
// every increment exactly once.
func TestAPIDaemonRestartRestoresConnectorsExactlyOnce(t *testing.T) {
	pg := NewPostgresDB(t)
	pconn := pg.Conn(t)
	mustExec(t, pconn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	mustExec(t, pconn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
	my := NewMariaDB(t)
	mustExecMySQL(t, my.DB, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	for i := 1; i <= counterKeys; i++ {
		mustExecMySQL(t, my.DB, `INSERT INTO counters VALUES (?, 0)`, i)
	}

	d := StartDaemon(t)
	pgName, myName := Name(t, "pg"), Name(t, "my")
	pgPrefix, myPrefix := Name(t, "pp"), Name(t, "mp")
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors",
		map[string]any{"name": pgName, "config": PostgresAPIConfig(pg, pgName, pgPrefix, "public.counters")}, nil)
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors",
		map[string]any{"name": myName, "config": MySQLAPIConfig(my, myPrefix, "counters")}, nil)
	d.WaitState(t, pgName, "RUNNING")
	d.WaitState(t, myName, "RUNNING")

	pgCons := NewAvroConsumer(t, "http://"+d.Registry, pgPrefix+".public.counters")
	myCons := NewAvroConsumer(t, "http://"+d.Registry, myPrefix+"."+my.Name+".counters")
	// The snapshots (one record per key) first, then the increments.
	pgRecords := pgCons.Collect(t, counterKeys, 2*time.Minute)
	myRecords := myCons.Collect(t, counterKeys, 2*time.Minute)
	pgWriter := startCounterWriter(t, pgIncrement(pg.Conn(t)))
	myWriter := startCounterWriter(t, mysqlIncrement(my.DB))
	for range 2 {
		pgRecords = append(pgRecords, pgCons.Collect(t, 100, 2*time.Minute)...)
		myRecords = append(myRecords, myCons.Collect(t, 100, 2*time.Minute)...)
		d.Kill()
		d.Restart(t)
		var names []string
		d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors", nil, &names)
		if !slices.Contains(names, pgName) || !slices.Contains(names, myName) {
			t.Fatalf("after a restart GET /connectors = %v, want both connectors restored", names)
		}
	}
	pgExpected, myExpected := pgWriter.stop(t), myWriter.stop(t)
	checkCounters(t, collectCounters(t, pgCons, pgRecords, pgExpected), pgExpected)
	checkCounters(t, collectCounters(t, myCons, myRecords, myExpected), myExpected)
	d.Stop(time.Minute)
}

// TestAPIRefusesHostileRequests sends malformed and hostile requests to a running daemon: each
// gets a 4xx with a JSON message, and the daemon keeps serving. A second daemon listening
// beyond loopback requires its token.
func TestAPIRefusesHostileRequests(t *testing.T) {
	d := StartDaemon(t)
	pg := NewPostgresDB(t)
	mustExec(t, pg.Conn(t), `CREATE TABLE items (id int PRIMARY KEY)`)
	name := Name(t, "pg")
	good := PostgresAPIConfig(pg, name, Name(t, "pp"), "public.items")
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": name, "config": good}, nil)

	huge := `{"name":"x","config":{"type":"` + strings.Repeat("a", 2<<20) + `"}}`
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/connectors", "{"},
		{http.MethodPost, "/connectors", "not json"},
		{http.MethodPost, "/connectors", ""},
		{http.MethodPost, "/connectors", `{"name":"a","config":{"type":"postgres"}} trailing`},
		{http.MethodPost, "/connectors", `{"name":5,"config":{}}`},
		{http.MethodPost, "/connectors", `{"name":"a","config":{"postgres.port":5432}}`},
		{http.MethodPost, "/connectors", `{"name":"a","config":["x"]}`},
		{http.MethodPost, "/connectors", `{"name":"a","config":{},"extra":1}`},
		{http.MethodPost, "/connectors", `{"config":{"type":"postgres"}}`},
		{http.MethodPost, "/connectors", `{"name":"../etc","config":{"type":"postgres"}}`},
		{http.MethodPost, "/connectors", `{"name":"a b","config":{"type":"postgres"}}`},
		{http.MethodPost, "/connectors", map[string]any{"name": strings.Repeat("n", 300), "config": good}},
		{http.MethodPost, "/connectors", map[string]any{"name": name, "config": good}},
		{http.MethodPost, "/connectors", map[string]any{"name": "new-one", "config": map[string]string{"type": "postgres", "postgres.hots": "x"}}},
		{http.MethodPost, "/connectors", map[string]any{"name": "new-one", "config": map[string]string{"type": "oracle"}}},
		{http.MethodPost, "/connectors", map[string]any{"name": "new-one", "config": map[string]string{"type": "postgres", "postgres.port": "fifty"}}},
		{http.MethodPost, "/connectors", huge},
		{http.MethodPut, "/connectors/" + name + "/config", `{"type": 1}`},
		{http.MethodPut, "/connectors/" + name + "/config", map[string]string{"name": "other"}},
		{http.MethodGet, "/connectors/no-such-connector", nil},
		{http.MethodGet, "/connectors/no-such-connector/status", nil},
		{http.MethodDelete, "/connectors/no-such-connector", nil},
		{http.MethodGet, "/connectors/%2e%2e%2fetc", nil},
		{http.MethodGet, "/connectors/a%00b", nil},
		{http.MethodGet, "/connectors/" + strings.Repeat("x", 4000), nil},
		{http.MethodGet, "/no/such/path", nil},
		{http.MethodDelete, "/connectors", nil},
		{http.MethodPost, "/connectors/" + name + "/pause", nil},
		{http.MethodPatch, "/connectors/" + name + "/offsets", `{"offsets":[{"partition":{"server":"x"},"offset":{"source":{"lsn":"0/1"}}}]}`},
		{http.MethodPatch, "/connectors/" + name + "/offsets", `{"offsets":"all"}`},
		{http.MethodPut, "/connector-plugins/oracle/config/validate", map[string]string{"type": "oracle"}},
		{http.MethodPut, "/connector-plugins/postgres/config/validate", `[1,2]`},
		{http.MethodPost, "/connectors/" + name + "/snapshots", `{"tables":"public.items"}`},
		{http.MethodPost, "/connectors/" + name + "/snapshots", `{"tables":["public.items"]}`},
	} {
		code, raw := d.Call(t, tc.method, tc.path, tc.body)
		label := fmt.Sprintf("%s %s %.80v", tc.method, tc.path, tc.body)
		if code < 400 || code > 499 {
			t.Errorf("%s: %d %.200s, want a 4xx", label, code, raw)
			continue
		}
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Message == "" || e.Code != code {
			t.Errorf("%s: %d body %.200s, want {error_code, message}", label, code, raw)
		}
		// The daemon keeps serving.
		d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors/"+name, nil, nil)
	}

	// Beyond loopback, the token is required.
	other := &Daemon{Registry: FreeAddr(t), Prefix: Name(t, "d")}
	_, port, _ := strings.Cut(FreeAddr(t), ":")
	other.API = "http://127.0.0.1:" + port
	other.CDCD = StartCDCD(t, DaemonConfig(other.Prefix, "0.0.0.0:"+port, other.Registry, `token: "s3cret-token-for-the-api"`))
	bearer := http.Header{"Authorization": []string{"Bearer s3cret-token-for-the-api"}}
	WaitFor(t, time.Minute, "the second daemon's API", func() error {
		if other.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", other.Logs())
		}
		code, raw, err := tryCall(t, other.API, http.MethodGet, "/readyz", nil, bearer)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("readyz: %d %s", code, raw)
		}
		return nil
	})
	for _, h := range []http.Header{nil, {"Authorization": []string{"Bearer wrong"}}, {"Authorization": []string{"Basic czNjcmV0"}}} {
		if code, raw := callAPI(t, other.API, http.MethodGet, "/connectors", nil, h); code != http.StatusUnauthorized {
			t.Errorf("GET /connectors with %v: %d %s, want 401", h, code, raw)
		}
	}
	if code, raw := callAPI(t, other.API, http.MethodGet, "/connectors", nil, bearer); code != http.StatusOK {
		t.Errorf("GET /connectors with the token: %d %s", code, raw)
	}
	if strings.Contains(other.Logs(), "s3cret-token-for-the-api") || strings.Contains(d.Logs(), MariaDBCapturePassword+`"`) {
		t.Errorf("a secret is in a log")
	}
	other.Stop(time.Minute)
	d.Stop(time.Minute)
}

// TestTailShowsDecodedChanges runs `cdcd tail` on a connector's topic: it prints each change
// as a JSON line decoded through the registry.
func TestTailShowsDecodedChanges(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)`)
	mustExec(t, conn, `INSERT INTO items VALUES (1, 'one'), (2, 'two')`)
	c := NewPostgresConnector(t, db, "public.items")
	p := StartCDCD(t, c.Config())
	NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 2, time.Minute)

	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "tail", c.Topic("items"), "--brokers", StackFromEnv().KafkaAddr,
		"--registry", c.RegistryURL(), "--from-beginning", "--max", "2", "--timeout", "1m").Output()
	if err != nil {
		t.Fatalf("cdcd tail: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("cdcd tail printed %d lines, want 2:\n%s", len(lines), out)
	}
	for i, line := range lines {
		var rec struct {
			Topic string `json:"topic"`
			Value struct {
				Op    string         `json:"op"`
				After map[string]any `json:"after"`
			} `json:"value"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		if rec.Topic != c.Topic("items") || rec.Value.Op != "r" || fmt.Sprint(Unwrap(rec.Value.After["label"])) != []string{"one", "two"}[i] {
			t.Errorf("line %d: %s", i, line)
		}
	}
	p.Stop(time.Minute)
}

// TestCLIManagesConnectors drives a daemon with the CLI: apply a connector from a YAML file,
// list it, see its changes, stop it, read and reset its offsets (it then starts anew: the
// initial snapshot reads the table again), delete it; an error answer makes the command fail
// with the daemon's message.
func TestCLIManagesConnectors(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)`)
	d := StartDaemon(t)
	name, prefix := Name(t, "pg"), Name(t, "pp")
	host, port, _ := strings.Cut(db.addr, ":")
	file := t.TempDir() + "/connector.yaml"
	writeFile(t, file, fmt.Sprintf(`name: %s
type: postgres
topic_prefix: %s
postgres:
  host: %s
  port: %s
  user: postgres
  database: %s
  slot: %s
  publication: %s
  tables: [public.items]
`, name, prefix, host, port, db.Name, name, name))

	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (string, error) {
		t.Helper()
		args = append(args, "--api", d.API)
		out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput()
		return string(out), err
	}
	mustCLI := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("cdcd %v: %v\n%s", args, err, out)
		}
		return out
	}
	if out := mustCLI("connectors", "apply", "-f", file); !strings.Contains(out, name) {
		t.Errorf("apply printed %q", out)
	}
	if out := mustCLI("connectors", "list"); !strings.Contains(out, name) {
		t.Errorf("list printed %q, want %s", out, name)
	}
	d.WaitState(t, name, "RUNNING")
	// RUNNING comes before the slot is created: the row must be written once it streams.
	WaitSlotStreaming(t, conn, name)
	consumer := NewAvroConsumer(t, "http://"+d.Registry, prefix+".public.items")
	mustExec(t, conn, `INSERT INTO items VALUES (1, 0)`)
	if got := consumer.Collect(t, 1, time.Minute); got[0].Op() != "c" {
		t.Fatalf("first record op %s, want c", got[0].Op())
	}
	if out := mustCLI("connectors", "get", name); !strings.Contains(out, `"RUNNING"`) {
		t.Errorf("get printed %s, want the RUNNING status", out)
	}

	mustCLI("connectors", "stop", name)
	d.WaitState(t, name, "STOPPED")
	if out := mustCLI("offsets", "get", name); !strings.Contains(out, `"lsn"`) || !strings.Contains(out, prefix) {
		t.Errorf("offsets get printed %s, want the LSN under the partition of %s", out, prefix)
	}
	mustCLI("offsets", "reset", name)
	if out := mustCLI("offsets", "get", name); strings.Contains(out, `"lsn"`) {
		t.Errorf("offsets get after reset printed %s, want none", out)
	}
	mustCLI("connectors", "resume", name)
	// Started anew under snapshot_mode initial: the row is read again by a snapshot.
	if got := consumer.Collect(t, 1, time.Minute); got[0].Op() != "r" || toInt64(got[0].After()["id"]) != 1 {
		t.Fatalf("after the reset: op %s id %v, want the snapshot read of row 1", got[0].Op(), got[0].After()["id"])
	}

	mustCLI("connectors", "delete", name)
	if out := mustCLI("connectors", "list"); strings.Contains(out, name) {
		t.Errorf("list after delete printed %q", out)
	}
	out, err := cli("connectors", "get", name)
	if err == nil || !strings.Contains(out, "404") {
		t.Errorf("get of a deleted connector: %v, %q; want a failure quoting the 404", err, out)
	}
	d.Stop(time.Minute)
}
