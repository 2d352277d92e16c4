package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/api"
)

func TestHealthConfigProblems(t *testing.T) {
	for _, c := range []struct {
		listen string
		want   string
	}{
		{"", ""},
		{"0.0.0.0:8081", ""},
		{":8081", ""},
		{"8081", "is not host:port"},
		{"0.0.0.0:http", "the port is not"},
		{"0.0.0.0:70000", "the port is not"},
	} {
		got := strings.Join(HealthConfig{Listen: c.listen}.problems(), "; ")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("health.listen %q: problems %q, want %q", c.listen, got, c.want)
		}
	}
	cfg, err := parseConfig([]byte("kafka: {brokers: [\"k:9092\"]}\nhealth: {listen: \"nope\"}\n"))
	if err == nil || !strings.Contains(err.Error(), "health.listen") {
		t.Fatalf("parseConfig with a bad health.listen = %+v, %v; want the problem", cfg, err)
	}
}

// readiness is a Backend whose Ready the test sets.
type readiness struct {
	api.Backend
	err error
}

func (r readiness) Ready(context.Context) error { return r.err }

// The health listener answers /healthz and /readyz without a token, following its backend.
func TestHealthListener(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	gate := api.NewGate("waiting for Kafka")
	cfg := &Config{Health: HealthConfig{Listen: "127.0.0.1:0"}}
	stop, addr, err := listenHealth(ctx, cfg, gate, newMetrics(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr.String() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz while starting: %d, want 200", code)
	}
	if code, body := get("/readyz"); code != 503 || strings.Contains(body, "Kafka") {
		t.Errorf("/readyz while starting: %d %s, want 503 without the reason", code, body)
	}
	gate.Open(readiness{})
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz once open: %d, want 200", code)
	}
	gate.Open(readiness{err: errors.New("no broker")})
	if code, _ := get("/readyz"); code != 503 {
		t.Errorf("/readyz not ready: %d, want 503", code)
	}
	if code, _ := get("/connectors"); code != 404 {
		t.Errorf("/connectors on the health listener: %d, want 404", code)
	}

	// Off by default.
	_, addr, err = listenHealth(ctx, &Config{}, gate, newMetrics(), zerolog.Nop())
	if err != nil || addr != nil {
		t.Fatalf("no health.listen: %v, %v; want no listener", addr, err)
	}
}

// The health listener serves the daemon's registry at GET /metrics, without a token, before
// the worker runs (the process's metrics) and after (the cdcd_ ones registered then).
func TestHealthListenerMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	metrics := newMetrics()
	newRegistryMetrics(metrics)
	cfg := &Config{Health: HealthConfig{Listen: "127.0.0.1:0"}}
	stop, addr, err := listenHealth(ctx, cfg, api.NewGate("waiting for Kafka"), metrics, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	scrape := func() string {
		t.Helper()
		resp, err := http.Get("http://" + addr.String() + "/metrics")
		if err != nil {
			t.Fatalf("GET /metrics: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /metrics: %d %s, want 200", resp.StatusCode, body)
		}
		return string(body)
	}
	body := scrape()
	for _, name := range []string{"go_goroutines", "cdcd_registry_requests_total"} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("/metrics on the health listener lacks %s:\n%s", name, body)
		}
	}
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cdcd_test_late", Help: "Registered once the listener serves."})
	up.Set(1)
	metrics.MustRegister(up)
	if body := scrape(); !strings.Contains(body, "cdcd_test_late 1") {
		t.Errorf("/metrics does not follow the registry: no cdcd_test_late 1 in\n%s", body)
	}
	resp, err := http.Post("http://"+addr.String()+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Errorf("POST /metrics: 200, want a refusal")
	}
}
