package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cdcd-dev/cdcd/api"
)

// fakeDaemon answers PUT /connectors/shop/config and then, to GET .../status, UNASSIGNED once
// and the states given, the last one repeated.
func fakeDaemon(t *testing.T, states ...api.TaskStatus) *httptest.Server {
	t.Helper()
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/connectors/shop/config":
			_ = json.NewEncoder(w).Encode(api.ConnectorInfo{Name: "shop"})
		case r.Method == http.MethodGet && r.URL.Path == "/connectors/shop/status":
			n := int(polls.Add(1)) - 1
			task := api.TaskStatus{State: api.StateUnassigned}
			if n > 0 {
				task = states[min(n-1, len(states)-1)]
			}
			_ = json.NewEncoder(w).Encode(api.ConnectorStatus{Name: "shop",
				Connector: api.ConnectorState{State: task.State, Trace: task.Trace}, Tasks: []api.TaskStatus{task}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func connectorFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shop.yaml")
	body := "name: shop\ntype: postgres\ntopic_prefix: shop\npostgres: {host: db, user: u, database: d, tables: [public.items]}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestApplyWaitsUntilRunningOrFailed: connectors apply waits by default until the connector
// runs, and prints why one failed, exiting non-zero.
func TestApplyWaitsUntilRunningOrFailed(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		srv := fakeDaemon(t, api.TaskStatus{State: api.StateRunning})
		out, errOut, err := runCLI(t, "connectors", "apply", "-f", connectorFile(t), "--api", srv.URL)
		if err != nil || !strings.Contains(out, "connector shop RUNNING") {
			t.Errorf("err %v, stdout %q, stderr %q; want shop RUNNING", err, out, errOut)
		}
	})
	t.Run("failed", func(t *testing.T) {
		srv := fakeDaemon(t, api.TaskStatus{State: api.StateFailed, Trace: `postgres source: tables: "public.nope" does not exist`})
		out, errOut, err := runCLI(t, "connectors", "apply", "-f", connectorFile(t), "--api", srv.URL)
		if err == nil || !strings.Contains(errOut, `connector shop: FAILED: postgres source: tables: "public.nope" does not exist`) {
			t.Errorf("err %v, stdout %q, stderr %q; want the failure printed", err, out, errOut)
		}
	})
	t.Run("retrying past the timeout", func(t *testing.T) {
		srv := fakeDaemon(t, api.TaskStatus{State: api.StateRestarting, Trace: "postgres source: server unreachable"})
		_, errOut, err := runCLI(t, "connectors", "apply", "-f", connectorFile(t), "--api", srv.URL, "--wait-timeout", "2s")
		if err == nil || !strings.Contains(errOut, "still RESTARTING after --wait-timeout, retrying after: postgres source: server unreachable") {
			t.Errorf("err %v, stderr %q; want the retrying error", err, errOut)
		}
	})
	t.Run("no wait", func(t *testing.T) {
		srv := fakeDaemon(t, api.TaskStatus{State: api.StateFailed, Trace: "x"})
		out, _, err := runCLI(t, "connectors", "apply", "-f", connectorFile(t), "--api", srv.URL, "--wait=false")
		if err != nil || out != "connector shop applied\n" {
			t.Errorf("err %v, stdout %q; want applied only", err, out)
		}
	})
}

// TestApplyToAPausedConnector: a paused connector stays paused when its configuration changes;
// apply says so and succeeds.
func TestApplyToAPausedConnector(t *testing.T) {
	srv := fakeDaemon(t, api.TaskStatus{State: api.StatePaused})
	out, _, err := runCLI(t, "connectors", "apply", "-f", connectorFile(t), "--api", srv.URL)
	if err != nil || !strings.Contains(out, "connector shop PAUSED, as it was: resume it to run it") {
		t.Errorf("err %v, stdout %q", err, out)
	}
}
