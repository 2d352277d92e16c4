package integration

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFileConnectorShownByTheAPI: a connector of the config file runs through the same worker
// as those created over the API: with the API on, it is listed, has a status and metrics, and
// its changes reach Kafka.
func TestFileConnectorShownByTheAPI(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.items")
	apiAddr := FreeAddr(t)
	cfg := c.Config()
	for old, repl := range map[string]string{
		"api:\n  listen: \"off\"\n": "api:\n  listen: " + apiAddr + "\n",
		// A config topic of its own: the default one is another daemon's.
		"kafka:\n": "kafka:\n  config_topic: " + c.Prefix + "_configs\n",
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("the config has no %q:\n%s", old, cfg)
		}
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	d := &Daemon{CDCD: StartCDCD(t, cfg), API: "http://" + apiAddr, Registry: c.Registry, Prefix: c.Prefix, config: cfg}
	d.WaitReady(t)

	var names []string
	d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors", nil, &names)
	if !slices.Contains(names, c.Name) {
		t.Fatalf("GET /connectors = %v, want the file's connector %s", names, c.Name)
	}
	d.WaitState(t, c.Name, "RUNNING")
	c.WaitStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO items VALUES (1, 10)`)
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 1, 2*time.Minute)
	if got[0].After()["qty"] != 10 {
		t.Errorf("record %v, want qty 10", got[0].After())
	}
	WaitFor(t, time.Minute, "the file's connector in the metrics", func() error {
		code, raw := d.Call(t, http.MethodGet, "/metrics", nil)
		want := fmt.Sprintf(`cdcd_connector_records_total{connector=%q}`, c.Name)
		if code != http.StatusOK || !strings.Contains(string(raw), want) {
			return fmt.Errorf("GET /metrics: %d, no %s", code, want)
		}
		return nil
	})
	if code := d.Stop(time.Minute); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestFileConnectorWaitsForItsDatabase: with the API off, a connector of the file whose
// PostgreSQL cannot be reached at the start retries, as one created over the API does, saying
// so once per attempt, instead of ending cdcd; once PostgreSQL answers, its changes flow.
func TestFileConnectorWaitsForItsDatabase(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	mustExec(t, conn, `INSERT INTO items VALUES (1, 10)`)
	fwd := NewForwarder(t, db.addr) // closed: the port refuses connections
	behind := *db
	behind.addr = fwd.Addr
	c := NewPostgresConnector(t, &behind, "public.items")
	p := StartCDCD(t, c.Config())

	WaitFor(t, 2*time.Minute, "two attempts to open the source", func() error {
		if p.Exited() {
			t.Fatalf("cdcd exited while its PostgreSQL was unreachable; log:\n%s", p.Logs())
		}
		if n := strings.Count(p.Logs(), "building the connector failed, retrying"); n < 2 {
			return fmt.Errorf("%d retry warnings", n)
		}
		return nil
	})
	fwd.Open()
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 1, 2*time.Minute)
	if got[0].After()["qty"] != 10 {
		t.Errorf("record %v, want the snapshot's qty 10", got[0].After())
	}
	if code := p.Stop(time.Minute); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
