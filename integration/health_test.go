package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHealthListenerAndNotify runs cdcd with the API off, a health listener (health.listen)
// and a NOTIFY_SOCKET, as systemd's Type=notify does, on a private Kafka: /healthz and
// /readyz answer without a token; cdcd says READY=1 once ready; with Kafka stopped /readyz
// answers 503 while /healthz stays 200 (a Kafka outage is not a wedged worker), and 200 again
// once Kafka is back; SIGTERM sends STOPPING=1 and cdcd exits 0. /metrics, without a token,
// serves the connectors' metrics (the only place they are with the API off).
func TestHealthListenerAndNotify(t *testing.T) {
	kafka := StartPrivateKafka(t)
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.items")
	health := FreeAddr(t)
	cfg := c.Config()
	brokers := fmt.Sprintf("brokers: [%s]", StackFromEnv().KafkaAddr)
	if !strings.Contains(cfg, brokers) {
		t.Fatalf("the config has no %q:\n%s", brokers, cfg)
	}
	cfg = strings.Replace(cfg, brokers, fmt.Sprintf("brokers: [%s]", kafka.Addr()), 1)
	cfg += "health:\n  listen: " + health + "\n"

	// A short path: a unix socket's name is at most 107 bytes.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sock.Close() })
	notes := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(buf[:n])
		}
	}()
	// StartCDCD's process inherits the test's environment.
	t.Setenv("NOTIFY_SOCKET", filepath.Join(dir, "notify"))
	p := StartCDCD(t, cfg)

	probe := func(path string) (int, error) {
		client := http.Client{Timeout: 30 * time.Second}
		resp, err := client.Get("http://" + health + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	waitCode := func(what, path string, want int) {
		t.Helper()
		WaitFor(t, 2*time.Minute, what, func() error {
			if p.Exited() {
				t.Fatalf("cdcd exited; log:\n%s", p.Logs())
			}
			code, err := probe(path)
			if err != nil {
				return err
			}
			if code != want {
				return fmt.Errorf("GET %s: %d, want %d", path, code, want)
			}
			return nil
		})
	}
	waitNote := func(prefix string) {
		t.Helper()
		deadline := time.After(2 * time.Minute)
		for {
			select {
			case n, ok := <-notes:
				if !ok {
					t.Fatalf("the notify socket closed before %s", prefix)
				}
				if strings.HasPrefix(n, prefix) {
					return
				}
			case <-deadline:
				t.Fatalf("no %s notification within 2 minutes; log:\n%s", prefix, p.Logs())
			}
		}
	}

	waitNote("READY=1")
	waitCode("/readyz ready", "/readyz", http.StatusOK)
	waitCode("/healthz alive", "/healthz", http.StatusOK)
	c.WaitStreaming(t, conn)
	// With the API off, the health listener is where Prometheus scrapes: the manager's metrics
	// are there once the connector runs.
	WaitFor(t, 2*time.Minute, "cdcd_connector_state on the health listener's /metrics", func() error {
		client := http.Client{Timeout: 30 * time.Second}
		resp, err := client.Get("http://" + health + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "\ncdcd_connector_state{") {
			return fmt.Errorf("GET /metrics: %d without cdcd_connector_state:\n%.2000s", resp.StatusCode, body)
		}
		return nil
	})

	kafka.Stop(t)
	waitCode("/readyz not ready with Kafka stopped", "/readyz", http.StatusServiceUnavailable)
	if code, err := probe("/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("/healthz with Kafka stopped: %d, %v; want 200", code, err)
	}
	kafka.Start(t)
	waitCode("/readyz ready with Kafka back", "/readyz", http.StatusOK)

	if code := p.Stop(2 * time.Minute); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	waitNote("STOPPING=1")
}
