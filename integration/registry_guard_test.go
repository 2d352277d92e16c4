package integration

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEmbeddedRegistryOffLoopbackNeedsAToken runs cdcd with its embedded registry on every
// interface: without registry.token it refuses to start, saying why; with one, the registry
// answers only requests that carry it, and cdcd's own client does, so the connector registers
// its schemas and runs.
func TestEmbeddedRegistryOffLoopbackNeedsAToken(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewMySQLConnector(t, m, "items")
	_, port, _ := strings.Cut(c.Registry, ":")
	loopbackSection := "registry:\n  listen: " + c.Registry + "\n"
	everywhere := func(extra string) string {
		cfg := c.Config()
		if !strings.Contains(cfg, loopbackSection) {
			t.Fatalf("the config has no %q:\n%s", loopbackSection, cfg)
		}
		return strings.Replace(cfg, loopbackSection, "registry:\n  listen: 0.0.0.0:"+port+"\n"+extra, 1)
	}

	refused := StartCDCD(t, everywhere(""))
	if code := refused.Wait(time.Minute); code == 0 {
		t.Fatalf("cdcd exited 0 with its registry on 0.0.0.0 and no token")
	}
	if !refused.LogsContain("is not loopback: a bearer token is required") || !refused.LogsContain("set registry.token") {
		t.Fatalf("the log does not say that the registry needs a token off loopback:\n%s", refused.Logs())
	}

	const token = "integration-registry-token-0123"
	cdcd := StartCDCD(t, everywhere("  token: "+token+"\n"))
	mustExecMySQL(t, m.DB, `INSERT INTO items VALUES (1, 10)`)
	subject := c.Topic("items") + "-value"
	WaitFor(t, 2*time.Minute, "cdcd registering "+subject+" through the token", func() error {
		if cdcd.Exited() {
			t.Fatalf("cdcd exited with a registry token")
		}
		body, err := getWithAuth(t, c.RegistryURL()+"/subjects", "Bearer "+token)
		if err != nil {
			return err
		}
		if !strings.Contains(body, `"`+subject+`"`) {
			return fmt.Errorf("subjects %s lack %s", body, subject)
		}
		return nil
	})
	for _, auth := range []string{"", "Bearer wrong-token-wrong-token", "Basic " + token} {
		if _, err := getWithAuth(t, c.RegistryURL()+"/subjects", auth); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("GET /subjects with Authorization %q: %v, want 401", auth, err)
		}
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}

// getWithAuth GETs url with the Authorization header auth (none when empty) and returns the
// body of a 200, or an error naming the status.
func getWithAuth(t *testing.T, url, auth string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}
