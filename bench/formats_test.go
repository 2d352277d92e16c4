package main

import (
	"io"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestFormatInConfig checks that a run started while the bench measures format json names the
// format in its connector and has names of its own, apart from the avro run of the same phase.
func TestFormatInConfig(t *testing.T) {
	b := &bench{s: defaultSettings(), runID: "ab12"}
	src := pgSource{host: "127.0.0.1", port: 55432, database: "bench_ab12_tput", slot: "s", publication: "p"}
	avroCfg, err := b.newCDCDConfig("tput", src)
	if err != nil {
		t.Fatal(err)
	}
	b.format = "json"
	jsonCfg, err := b.newCDCDConfig("tput", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cfg          cdcdConfig
		name, format string
	}{{avroCfg, "bench_ab12_tput", ""}, {jsonCfg, "bench_ab12_tput_json", "json"}} {
		var got struct {
			Connectors []struct {
				Name, Format, Type string
			}
		}
		if err := yaml.Unmarshal([]byte(tt.cfg.yaml()), &got); err != nil {
			t.Fatalf("the config is not YAML: %v\n%s", err, tt.cfg.yaml())
		}
		if len(got.Connectors) != 1 || got.Connectors[0].Name != tt.name || got.Connectors[0].Format != tt.format ||
			got.Connectors[0].Type != "postgres" {
			t.Errorf("connectors = %+v, want one postgres connector %s of format %q\n%s", got.Connectors, tt.name, tt.format, tt.cfg.yaml())
		}
	}
	if avroCfg.dataTopic() == jsonCfg.dataTopic() {
		t.Errorf("both runs write %s", avroCfg.dataTopic())
	}
}

// TestFormatMeasurementsSelected checks that the json throughput of PostgreSQL runs by default
// and that MariaDB's runs only when named (its frozen cdcd must not outlast net_write_timeout).
func TestFormatMeasurementsSelected(t *testing.T) {
	for _, tt := range []struct {
		only     []string
		pg, mysq bool
	}{
		{nil, true, false},
		{[]string{"-only", "mysql"}, false, false},
		{[]string{"-only", "all"}, true, false},
		{[]string{"-only", "mysql-throughput,mysql-throughput-json"}, false, true},
	} {
		s, err := parseSettings(tt.only, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tt.only, err)
		}
		if s.selected(measureThroughputJSON) != tt.pg || s.selected(measureMySQLThroughputJSON) != tt.mysq {
			t.Errorf("%v: selected throughput-json %v, mysql-throughput-json %v; want %v, %v", tt.only,
				s.selected(measureThroughputJSON), s.selected(measureMySQLThroughputJSON), tt.pg, tt.mysq)
		}
	}
}
