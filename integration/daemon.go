package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Daemon is a cdcd process run as a daemon: the REST API on, no connector in its file, its own
// config, offsets and registry topics.
type Daemon struct {
	*CDCD
	// API is the REST API's base URL; Registry the embedded registry's address.
	API      string
	Registry string
	Prefix   string
	config   string
}

// DaemonConfig returns the config file of a daemon whose topics start with prefix, serving the
// API on apiAddr and the registry on registryAddr; extra is appended to the api section.
func DaemonConfig(prefix, apiAddr, registryAddr string, extraAPI ...string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  offsets_topic: %s_offsets
  config_topic: %s_configs
registry:
  listen: %s
  topic: %s_schemas
log:
  level: debug
api:
  listen: %s
%s`, StackFromEnv().KafkaAddr, prefix, prefix, registryAddr, prefix, apiAddr, indentLines(extraAPI, "  "))
}

// StartDaemon starts a daemon for the calling test and waits until its API is ready.
func StartDaemon(t testing.TB) *Daemon {
	t.Helper()
	d := &Daemon{API: "http://" + FreeAddr(t), Registry: FreeAddr(t), Prefix: Name(t, "d")}
	d.config = DaemonConfig(d.Prefix, strings.TrimPrefix(d.API, "http://"), d.Registry)
	d.CDCD = StartCDCD(t, d.config)
	d.WaitReady(t)
	return d
}

// WaitReady waits until /readyz answers 200.
func (d *Daemon) WaitReady(t testing.TB) {
	t.Helper()
	WaitFor(t, time.Minute, "the daemon's API to be ready", func() error {
		if d.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", d.Logs())
		}
		code, body, err := tryCall(t, d.API, http.MethodGet, "/readyz", nil, nil)
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return fmt.Errorf("readyz: %d %s", code, body)
		}
		return nil
	})
}

// Restart starts the daemon's process again after it ended, and waits until it is ready.
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	d.CDCD = d.CDCD.Restart()
	d.WaitReady(t)
}

// Call sends a request with body (marshalled to JSON unless it is a string or []byte, sent as
// is) and returns the status and the body; a transport error fails the test.
func (d *Daemon) Call(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	return callAPI(t, d.API, method, path, body, nil)
}

func callAPI(t testing.TB, base, method, path string, body any, header http.Header) (int, []byte) {
	t.Helper()
	code, raw, err := tryCall(t, base, method, path, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return code, raw
}

// tryCall is callAPI returning a transport error instead of failing the test.
func tryCall(t testing.TB, base, method, path string, body any, header http.Header) (int, []byte, error) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encoding %v: %v", body, err)
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return resp.StatusCode, raw, nil
}

// MustCall is Call that fails the test unless the status is want, and decodes the answer into
// out when out is not nil.
func (d *Daemon) MustCall(t testing.TB, want int, method, path string, body, out any) {
	t.Helper()
	code, raw := d.Call(t, method, path, body)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
}

// WaitState waits until the connector's status says state.
func (d *Daemon) WaitState(t testing.TB, name, state string) {
	t.Helper()
	WaitFor(t, 2*time.Minute, name+" "+state, func() error {
		code, raw := d.Call(t, http.MethodGet, "/connectors/"+name+"/status", nil)
		if code != http.StatusOK {
			return fmt.Errorf("status: %d %s", code, raw)
		}
		var st struct {
			Connector struct {
				State string `json:"state"`
				Trace string `json:"trace"`
			} `json:"connector"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return err
		}
		if st.Connector.State != state {
			return fmt.Errorf("state %s (trace %q)", st.Connector.State, st.Connector.Trace)
		}
		return nil
	})
}

// PostgresAPIConfig is the flat configuration of a postgres connector on db, for the API.
func PostgresAPIConfig(db *PostgresDB, name, prefix string, tables ...string) map[string]string {
	host, port, _ := strings.Cut(db.addr, ":")
	return map[string]string{
		"type": "postgres", "topic_prefix": prefix,
		"postgres.host": host, "postgres.port": port, "postgres.user": "postgres", "postgres.database": db.Name,
		"postgres.slot": name, "postgres.publication": name, "postgres.tables": strings.Join(tables, ","),
	}
}

// MySQLAPIConfig is the flat configuration of a mysql connector on db's tables, for the API.
func MySQLAPIConfig(db *MariaDB, prefix string, tables ...string) map[string]string {
	qualified := make([]string, len(tables))
	for i, table := range tables {
		qualified[i] = db.Name + "." + table
	}
	return map[string]string{
		"type": "mysql", "topic_prefix": prefix,
		"mysql.host": db.Host(), "mysql.port": strconv.Itoa(int(db.Port())),
		"mysql.user": MariaDBCaptureUser, "mysql.password": MariaDBCapturePassword,
		"mysql.tables": strings.Join(qualified, ","),
	}
}

// indentLines joins lines, each indented and ending in a newline.
func indentLines(lines []string, indent string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(indent + l + "\n")
	}
	return b.String()
}

// writeFile writes content to path, failing the test on error.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}
