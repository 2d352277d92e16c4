package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// connectorStatus is the part of GET /connectors/{name}/status these tests read.
type connectorStatus struct {
	Connector struct {
		State       string     `json:"state"`
		Trace       string     `json:"trace"`
		NextAttempt *time.Time `json:"next_attempt"`
	} `json:"connector"`
	Tasks []struct {
		State       string     `json:"state"`
		NextAttempt *time.Time `json:"next_attempt"`
	} `json:"tasks"`
}

// status reads the connector's status.
func (d *Daemon) status(t testing.TB, name string) (connectorStatus, error) {
	t.Helper()
	var st connectorStatus
	code, raw := d.Call(t, http.MethodGet, "/connectors/"+name+"/status", nil)
	if code != http.StatusOK {
		return st, fmt.Errorf("status: %d %s", code, raw)
	}
	return st, json.Unmarshal(raw, &st)
}

// waitRestarting waits until the connector is RESTARTING with an error and a next attempt
// after since.
func (d *Daemon) waitRestarting(t testing.TB, name string, since time.Time) connectorStatus {
	t.Helper()
	var st connectorStatus
	WaitFor(t, 2*time.Minute, name+" RESTARTING with its error and next attempt", func() error {
		var err error
		if st, err = d.status(t, name); err != nil {
			return err
		}
		c := st.Connector
		if c.State != "RESTARTING" || c.Trace == "" || c.NextAttempt == nil || c.NextAttempt.Before(since) ||
			len(st.Tasks) != 1 || st.Tasks[0].State != "RESTARTING" || st.Tasks[0].NextAttempt == nil {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	return st
}

// waitCommitted waits until the connector has committed an offset.
func (d *Daemon) waitCommitted(t testing.TB, name string) {
	t.Helper()
	WaitFor(t, 2*time.Minute, name+"'s first commit", func() error {
		var offs struct {
			Offsets []any `json:"offsets"`
		}
		d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors/"+name+"/offsets", nil, &offs)
		if len(offs.Offsets) == 0 {
			return fmt.Errorf("no committed offset yet")
		}
		return nil
	})
}

// TestStatusShowsRetries: a connector whose PostgreSQL cannot be reached is RESTARTING with
// the error and the next attempt, not RUNNING nor FAILED, both while it is being opened and
// while it runs, and RUNNING once PostgreSQL answers again; each retry logs one warning. A
// permanent error is FAILED and stays so.
func TestStatusShowsRetries(t *testing.T) {
	pg := NewPostgresDB(t)
	pconn := pg.Conn(t)
	mustExec(t, pconn, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)`)
	mustExec(t, pconn, `INSERT INTO items VALUES (0, 0)`)
	fwd := NewForwarder(t, pg.addr) // closed: the port refuses connections

	d := StartDaemon(t)
	name := Name(t, "pg")
	cfg := PostgresAPIConfig(pg, name, Name(t, "p"), "public.items")
	host, port, _ := strings.Cut(fwd.Addr, ":")
	cfg["postgres.host"], cfg["postgres.port"] = host, port
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": name, "config": cfg}, nil)

	// Unreachable while opening the source.
	st := d.waitRestarting(t, name, time.Time{})
	if !strings.Contains(st.Connector.Trace, "refused") {
		t.Errorf("trace %q, want the connection refused", st.Connector.Trace)
	}
	fwd.Open()
	d.WaitState(t, name, "RUNNING")

	// Unreachable while running: the connections are cut and the port closed. (Once the
	// snapshot is committed: a cut while the slot is being created is another matter.)
	d.waitCommitted(t, name)
	// (The next attempt's time has a second's precision.)
	cut := time.Now().Truncate(time.Second)
	fwd.Close()
	d.waitRestarting(t, name, cut)
	fwd.Open()
	mustExec(t, pconn, `INSERT INTO items VALUES (1, 1)`)
	d.WaitState(t, name, "RUNNING")
	if st, err := d.status(t, name); err != nil || st.Connector.Trace != "" || st.Connector.NextAttempt != nil {
		t.Errorf("RUNNING status %+v (%v), want no trace nor next attempt", st, err)
	}

	// One warning per retry, naming the next attempt; no second line for the same failure.
	logs := d.Logs()
	if n := strings.Count(logs, "pipeline failed, restarting"); n == 0 {
		t.Errorf("no retry warning while PostgreSQL was down")
	}
	if !strings.Contains(logs, "building the connector failed, retrying") {
		t.Errorf("no warning while the source could not be opened")
	}
	for line := range strings.Lines(logs) {
		if strings.Contains(line, `"pipeline stopped"`) {
			t.Errorf("a second line for a retried failure: %s", line)
		}
		if strings.Contains(line, "failed, retrying") || strings.Contains(line, "failed, restarting") {
			if !strings.Contains(line, `"level":"warn"`) || !strings.Contains(line, "next_attempt") {
				t.Errorf("retry line without the warn level or the next attempt: %s", line)
			}
		}
	}

	// A permanent error (a table that does not exist) is FAILED and not retried.
	bad := Name(t, "bad")
	badCfg := PostgresAPIConfig(pg, bad, Name(t, "b"), "public.nope")
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": bad, "config": badCfg}, nil)
	d.WaitState(t, bad, "FAILED")
	// A connector created after it runs, which takes longer than a build retry (1 s) would.
	other := Name(t, "ok")
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors",
		map[string]any{"name": other, "config": PostgresAPIConfig(pg, other, Name(t, "o"), "public.items")}, nil)
	d.WaitState(t, other, "RUNNING")
	if st, err := d.status(t, bad); err != nil || st.Connector.State != "FAILED" || !strings.Contains(st.Connector.Trace, "nope") {
		t.Errorf("permanent error status %+v (%v), want FAILED naming the table", st, err)
	}
	if n := strings.Count(d.Logs(), `"connector":"`+bad+`"`); n == 0 {
		t.Errorf("no log line for the failed connector")
	}
	var builds int
	for line := range strings.Lines(d.Logs()) {
		if strings.Contains(line, `"connector":"`+bad+`"`) && strings.Contains(line, "building the connector failed") {
			builds++
		}
	}
	if builds != 1 {
		t.Errorf("%d failed builds of the connector with a permanent error, want 1", builds)
	}
}
