package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDebeziumSettings(t *testing.T) {
	s, err := parseSettings([]string{"-debezium", "/jars"}, io.Discard)
	if err != nil {
		t.Fatalf("parseSettings: %v", err)
	}
	// Without -only, the workloads both tools run, and nothing else.
	for _, m := range allMeasurements {
		want := m == measureThroughput || m == measureMySQLThroughput || m == measureSnapshot ||
			m == measureLatency || m == measureMySQLLatency
		if s.selected(m) != want {
			t.Errorf("selected(%s) = %v, want %v", m, s.selected(m), want)
		}
	}
	if _, err := parseSettings([]string{"-debezium", "/jars", "-only", "snapshot"}, io.Discard); err != nil {
		t.Errorf("-debezium with -only snapshot: %v", err)
	}
	if _, err := parseSettings([]string{"-debezium", "/jars", "-only", "bigtx"}, io.Discard); !errors.Is(err, ErrSettings) {
		t.Errorf("-debezium with -only bigtx = %v, want ErrSettings", err)
	}
}

func TestDebeziumHome(t *testing.T) {
	dir := t.TempDir()
	home := debeziumHome(dir)
	if err := home.check(); !errors.Is(err, ErrSettings) {
		t.Fatalf("check of an empty folder = %v, want ErrSettings", err)
	}
	for _, jar := range []string{"connect/connect-runtime-4.1.1.jar", "plugins/debezium-postgres/debezium-connector-postgres-3.6.1.Final.jar",
		"plugins/debezium-mariadb/debezium-connector-mariadb-3.5.0.Final.jar"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(jar)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, jar), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := home.check(); err != nil {
		t.Fatalf("check: %v", err)
	}
	line := home.describe()
	for _, want := range []string{"Kafka Connect 4.1.1", "PostgreSQL connector 3.6.1.Final", "MariaDB connector 3.5.0.Final", "JsonConverter", "favours Debezium"} {
		if !strings.Contains(line, want) {
			t.Errorf("describe() = %q, want it to say %q", line, want)
		}
	}
	if v := home.version("connect", "connect-json"); v != "unknown" {
		t.Errorf("version of a missing jar = %q, want unknown", v)
	}
}

func TestProperties(t *testing.T) {
	got := properties([][2]string{{"name", "c1"}, {"slot.name", "s"}})
	if got != "name=c1\nslot.name=s\n" {
		t.Errorf("properties = %q", got)
	}
}

func TestWriteComparison(t *testing.T) {
	var empty bytes.Buffer
	if err := writeComparison(&empty, nil); err != nil || empty.Len() != 0 {
		t.Fatalf("no workload printed %q, %v; want nothing", empty.String(), err)
	}
	results := []comparison{{
		workload: "PostgreSQL streaming",
		cdcd:     toolResult{records: 1_000_000, rate: 100_000, wall: 10 * time.Second, usage: usage{peakRSS: 50 << 20, cpu: 5 * time.Second}},
		debezium: toolResult{records: 1_000_000, rate: 25_000, wall: 40 * time.Second, usage: usage{peakRSS: 1000 << 20, cpu: 40 * time.Second}},
	}}
	var out bytes.Buffer
	if err := writeComparison(&out, results); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want a header and three rows:\n%s", len(lines), out.String())
	}
	// Columns are two spaces or more apart; whole numbers have no decimals (formatValue).
	for i, want := range [][]string{
		{"workload", "tool", "events", "events/s", "wall s", "peak RSS MiB", "CPU s / M events"},
		{"PostgreSQL streaming", "cdcd", "1000000", "100000", "10", "50", "5"},
		{"PostgreSQL streaming", "Debezium (JsonConverter)", "1000000", "25000", "40", "1000", "40"},
		// cdcd's figures over Debezium's: 4 times the rate, a quarter of the wall time, a
		// twentieth of the memory, an eighth of the CPU.
		{"PostgreSQL streaming", "cdcd / Debezium", "4", "0.25", "0.05", "0.125"},
	} {
		if got := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(lines[i]), -1); !slices.Equal(got, want) {
			t.Errorf("line %d = %q, want %q", i, got, want)
		}
	}
}

func TestBinlogConnected(t *testing.T) {
	log := "[2026-12-06 18:02:39] INFO Connected to binlog at 127.0.0.1:33306, starting at MariaDbOffsetContext (io.debezium.connector.binlog.BinlogStreamingChangeEventSource)\n"
	if !binlogConnected("[x] INFO Starting\n" + log) {
		t.Error("binlogConnected missed the line")
	}
	// The two words on different lines are not the line.
	if binlogConnected("[x] INFO Connected to the broker\n[x] INFO reading the binlog position\n") {
		t.Error("binlogConnected matched words of two lines")
	}
}

func TestJSONCommitMs(t *testing.T) {
	pg := []byte(`{"before":null,"after":{"id":1,"updated_at":"2026-12-06T18:00:00.123456Z"},"source":{"ts_ms":1765044000123},"op":"c"}`)
	if got, err := jsonCommitMs(pg, false); err != nil || got != 1765044000123 {
		t.Errorf("jsonCommitMs(PostgreSQL) = %v, %v; want source.ts_ms", got, err)
	}
	my := []byte(`{"before":null,"after":{"id":1,"updated_at":1765044000123456},"source":{"ts_ms":1765044000000},"op":"c"}`)
	if got, err := jsonCommitMs(my, true); err != nil || got != 1765044000123.456 {
		t.Errorf("jsonCommitMs(MariaDB) = %v, %v; want after.updated_at in ms", got, err)
	}
	for _, bad := range []string{`not json`, `{"source":{}}`, `{"source":{"ts_ms":1},"after":null}`} {
		rowTime := strings.Contains(bad, "after")
		if _, err := jsonCommitMs([]byte(bad), rowTime); err == nil {
			t.Errorf("jsonCommitMs(%s) gave no error", bad)
		}
	}
}

func TestWriteLatencyComparison(t *testing.T) {
	var out bytes.Buffer
	if err := writeLatencyComparison(&out, nil); err != nil || out.Len() != 0 {
		t.Fatalf("no latency printed %q, %v; want nothing", out.String(), err)
	}
	err := writeLatencyComparison(&out, []latencyComparison{{workload: "PostgreSQL",
		cdcd:     latencyResult{records: 200_000, p50: 15, p99: 30, max: 60, writeRate: 9990},
		debezium: latencyResult{records: 200_000, p50: 500, p99: 1000, max: 1200, writeRate: 9980},
	}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"latency workload", "tool", "records", "p50 ms", "p99 ms", "max ms", "write rows/s"},
		{"PostgreSQL", "cdcd", "200000", "15", "30", "60", "9990"},
		{"PostgreSQL", "Debezium (JsonConverter)", "200000", "500", "1000", "1200", "9980"},
		{"PostgreSQL", "cdcd / Debezium", "0.03", "0.03", "0.05"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if got := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(lines[i]), -1); !slices.Equal(got, w) {
			t.Errorf("line %d = %q, want %q", i, got, w)
		}
	}
}
