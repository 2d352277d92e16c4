package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPromQLMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.99, sum by (connector, le) (rate(cdcd_x_bucket{connector=~"$connector", le!="1"}[$__rate_interval])))`: {"cdcd_x_bucket"},
		`100 * a / on(connector) group_left(table) b{job="cdcd"} > bool 1e3`:                                                         {"a", "b"},
		`increase(c_total[1h]) or vector(0)`:                           {"c_total"},
		`max without (state) (s == 1) unless ignoring (x) t offset 5m`: {"s", "t"},
	} {
		if got := PromQLMetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("PromQLMetricNames(%s) = %v, want %v", expr, got, want)
		}
	}
}

// loadWriter inserts rows of about 1 kB, ten per transaction, every 10 ms, until paused; it
// keeps the bounds of its last commit's time: after the client sent COMMIT, before it returned.
// A pause waits for the insert under way to return: one cancelled in flight could still commit
// after the last time the writer knows of.
type loadWriter struct {
	stop chan struct{}
	done chan error

	mu                    sync.Mutex
	lastBefore, lastAfter time.Time
	commits               int
}

func (w *loadWriter) start(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	w.stop, w.done = make(chan struct{}), make(chan error, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			case <-tick.C:
			}
			before := time.Now()
			_, err := conn.Exec(t.Context(), `INSERT INTO load (payload) SELECT repeat(md5(random()::text), 32) FROM generate_series(1, 10)`)
			if err != nil {
				w.done <- err
				return
			}
			w.mu.Lock()
			w.lastBefore, w.lastAfter = before, time.Now()
			w.commits++
			w.mu.Unlock()
		}
	}()
}

// pause stops the writer and returns the bounds of its last commit's time.
func (w *loadWriter) pause(t *testing.T) (before, after time.Time) {
	t.Helper()
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.commits == 0 {
		t.Fatal("the writer committed nothing")
	}
	return w.lastBefore, w.lastAfter
}

// TestPrometheusScrapesLagBacklogAndLatency runs cdcd (its connector in the file, the API on for
// /metrics) on a private PostgreSQL and a private Kafka under a write load, scraped every second
// by a real Prometheus, and asks Prometheus, through its HTTP API: the lag in milliseconds is
// within a second of the test's own measure (the time since the writer's last commit, the writer
// paused), the commit latency histogram gives a p99, the slot's retained WAL is within 10% of
// the test's own pg_current_wal_lsn() - confirmed_flush_lsn (Kafka stopped, so that the slot
// holds megabytes, and the writer paused, so that they stand still); stopping Kafka makes the
// lag rise and the CdcdConnectorLagging alert go pending (the rule file's own rule, its
// threshold lowered to 2 s and its duration raised so that it stays pending). The dashboard's
// every metric name is checked against the live /metrics on the way.
func TestPrometheusScrapesLagBacklogAndLatency(t *testing.T) {
	kafka := StartPrivateKafka(t)
	pg := StartPrivatePostgres(t)
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE load (id bigserial PRIMARY KEY, payload text NOT NULL)`)
	// Rows for the snapshot, so that its progress metrics exist for the dashboard's check.
	mustExec(t, conn, `INSERT INTO load (payload) SELECT 'snapshot' FROM generate_series(1, 100)`)
	c := NewPostgresConnector(t, db, "public.load")
	apiAddr := FreeAddr(t)
	const apiOff = "api:\n  listen: \"off\"\n"
	config := kafka.UseIn(t, c.Config())
	if strings.Count(config, apiOff) != 1 {
		t.Fatalf("the connector's config has no api section turned off:\n%s", config)
	}
	config = strings.Replace(config, apiOff, fmt.Sprintf("api:\n  listen: %s\n", apiAddr), 1)
	cdcd := StartCDCD(t, config)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cdcd log:\n%s", cdcd.Logs())
		}
	})
	c.WaitStreaming(t, conn)

	prom := StartPrometheus(t, apiAddr, lowLagRules(t))
	connector := fmt.Sprintf(`{connector=%q}`, c.Name)

	// Under load: the latency histogram fills.
	w := &loadWriter{}
	w.start(t, db.Conn(t))
	p99 := fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(cdcd_connector_commit_latency_seconds_bucket%s[1m])))`, connector)
	WaitFor(t, 2*time.Minute, "a p99 of the commit latency", func() error {
		s, err := prom.QueryOne(p99)
		if err != nil {
			return err
		}
		if math.IsNaN(s.Value) || s.Value <= 0 || math.IsInf(s.Value, 0) {
			return fmt.Errorf("p99 %v", s.Value)
		}
		t.Logf("commit latency p99 under load: %.3f s", s.Value)
		return nil
	})

	// The writer paused: the lag is the time since its last commit.
	before, after := w.pause(t)
	WaitFor(t, 2*time.Minute, "the lag in ms within 1 s of the time since the last commit", func() error {
		if s, err := prom.QueryOne("cdcd_connector_uncommitted_lag_seconds" + connector); err != nil || s.Value != 0 || s.Time.Before(after.Add(time.Second)) {
			return fmt.Errorf("not caught up yet: uncommitted lag %+v (%v)", s, err)
		}
		// A range vector gives each sample with the time it was scraped.
		samples, err := prom.Query("cdcd_connector_lag_seconds" + connector + "[5s]")
		if err != nil {
			return err
		}
		if len(samples) == 0 {
			return fmt.Errorf("no lag sample")
		}
		s := samples[len(samples)-1]
		s.Value *= 1000 // in milliseconds
		lo, hi := s.Time.Sub(after).Milliseconds(), s.Time.Sub(before).Milliseconds()
		if s.Value < float64(lo-1000) || s.Value > float64(hi+1000) {
			return fmt.Errorf("lag %.0f ms at %s, want within 1 s of %d..%d ms (the last commit at %s..%s)",
				s.Value, s.Time.Format(time.StampMilli), lo, hi, before.Format(time.StampMilli), after.Format(time.StampMilli))
		}
		t.Logf("lag %.0f ms at %s; the test's own: %d..%d ms", s.Value, s.Time.Format(time.StampMilli), lo, hi)
		return nil
	})

	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, "http://"+apiAddr+"/metrics") })

	// Kafka gone, the writer on: the lag rises and the lagging alert goes pending.
	kafka.Stop(t)
	w.start(t, db.Conn(t))
	WaitFor(t, 2*time.Minute, "the CdcdConnectorLagging alert pending", func() error {
		alerts, err := prom.Alerts()
		if err != nil {
			return err
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "CdcdConnectorLagging" && a.Labels["connector"] == c.Name && a.State == "pending" {
				return nil
			}
		}
		return fmt.Errorf("alerts %+v", alerts)
	})
	for _, q := range []string{"cdcd_connector_uncommitted_lag_seconds", "cdcd_connector_lag_seconds"} {
		s, err := prom.QueryOne(q + connector + " * 1000")
		if err != nil {
			t.Fatal(err)
		}
		if s.Value < 2000 {
			t.Errorf("%s = %.0f ms with Kafka stopped, want above the alert's 2 s", q, s.Value)
		}
	}

	// The slot retains what cdcd could not commit: megabytes, standing still once the writer
	// pauses.
	WaitFor(t, 2*time.Minute, "the slot retaining 2 MB of WAL", func() error {
		if n := retainedWAL(t, conn, c.Name); n < 2<<20 {
			return fmt.Errorf("%d bytes retained", n)
		}
		return nil
	})
	w.pause(t)
	WaitFor(t, 2*time.Minute, "the retained WAL in Prometheus within 10% of the slot's", func() error {
		s, err := prom.QueryOne("cdcd_connector_source_backlog_bytes" + connector)
		if err != nil {
			return err
		}
		own := retainedWAL(t, conn, c.Name)
		if math.Abs(s.Value-float64(own)) > 0.1*float64(own) {
			return fmt.Errorf("Prometheus says %.0f bytes, the slot %d", s.Value, own)
		}
		t.Logf("retained WAL: Prometheus %.0f bytes, the slot %d", s.Value, own)
		return nil
	})
}

// retainedWAL is the test's own measure of the slot's retained WAL.
func retainedWAL(t *testing.T, conn *pgx.Conn, slot string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(t.Context(), `SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint
		FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&n); err != nil {
		t.Fatalf("reading the slot's retained WAL: %v", err)
	}
	return n
}

