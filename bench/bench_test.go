package main

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*settings)
		ok     bool
	}{
		{"defaults", func(*settings) {}, true},
		{"only known", func(s *settings) { s.only = map[string]bool{measureRaw: true, measureBigTx: true} }, true},
		{"only unknown", func(s *settings) { s.only = map[string]bool{"speed": true} }, false},
		{"no rows", func(s *settings) { s.rows = 0 }, false},
		{"no tx rows", func(s *settings) { s.txRows = 0 }, false},
		{"no latency rate", func(s *settings) { s.latencyRate = 0 }, false},
		{"batch above rate", func(s *settings) { s.latencyRate, s.latencyBatch = 50, 100 }, false},
		{"short latency run", func(s *settings) { s.latencyDuration = 10 * time.Millisecond }, false},
		{"no big tx", func(s *settings) { s.bigTxRows = -1 }, false},
		{"snapshot only", func(s *settings) { s.only = map[string]bool{measureSnapshot: true} }, true},
		{"no snapshot rows", func(s *settings) { s.snapshotRows = 0 }, false},
		{"short stall", func(s *settings) { s.stall = time.Millisecond }, false},
		{"bad port", func(s *settings) { s.pgPort = 70000 }, false},
		{"mysql only", func(s *settings) { s.only = map[string]bool{measureMySQLRaw: true, measureMySQLBigTx: true} }, true},
		{"bad mysql port", func(s *settings) { s.mysqlPort = 0 }, false},
		{"no mysql user", func(s *settings) { s.mysqlUser = "" }, false},
		{"mysql password needing quotes", func(s *settings) { s.mysqlPassword = "a: b" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := defaultSettings()
			tt.change(&s)
			err := s.validate()
			if tt.ok && err != nil {
				t.Fatalf("validate: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrSettings) {
				t.Fatalf("validate = %v, want ErrSettings", err)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	s, err := parseSettings([]string{"-only", "raw, latency", "-rows", "5000"}, io.Discard)
	if err != nil {
		t.Fatalf("parseSettings: %v", err)
	}
	if s.rows != 5000 {
		t.Errorf("rows = %d, want 5000", s.rows)
	}
	for m, want := range map[string]bool{measureRaw: true, measureLatency: true, measureThroughput: false, measureBigTx: false} {
		if got := s.selected(m); got != want {
			t.Errorf("selected(%s) = %v, want %v", m, got, want)
		}
	}
	def, _ := parseSettings(nil, io.Discard)
	for _, m := range allMeasurements {
		if got, want := def.selected(m), !strings.HasPrefix(m, "mysql-") && m != measureSnapshot; got != want {
			t.Errorf("without -only, selected(%s) = %v, want %v (the PostgreSQL ones but the snapshot)", m, got, want)
		}
	}
	if def.snapshotRows != 5_000_000 {
		t.Errorf("default -snapshot-rows = %d, want 5000000", def.snapshotRows)
	}
	pg := []string{measureRaw, measureThroughput, measureThroughputJSON, measureThroughputScraped, measureLatency, measureBigTx, measureSnapshot}
	for group, want := range map[string][]string{"all": append(slices.Clone(pg), mysqlMeasurements...),
		"pg": pg, "mysql": mysqlMeasurements, "snapshot": {measureSnapshot},
		"mysql,latency": append([]string{measureLatency}, mysqlMeasurements...)} {
		s, err := parseSettings([]string{"-only", group}, io.Discard)
		if err != nil {
			t.Fatalf("-only %s: %v", group, err)
		}
		for _, m := range allMeasurements {
			if got := s.selected(m); got != slices.Contains(want, m) {
				t.Errorf("-only %s: selected(%s) = %v", group, m, got)
			}
		}
	}
	if s, err := parseSettings([]string{"-only", "snapshot", "-snapshot-rows", "1000"}, io.Discard); err != nil ||
		s.snapshotRows != 1000 {
		t.Errorf("-snapshot-rows 1000: %+v, %v", s, err)
	}
	if s, err := parseSettings([]string{"-mysql-port", "3307", "-mysql-user", "u"}, io.Discard); err != nil ||
		s.mysqlPort != 3307 || s.mysqlUser != "u" {
		t.Errorf("-mysql-port 3307 -mysql-user u: %+v, %v", s, err)
	}
	if _, err := parseSettings([]string{"-only", "nope"}, io.Discard); !errors.Is(err, ErrSettings) {
		t.Errorf("unknown -only: err = %v, want ErrSettings", err)
	}
	if _, err := parseSettings([]string{"-no-such-flag"}, io.Discard); !errors.Is(err, ErrSettings) {
		t.Errorf("unknown flag: err = %v, want ErrSettings", err)
	}
}

func TestPercentiles(t *testing.T) {
	values := make([]float64, 0, 100)
	for i := 100; i >= 1; i-- {
		values = append(values, float64(i))
	}
	got := percentiles(values, 0.5, 0.99, 1)
	if want := []float64{50, 99, 100}; !slices.Equal(got, want) {
		t.Errorf("percentiles of 1..100 = %v, want %v", got, want)
	}
	if got := percentiles([]float64{7}, 0.5, 1); !slices.Equal(got, []float64{7, 7}) {
		t.Errorf("percentiles of one value = %v, want [7 7]", got)
	}
	if got := percentiles(nil, 0.5); !math.IsNaN(got[0]) {
		t.Errorf("percentile of nothing = %v, want NaN", got[0])
	}
}

func TestParseVmHWM(t *testing.T) {
	status := []byte("Name:\tcdcd\nVmPeak:\t  900000 kB\nVmHWM:\t   38712 kB\nVmRSS:\t   30000 kB\n")
	got, err := parseVmHWM(status)
	if err != nil {
		t.Fatalf("parseVmHWM: %v", err)
	}
	if want := int64(38712 * 1024); got != want {
		t.Errorf("parseVmHWM = %d, want %d", got, want)
	}
	for _, bad := range []string{"Name:\tcdcd\n", "VmHWM:\t12 MB\n", "VmHWM:\tx kB\n"} {
		if _, err := parseVmHWM([]byte(bad)); err == nil {
			t.Errorf("parseVmHWM(%q) succeeded", bad)
		}
	}
}

// TestCDCDConfig checks the rendered files against the field names of docs/configuration.md.
func TestCDCDConfig(t *testing.T) {
	common := map[string]any{
		"kafka":    map[string]any{"brokers": []any{"127.0.0.1:19092"}, "offsets_topic": "bench_ab12_tput_offsets"},
		"registry": map[string]any{"listen": "127.0.0.1:40000", "topic": "bench_ab12_tput_schemas"},
		"log":      map[string]any{"level": "info", "format": "json"},
		"api":      map[string]any{"listen": "off"},
	}
	pgConnector := func(mode string) map[string]any {
		return map[string]any{"type": "postgres", "postgres": map[string]any{
			"host": "127.0.0.1", "port": float64(55432), "user": "postgres", "database": "bench_ab12_tput",
			"slot": "bench_ab12_tput_cdcd", "publication": "bench_ab12_tput_pub",
			"tables": []any{"public.bench_items"}, "snapshot_mode": mode,
		}}
	}
	pgSrc := pgSource{host: "127.0.0.1", port: 55432, database: "bench_ab12_tput", slot: "bench_ab12_tput_cdcd",
		publication: "bench_ab12_tput_pub"}
	withMode := func(mode string) pgSource { s := pgSrc; s.snapshotMode = mode; return s }
	tests := []struct {
		name      string
		source    connectorSource
		connector map[string]any
		topic     string
	}{
		// The streaming phases measure a backlog: no snapshot of it.
		{"postgres streaming", withMode("no_data"), pgConnector("no_data"), "bench_ab12_tput.public.bench_items"},
		{"postgres snapshot", withMode("initial"), pgConnector("initial"), "bench_ab12_tput.public.bench_items"},
		{"mysql",
			mysqlSource{host: "127.0.0.1", port: 33306, user: "cdcd", password: "cdcd", database: "bench_ab12_my_tput"},
			map[string]any{"type": "mysql", "mysql": map[string]any{
				"host": "127.0.0.1", "port": float64(33306), "user": "cdcd", "password": "cdcd",
				"server_id": float64(0), "tables": []any{"bench_ab12_my_tput.bench_items"},
			}},
			"bench_ab12_tput.bench_ab12_my_tput.bench_items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cdcdConfig{brokers: "127.0.0.1:19092", registryListen: "127.0.0.1:40000", name: "bench_ab12_tput",
				source: tt.source}
			var got map[string]any
			if err := yaml.Unmarshal([]byte(cfg.yaml()), &got); err != nil {
				t.Fatalf("the config is not YAML: %v\n%s", err, cfg.yaml())
			}
			want := maps.Clone(common)
			conn := map[string]any{"name": "bench_ab12_tput", "topic_prefix": "bench_ab12_tput"}
			maps.Copy(conn, tt.connector)
			want["connectors"] = []any{conn}
			wantYAML, _ := yaml.Marshal(want)
			gotYAML, _ := yaml.Marshal(got)
			if !bytes.Equal(gotYAML, wantYAML) {
				t.Errorf("config:\n%s\nwant:\n%s", gotYAML, wantYAML)
			}
			if got := cfg.dataTopic(); got != tt.topic {
				t.Errorf("data topic = %s, want %s", got, tt.topic)
			}
		})
	}
}

func TestRecvlogicalArgs(t *testing.T) {
	args := strings.Join(recvlogicalArgs("127.0.0.1", 55432, "db1", "s1", "pub1", "0/16B3748"), " ")
	for _, want := range []string{"-h 127.0.0.1", "-p 55432", "-d db1", "--slot s1", "--start", "-P pgoutput",
		"-o proto_version=2", "-o publication_names=pub1", "-o binary=true", "--endpos 0/16B3748", "-f /dev/null"} {
		if !strings.Contains(args, want) {
			t.Errorf("pg_recvlogical arguments %q lack %q", args, want)
		}
	}
}

func TestCopyArgs(t *testing.T) {
	args := copyArgs("127.0.0.1", 55432, "db1")
	joined := strings.Join(args, " ")
	for _, want := range []string{"-X", "-h 127.0.0.1", "-p 55432", "-U postgres", "-d db1", "ON_ERROR_STOP=1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("psql arguments %q lack %q", joined, want)
		}
	}
	// The query is one argument: psql must not split it.
	if got := args[len(args)-1]; got != "COPY (SELECT * FROM bench_items) TO STDOUT" || args[len(args)-2] != "-c" {
		t.Errorf("psql runs %q, want -c with the COPY of bench_items", got)
	}
}

func TestTableWrite(t *testing.T) {
	var tb table
	tb.add("raw read rate", 225452.4, "events/s", "note a")
	tb.add("peak RSS", 37.84, "MiB", "")
	tb.add("latency p50", 0.5, "ms", "")
	var out bytes.Buffer
	if err := tb.write(&out); err != nil {
		t.Fatalf("write: %v", err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("table has %d lines, want 4:\n%s", len(lines), out.String())
	}
	for i, want := range []string{"measurement", "225452", "37.8", "0.5"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d %q lacks %q", i, lines[i], want)
		}
	}
	// The columns are aligned: the unit starts at the same place on every line.
	col := strings.Index(lines[0], "unit")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("unit column not aligned at %d in %q", col, l)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{
		225452.4: "225452", 1_000_000: "1000000", 12: "12", 150.26: "150", 37.84: "37.8", 8.001: "8.00",
		1.784: "1.78", 0.508: "0.508", 0.6191: "0.619",
	} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %s, want %s", v, got, want)
		}
	}
}
