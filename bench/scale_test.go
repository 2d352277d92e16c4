package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestSpreadRows(t *testing.T) {
	tests := []struct {
		name     string
		from, to int64
		tables   int
	}{
		{"fewer rows than tables", 1, 5, 1000},
		{"more rows than tables", 1, 1000, 7},
		{"a later transaction", 2001, 3000, 1000},
		{"one table", 11, 20, 1},
		{"uneven", 3, 29, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Expand the ranges: every row once, each in the table its id names.
			seen := map[int64]int{}
			tables := map[int]bool{}
			for _, r := range spreadRows(tt.from, tt.to, tt.tables) {
				if tables[r.table] {
					t.Fatalf("table %d has two ranges: %+v", r.table, r)
				}
				tables[r.table] = true
				if r.step != int64(tt.tables) || r.first > r.last {
					t.Fatalf("range %+v: step %d, want %d, first after last", r, r.step, tt.tables)
				}
				for g := r.first; g <= r.last; g += r.step {
					if int((g-1)%int64(tt.tables)) != r.table {
						t.Errorf("row %d in table %d, want %d", g, r.table, (g-1)%int64(tt.tables))
					}
					seen[g]++
				}
			}
			for g := tt.from; g <= tt.to; g++ {
				if seen[g] != 1 {
					t.Errorf("row %d written %d times, want once", g, seen[g])
				}
			}
			if len(seen) != int(tt.to-tt.from+1) {
				t.Errorf("%d rows written, want %d", len(seen), tt.to-tt.from+1)
			}
			if want := min(int(tt.to-tt.from+1), tt.tables); len(tables) != want {
				t.Errorf("%d tables written, want %d", len(tables), want)
			}
		})
	}
	if got := spreadRows(5, 4, 10); got != nil {
		t.Errorf("an empty range gave %v", got)
	}
	if got := spreadRows(1, 4, 0); got != nil {
		t.Errorf("no tables gave %v", got)
	}
}

func TestSpreadInsertSQL(t *testing.T) {
	got := spreadInsertSQL("scale_t0003", spreadRange{table: 3, first: 4, last: 2004, step: 1000})
	for _, want := range []string{"INSERT INTO scale_t0003 ", "generate_series(4::bigint, 2004::bigint, 1000::bigint)", "g % 1000"} {
		if !strings.Contains(got, want) {
			t.Errorf("statement %q lacks %q", got, want)
		}
	}
	if got := scaleTableName(7); got != "scale_t0007" {
		t.Errorf("scaleTableName(7) = %s", got)
	}
}

func TestScaleConfigYAML(t *testing.T) {
	conns := []scaleConnector{
		{name: "bench_ab12_scon_c00", database: "bench_ab12_sc00", tables: []string{"bench_items"}},
		{name: "bench_ab12_scon_c01", database: "bench_ab12_sc01", tables: []string{"scale_t0000", "scale_t0001"}, partitions: 10},
	}
	text := scaleConfigYAML("127.0.0.1:19092", "127.0.0.1:40000", "bench_ab12_scon", "127.0.0.1", 45000, "info", conns)
	var got map[string]any
	if err := yaml.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("the config is not YAML: %v\n%s", err, text)
	}
	connector := func(name, db string, tables []any) map[string]any {
		return map[string]any{"name": name, "topic_prefix": name, "type": "postgres", "postgres": map[string]any{
			"host": "127.0.0.1", "port": float64(45000), "user": "postgres", "database": db,
			"slot": name, "publication": name + "_pub", "tables": tables, "snapshot_mode": "no_data"}}
	}
	second := connector("bench_ab12_scon_c01", "bench_ab12_sc01", []any{"public.scale_t0000", "public.scale_t0001"})
	second["topic_creation"] = map[string]any{"default": map[string]any{"partitions": float64(10)}}
	want := map[string]any{
		"kafka":    map[string]any{"brokers": []any{"127.0.0.1:19092"}, "offsets_topic": "bench_ab12_scon_offsets"},
		"registry": map[string]any{"listen": "127.0.0.1:40000", "topic": "bench_ab12_scon_schemas"},
		"log":      map[string]any{"level": "info", "format": "json"},
		"api":      map[string]any{"listen": "off"},
		"connectors": []any{
			connector("bench_ab12_scon_c00", "bench_ab12_sc00", []any{"public.bench_items"}),
			second,
		},
	}
	wantYAML, _ := yaml.Marshal(want)
	gotYAML, _ := yaml.Marshal(got)
	if !bytes.Equal(gotYAML, wantYAML) {
		t.Errorf("config:\n%s\nwant:\n%s", gotYAML, wantYAML)
	}
}

