package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Prometheus is a Prometheus server of the calling test's own (Debian's prometheus package,
// installed by deploy/dev/stack.sh): its own config, data folder and free port, killed when the
// test ends. The system's prometheus service, if any, plays no part.
type Prometheus struct {
	// URL is the server's base URL.
	URL string
	cmd *exec.Cmd
	log string
}

// StartPrometheus starts a server scraping target (host:port, path /metrics, as job "cdcd")
// every second, evaluating the rules of ruleFile (none if empty) every second, and waits until
// it is ready.
func StartPrometheus(t testing.TB, target, ruleFile string) *Prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (deploy/dev/stack.sh installs Debian's prometheus package): %v", err)
	}
	dir := t.TempDir()
	rules := ""
	if ruleFile != "" {
		rules = fmt.Sprintf("rule_files: [%q]\n", ruleFile)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
%sscrape_configs:
  - job_name: cdcd
    static_configs:
      - targets: [%q]
`, rules, target))
	addr := FreeAddr(t)
	p := &Prometheus{URL: "http://" + addr, log: filepath.Join(dir, "prometheus.log")}
	logFile, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		_ = logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(p.log)
			t.Logf("prometheus log:\n%s", out)
		}
	})
	WaitFor(t, time.Minute, "prometheus ready", func() error {
		resp, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/-/ready: %s", resp.Status)
		}
		return nil
	})
	return p
}

// PromSample is one sample of a query's result: its series' labels, time and value.
type PromSample struct {
	Labels map[string]string
	Time   time.Time
	Value  float64
}

// Query runs an instant PromQL query through the HTTP API and returns its samples: one per
// series for a vector, every sample of every series for a range vector (a matrix).
func (p *Prometheus) Query(query string) ([]PromSample, error) {
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
				Values [][]any           `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %s: decoding the answer: %w", query, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", query, body.Error)
	}
	var out []PromSample
	for _, r := range body.Data.Result {
		points := r.Values
		if r.Value != nil {
			points = append(points, r.Value)
		}
		for _, pt := range points {
			s, err := promPoint(pt)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", query, err)
			}
			s.Labels = r.Metric
			out = append(out, s)
		}
	}
	return out, nil
}

// promPoint decodes a [unix seconds, "value"] pair of the HTTP API.
func promPoint(pt []any) (PromSample, error) {
	if len(pt) != 2 {
		return PromSample{}, fmt.Errorf("a point of %d elements", len(pt))
	}
	ts, ok := pt[0].(float64)
	text, ok2 := pt[1].(string)
	if !ok || !ok2 {
		return PromSample{}, fmt.Errorf("a point %v", pt)
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return PromSample{}, err
	}
	return PromSample{Time: time.UnixMilli(int64(ts * 1000)), Value: v}, nil
}

// QueryOne runs query and returns its only sample, or an error if it has none or several.
func (p *Prometheus) QueryOne(query string) (PromSample, error) {
	got, err := p.Query(query)
	if err != nil {
		return PromSample{}, err
	}
	if len(got) != 1 {
		return PromSample{}, fmt.Errorf("query %s: %d samples, want 1", query, len(got))
	}
	return got[0], nil
}

// PromAlert is one alert of /api/v1/alerts.
type PromAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// Alerts returns the alerts pending or firing.
func (p *Prometheus) Alerts() ([]PromAlert, error) {
	resp, err := http.Get(p.URL + "/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Data struct {
			Alerts []PromAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding /api/v1/alerts: %w", err)
	}
	return body.Data.Alerts, nil
}

// promqlKeywords are the identifiers of PromQL that are not metric names.
var promqlKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
	// Aggregations, which may be followed by "by (...)" before their parenthesis.
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
}

// PromQLMetricNames returns the metric names a PromQL expression reads: its identifiers that are
// neither functions nor aggregations (followed by a parenthesis), nor keywords, nor label names
// (inside braces, or in a by/without/on/ignoring/group list), nor in a string or a range.
// Grafana's variables ($connector, $__rate_interval) only appear where none of these are read.
func PromQLMetricNames(expr string) []string {
	var names []string
	seen := map[string]bool{}
	depthBraces, depthBrackets := 0, 0
	skipList := false // inside the label list of by (...) and the like
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			i = j + 1
			continue
		case c == '{':
			depthBraces++
		case c == '}':
			depthBraces--
		case c == '[':
			depthBrackets++
		case c == ']':
			depthBrackets--
		case c == ')':
			skipList = false
		case c >= '0' && c <= '9': // a number, 1e3 or 0x1f included
			j := i
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == '.') {
				j++
			}
			i = j
			continue
		case c == '$':
			j := i + 1
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			i = j
			continue
		case isIdentStart(c):
			j := i
			for j < len(expr) && (isIdent(expr[j]) || expr[j] == ':') {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			call := k < len(expr) && expr[k] == '('
			lower := strings.ToLower(word)
			switch {
			case depthBraces > 0 || depthBrackets > 0 || skipList:
			case lower == "by" || lower == "without" || lower == "on" || lower == "ignoring" ||
				lower == "group_left" || lower == "group_right":
				skipList = call
			case call || promqlKeywords[lower]:
			default:
				if !seen[word] {
					seen[word] = true
					names = append(names, word)
				}
			}
			i = j
			continue
		}
		i++
	}
	return names
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
