package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestGroupMemberYAML(t *testing.T) {
	var cfg struct {
		Kafka struct {
			Brokers     []string `json:"brokers"`
			ConfigTopic string   `json:"config_topic"`
			StatusTopic string   `json:"status_topic"`
		} `json:"kafka"`
		Registry struct {
			URL string `json:"url"`
		} `json:"registry"`
		API struct {
			Listen string `json:"listen"`
		} `json:"api"`
		Group struct {
			ID      string `json:"id"`
			Session int    `json:"session_timeout_ms"`
		} `json:"group"`
		Connectors []any `json:"connectors"`
	}
	if err := yaml.Unmarshal([]byte(groupMemberYAML("127.0.0.1:19092", "bench_group", "http://127.0.0.1:1", "127.0.0.1:2")), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.Brokers[0] != "127.0.0.1:19092" || cfg.Kafka.ConfigTopic != "bench_group_configs" || cfg.Kafka.StatusTopic != "bench_group_status" ||
		cfg.Registry.URL != "http://127.0.0.1:1" || cfg.API.Listen != "127.0.0.1:2" || cfg.Group.ID != "bench_group" ||
		cfg.Group.Session != groupSessionMS || len(cfg.Connectors) != 0 {
		t.Errorf("member config %+v", cfg)
	}
}

func TestGroupConnectorConfig(t *testing.T) {
	c := groupConnectorConfig("bench_group_a", pgSource{host: "127.0.0.1", port: 55432, database: "db", slot: "s", publication: "p"})
	want := map[string]string{"type": "postgres", "topic_prefix": "bench_group_a", "postgres.port": "55432",
		"postgres.tables": "public." + benchTable, "postgres.snapshot_mode": "no_data", "postgres.slot": "s", "postgres.publication": "p"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %q, want %q", k, c[k], v)
		}
	}
}

func TestConnectorOwner(t *testing.T) {
	for _, tc := range []struct {
		status, want string
	}{
		{`{"name":"a","connector":{"state":"RUNNING","worker_id":"127.0.0.1:8083"}}`, "127.0.0.1:8083"},
		{`{"name":"a","connector":{"state":"UNASSIGNED","worker_id":"127.0.0.1:8083"}}`, ""},
		{`{"name":"a","connector":{"state":"PAUSED","worker_id":"127.0.0.1:8083"}}`, ""},
	} {
		got, err := connectorOwner([]byte(tc.status))
		if err != nil || got != tc.want {
			t.Errorf("connectorOwner(%s) = %q, %v; want %q", tc.status, got, err, tc.want)
		}
	}
	if _, err := connectorOwner([]byte("not json")); !errors.Is(err, ErrGroup) {
		t.Errorf("a garbled status: %v, want ErrGroup", err)
	}
}

func TestEventsPerSecond(t *testing.T) {
	if got := eventsPerSecond(1000, 2*time.Second); got != 500 {
		t.Errorf("1000 events in 2 s: %v/s", got)
	}
	if got := eventsPerSecond(1000, 0); got != 0 {
		t.Errorf("no time: %v/s", got)
	}
}

func TestGroupIsStandalone(t *testing.T) {
	s, err := parseSettings([]string{"-only", "group", "-group-rows", "5000"}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if !s.selected(measureGroup) || s.selected(measureThroughput) || s.groupRows != 5000 {
		t.Errorf("-only group: %+v", s)
	}
	if s, _ := parseSettings(nil, new(strings.Builder)); s.selected(measureGroup) {
		t.Errorf("the group phase runs by default")
	}
	if s, _ := parseSettings([]string{"-only", "all"}, new(strings.Builder)); s.selected(measureGroup) {
		t.Errorf("-only all runs the group phase")
	}
}