// lowLagRules writes a copy of deploy/prometheus/cdcd-alerts.yml whose CdcdConnectorLagging
// fires above 2 s rather than 300 s, and stays pending for 10 minutes, and returns its path.
func lowLagRules(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../deploy/prometheus/cdcd-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	const rule = "expr: cdcd_connector_uncommitted_lag_seconds > 300\n        for: 5m\n"
	if n := strings.Count(string(raw), rule); n != 1 {
		t.Fatalf("the lagging rule %q is in the rule file %d times, want 1", rule, n)
	}
	path := filepath.Join(t.TempDir(), "cdcd-alerts.yml")
	writeFile(t, path, strings.Replace(string(raw), rule, "expr: cdcd_connector_uncommitted_lag_seconds > 2\n        for: 10m\n", 1))
	return path
}

// checkDashboard checks that every metric name of every panel's query in
// deploy/grafana/cdcd.json is one the live /metrics at metricsURL exposes (a histogram's by its
// _bucket, _sum and _count series).
func checkDashboard(t *testing.T, metricsURL string) {
	raw, err := os.ReadFile("../deploy/grafana/cdcd.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("decoding the dashboard: %v", err)
	}
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	live := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			live[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs++
			names := PromQLMetricNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric name in %s", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !live[n] {
					t.Errorf("panel %q reads %s, which cdcd's /metrics does not expose", p.Title, n)
				}
			}
		}
	}
	t.Logf("%d panels, %d queries checked against %d live series names", len(dash.Panels), exprs, len(live))
}