func TestScaleTopicsRegexp(t *testing.T) {
	re := regexp.MustCompile(scaleTopicsRegexp("bench_ab12_scon"))
	for topic, want := range map[string]bool{
		"bench_ab12_scon_c00.public.bench_items":  true,
		"bench_ab12_scon_c49.public.scale_t0999":  true,
		"bench_ab12_scon_offsets":                 false, // cdcd's own topics are not data
		"bench_ab12_scon_schemas":                 false,
		"bench_ab12_stab_c00.public.bench_items":  false, // another run's
		"xbench_ab12_scon_c00.public.bench_items": false,
	} {
		if got := re.MatchString(topic); got != want {
			t.Errorf("%s matches: %v, want %v", topic, got, want)
		}
	}
}

func TestScaleResultRows(t *testing.T) {
	r := scaleResult{
		tables: 1000, tablesStart: 2500 * time.Millisecond, tablesFirst: 3 * time.Second, tablesRate: 20000, tablesRows: 200000,
		tablesPeakRSS: 80 << 20, tablesSchemaRecords: 2000, tablesSubjects: 2000,
		connectors: 50, oneIdleRSS: 30 << 20, idleRSS: 128 << 20, connStart: 4 * time.Second,
		connRate: 30000, connRows: 200000, connPeakRSS: 200 << 20, connRestart: 5200 * time.Millisecond,
		partitionRates: map[int]float64{1: 50000, 10: 40000}, partitionRows: 300000, schemaRecords: 102, subjects: 100,
	}
	if got, want := r.idlePerConnector(), float64(2<<20); got != want {
		t.Errorf("idle RSS per added connector = %v, want %v", got, want)
	}
	var tab table
	r.addTo(&tab)
	var out bytes.Buffer
	if err := tab.write(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"scale: tables start", "2.50   s", "scale: idle RSS per connector", "2.56", // 128 MiB / 50
		"scale: idle RSS per added connector", "scale: connectors restart", "5.20",
		"scale: 10 partition(s) throughput", "40000", "scale: 1 partition(s) throughput", "50000",
		"one connector, 1000 tables", "scale: schemas registered twice         2 ", "(102) minus subjects (100)",
		"scale: tables schemas registered twice  0 ", "(2000) minus subjects (2000)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\n"); n != 17 {
		t.Errorf("table has %d lines, want a header and 16 rows:\n%s", n, text)
	}
	if one := (scaleResult{connectors: 1}); one.idlePerConnector() != 0 {
		t.Errorf("one connector has a per added connector cost")
	}
}

func TestScaleSettings(t *testing.T) {
	s, err := parseSettings([]string{"-only", "scale", "-scale-tables", "10", "-scale-connectors", "3", "-scale-pg-port", "5432"}, new(bytes.Buffer))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if !s.selected(measureScale) || s.selected(measureThroughput) || s.scale.tables != 10 || s.scale.connectors != 3 || s.scale.pgPort != 5432 {
		t.Errorf("settings: %+v", s)
	}
	// Not in the default run, nor in a group: it starts a server of its own.
	if d := defaultSettings(); d.selected(measureScale) {
		t.Error("scale runs by default")
	}
	for _, g := range groups {
		for _, m := range g {
			if m == measureScale {
				t.Error("scale is in a group")
			}
		}
	}
	if !s.scale.selected(scaleRunTables) || !s.scale.selected(scaleRunConnectors) || !s.scale.selected(scaleRunPartitions) ||
		s.scale.logLevel != "info" {
		t.Errorf("every run at info by default: %+v", s.scale)
	}
	s, err = parseSettings([]string{"-only", "scale", "-scale-runs", "tables, partitions", "-scale-log-level", "debug"}, new(bytes.Buffer))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if !s.scale.selected(scaleRunTables) || s.scale.selected(scaleRunConnectors) || !s.scale.selected(scaleRunPartitions) ||
		s.scale.logLevel != "debug" {
		t.Errorf("-scale-runs tables,partitions -scale-log-level debug: %+v", s.scale)
	}
	for _, bad := range [][]string{{"-scale-tables", "0"}, {"-scale-pg-port", "-1"}, {"-scale-connector-rows", "0"},
		{"-scale-runs", "tables,tabels"}, {"-scale-runs", ","}, {"-scale-log-level", "trace"}} {
		if _, err := parseSettings(bad, new(bytes.Buffer)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
