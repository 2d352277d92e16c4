package integration

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/internal/testcerts"
)

// TestEmbeddedRegistryTLSBeyondLoopback runs cdcd's embedded registry on every interface
// (0.0.0.0) with HTTPS (registry.tls_cert, tls_key) and a token given by reference. The
// connector streams (cdcd's own registry client reaches its registry over TLS, with the
// token); `cdcd tail`, cdcd's registry client configured with the CA and the token, decodes
// the records; a wrong token, or none, is answered 401 naming no credential; a client without
// the CA refuses the certificate, and plain HTTP is not served. cdcd's log holds no token.
func TestEmbeddedRegistryTLSBeyondLoopback(t *testing.T) {
	dir := t.TempDir()
	ca, err := testcerts.NewCA(filepath.Join(dir, "ca"), "cdcd registry test CA")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := ca.Issue("registry", "localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := "Tok" + hex.EncodeToString(b[:])
	props := filepath.Join(dir, "registry.properties")
	writeFile(t, props, "registry.token = "+token+"\n")

	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY)`)
	mustExec(t, conn, `INSERT INTO items VALUES (1), (2)`)
	c := NewPostgresConnector(t, db, "public.items")
	_, port, _ := net.SplitHostPort(c.Registry)
	listen := "registry:\n  listen: " + c.Registry + "\n"
	config := c.Config()
	if strings.Count(config, listen) != 1 {
		t.Fatalf("the config has no %q:\n%s", listen, config)
	}
	config = strings.Replace(config, listen, "registry:\n  listen: 0.0.0.0:"+port+"\n  token: ${file:"+props+
		":registry.token}\n  tls_cert: "+certFile+"\n  tls_key: "+keyFile+"\n", 1)
	p := StartCDCD(t, config)
	url := "https://127.0.0.1:" + port
	// The snapshot's records are written once cdcd's registry client registered their
	// schemas, over TLS with the token.
	WaitFor(t, 2*time.Minute, "the connector's first transaction", func() error {
		if p.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", p.Logs())
		}
		if !p.LogsContain("kafka transaction committed") {
			return fmt.Errorf("no transaction committed yet")
		}
		return nil
	})

	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	tail := exec.CommandContext(t.Context(), bin, "tail", c.Topic("items"), "--brokers", StackFromEnv().KafkaAddr,
		"--registry", url, "--registry-ca", ca.CA(), "--from-beginning", "--max", "2", "--timeout", "2m")
	tail.Env = append(os.Environ(), "CDCD_REGISTRY_TOKEN="+token)
	var stderr strings.Builder
	tail.Stderr = &stderr
	out, err := tail.Output()
	if err != nil {
		t.Fatalf("cdcd tail: %v\n%s%s\ncdcd's log:\n%s", err, out, stderr.String(), grepLines(p.Logs(), "error", "warn"))
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 2 || !strings.Contains(lines[0], `"op":"r"`) {
		t.Fatalf("cdcd tail printed:\n%s\nwant the 2 rows of the snapshot", out)
	}

	pem, err := os.ReadFile(ca.CA())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	trusting := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	get := func(client *http.Client, url, auth string) (int, string, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/subjects", nil)
		if err != nil {
			return 0, "", err
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	if code, body, err := get(trusting, url, "Bearer "+token); err != nil || code != http.StatusOK || !strings.Contains(body, c.Topic("items")) {
		t.Errorf("GET /subjects with the token: %d %s %v; want 200 and the connector's subjects", code, body, err)
	}
	wrong := "Wrong" + token[5:]
	for _, auth := range []string{"", "Bearer " + wrong, "Basic " + basic("cdcd", wrong)} {
		code, body, err := get(trusting, url, auth)
		if err != nil || code != http.StatusUnauthorized {
			t.Errorf("GET /subjects with %q: %d %s %v; want 401", auth, code, body, err)
		}
		if strings.Contains(body, token) || strings.Contains(body, wrong) {
			t.Errorf("the 401 answer names a credential: %s", body)
		}
	}
	if _, _, err := get(&http.Client{Timeout: 30 * time.Second}, url, "Bearer "+token); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the CA: %v; want the certificate refused", err)
	}
	if code, _, err := get(&http.Client{Timeout: 30 * time.Second}, "http://127.0.0.1:"+port, "Bearer "+token); err == nil && code == http.StatusOK {
		t.Errorf("plain HTTP was served")
	}
	if p.LogsContain(token) {
		t.Errorf("cdcd's log shows the registry token")
	}
	if code := p.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited with %d after SIGTERM", code)
	}
}

// basic is the value of a basic Authorization header.
func basic(user, password string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, password)
	v := req.Header.Get("Authorization")
	return strings.TrimPrefix(v, "Basic ")
}
