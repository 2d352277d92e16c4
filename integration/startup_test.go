package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAPIUpWhileKafkaHangs: a daemon started while Kafka accepts connections and never answers
// serves its API at once, answering not ready (503, naming the Kafka it waits for) and 503 on
// the connector endpoints, warns in its log, and is ready once Kafka answers.
func TestAPIUpWhileKafkaHangs(t *testing.T) {
	kafka := NewForwarder(t, StackFromEnv().KafkaAddr)
	kafka.Hang()
	kafka.Open()
	d := &Daemon{API: "http://" + FreeAddr(t), Registry: FreeAddr(t), Prefix: Name(t, "d")}
	d.config = strings.Replace(DaemonConfig(d.Prefix, strings.TrimPrefix(d.API, "http://"), d.Registry),
		"brokers: ["+StackFromEnv().KafkaAddr+"]", "brokers: ["+kafka.Addr+"]", 1)
	if !strings.Contains(d.config, kafka.Addr) {
		t.Fatalf("the config does not name the hanging Kafka:\n%s", d.config)
	}
	d.CDCD = StartCDCD(t, d.config)

	// The API answers, not ready, as soon as the process is up.
	WaitFor(t, time.Minute, "the API to answer", func() error {
		if d.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", d.Logs())
		}
		_, _, err := tryCall(t, d.API, http.MethodGet, "/healthz", nil, nil)
		return err
	})
	code, raw := d.Call(t, http.MethodGet, "/readyz", nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(raw), "not ready") ||
		!strings.Contains(string(raw), "waiting for Kafka at "+kafka.Addr) {
		t.Fatalf("readyz: %d %s, want 503 not ready, waiting for Kafka at %s", code, raw, kafka.Addr)
	}
	if code, raw := d.Call(t, http.MethodGet, "/connectors", nil); code != http.StatusServiceUnavailable ||
		!strings.Contains(string(raw), "waiting for Kafka") {
		t.Fatalf("GET /connectors: %d %s, want 503 waiting for Kafka", code, raw)
	}
	// The wait is in the log.
	WaitFor(t, time.Minute, "a warning that cdcd waits for Kafka", func() error {
		if !d.LogsContain("still waiting for Kafka at " + kafka.Addr) {
			return fmt.Errorf("no warning yet")
		}
		return nil
	})

	kafka.Unhang()
	d.WaitReady(t)
	d.MustCall(t, http.StatusOK, http.MethodGet, "/connectors", nil, nil)
}
