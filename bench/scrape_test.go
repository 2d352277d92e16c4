package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// waitUntil polls cond until it holds, failing the test after a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const exposition = "# HELP cdcd_connector_state x\n# TYPE cdcd_connector_state gauge\ncdcd_connector_state{connector=\"c\",state=\"RUNNING\"} 1\n"

// The scraper reads /metrics every interval and once more at the end, and counts the scrapes.
func TestScraperCounts(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = w.Write([]byte(exposition))
	}))
	defer srv.Close()
	sc := startScraper(srv.URL+"/metrics", 5*time.Millisecond)
	waitUntil(t, "three scrapes", func() bool { return sc.scrapes.Load() >= 3 })
	n, err := sc.finish()
	if err != nil {
		t.Fatalf("finish: %v", err)
	}
	if n < 4 || int64(n) != served.Load() {
		t.Errorf("%d scrapes counted, %d served; want at least 4 (3 and the last), all counted", n, served.Load())
	}
	sc.halt() // again: no panic, no wait
}

// A scrape that fails (an error status, or an answer without cdcd's metrics) fails the run, and
// scraping stops there.
func TestScraperFails(t *testing.T) {
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"status", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, "500"},
		{"no cdcd metrics", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("# HELP go_goroutines x\ngo_goroutines 3\n"))
		}, "no cdcd_ metric"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			sc := startScraper(srv.URL+"/metrics", 5*time.Millisecond)
			<-sc.done // the first failure stops the loop
			n, err := sc.finish()
			if err == nil || !strings.Contains(err.Error(), tt.want) || n != 0 {
				t.Errorf("finish = %d, %v; want 0 scrapes and an error with %q", n, err, tt.want)
			}
		})
	}
	// Once it has answered, a cdcd that stops listening is a failure too.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(exposition)) }))
	sc := startScraper(srv.URL+"/metrics", 5*time.Millisecond)
	waitUntil(t, "a scrape", func() bool { return sc.scrapes.Load() >= 1 })
	srv.Close()
	if _, err := sc.finish(); err == nil {
		t.Errorf("finish after the server closed: no error")
	}
}

// Before cdcd listens, a refused connection is not a failure: its start-up may outlast an
// interval.
func TestScraperWaitsForTheListener(t *testing.T) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	sc := startScraper("http://"+addr+"/metrics", 5*time.Millisecond)
	defer sc.halt()
	waitUntil(t, "two refused scrapes", func() bool { return sc.refused.Load() >= 2 })
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s, free a moment ago: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(exposition)) }))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	waitUntil(t, "a scrape once listening", func() bool { return sc.scrapes.Load() >= 1 })
	if n, err := sc.finish(); err != nil || n < 2 {
		t.Errorf("finish = %d, %v; want at least 2 scrapes and no error", n, err)
	}
}

// A scraped run opens a health listener and has names of its own; the others have none.
func TestScrapedConfig(t *testing.T) {
	b := &bench{s: defaultSettings(), runID: "ab12"}
	src := pgSource{host: "127.0.0.1", port: 55432, database: "bench_ab12_tput", slot: "s", publication: "p"}
	plain, err := b.newCDCDConfig("tput", src)
	if err != nil {
		t.Fatal(err)
	}
	b.scraped = true
	scraped, err := b.newCDCDConfig("tput", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cfg          cdcdConfig
		name, listen string
	}{{plain, "bench_ab12_tput", ""}, {scraped, "bench_ab12_tput_scraped", scraped.healthListen}} {
		var got struct {
			Health     struct{ Listen string }
			API        struct{ Listen string }
			Connectors []struct{ Name string }
		}
		if err := yaml.Unmarshal([]byte(tt.cfg.yaml()), &got); err != nil {
			t.Fatalf("the config is not YAML: %v\n%s", err, tt.cfg.yaml())
		}
		if got.Health.Listen != tt.listen || got.API.Listen != "off" || len(got.Connectors) != 1 || got.Connectors[0].Name != tt.name {
			t.Errorf("config %+v, want health.listen %q, the API off and connector %s\n%s", got, tt.listen, tt.name, tt.cfg.yaml())
		}
	}
	if !strings.HasPrefix(scraped.healthListen, "127.0.0.1:") {
		t.Errorf("the scraped run's health.listen is %q, want a loopback port", scraped.healthListen)
	}
	if plain.dataTopic() == scraped.dataTopic() {
		t.Errorf("both runs write %s", plain.dataTopic())
	}
}

// The scraped throughput's rows go beside the unscraped ones, with their ratio.
func TestAddScraped(t *testing.T) {
	var tb table
	tb.add("cdcd throughput", 100_000, "events/s", "")
	tb.add("cdcd wall time", 10, "s", "")
	tb.add("cdcd CPU per event (throughput)", 8, "µs/event", "")
	tb.add("cdcd throughput (json)", 50_000, "events/s", "")
	r := scrapedResult{throughputResult: throughputResult{records: 1000, rate: 98_000, usage: usage{cpu: 9 * time.Millisecond}}, scrapes: 12}
	addScraped(&tb, "", r)
	var names []string
	for _, row := range tb.rows {
		names = append(names, row.measurement)
	}
	want := []string{"cdcd throughput", "cdcd throughput (scraped)", "cdcd scraped / unscraped", "cdcd wall time",
		"cdcd CPU per event (throughput)", "cdcd CPU per event (scraped)", "cdcd throughput (json)"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("rows %q, want %q", names, want)
	}
	if v, _ := tb.value("cdcd scraped / unscraped"); v != 0.98 {
		t.Errorf("ratio %v, want 0.98", v)
	}
	if v, _ := tb.value("cdcd CPU per event (scraped)"); v != 9 {
		t.Errorf("CPU per event %v, want 9", v)
	}
	if !strings.Contains(tb.rows[1].note, "12 scrapes") {
		t.Errorf("note %q does not count the scrapes", tb.rows[1].note)
	}

	// Alone (-only throughput-scraped): its rows at the end, no ratio.
	var alone table
	alone.add("workload insert rate", 1, "rows/s", "")
	addScraped(&alone, "", r)
	if len(alone.rows) != 3 || alone.rows[1].measurement != "cdcd throughput (scraped)" || alone.rows[2].measurement != "cdcd CPU per event (scraped)" {
		t.Errorf("rows alone: %+v", alone.rows)
	}
}
