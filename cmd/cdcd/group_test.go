package main

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestParseConfigGroup(t *testing.T) {
	const group = "registry:\n  url: http://127.0.0.1:8081\ngroup:\n  id: g1\n  session_timeout_ms: 6000\n  heartbeat_interval_ms: 2000\n  rebalance_delay_ms: 30000\n"
	cfg, err := parseConfig([]byte(validConfig + group))
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}
	mc := cfg.Group.memberConfig("h:1", zerolog.Nop())
	if mc.Group != "g1" || mc.Worker != "h:1" || mc.SessionTimeout != 6*time.Second || mc.HeartbeatInterval != 2*time.Second ||
		mc.RebalanceDelay != 30*time.Second || mc.RebalanceTimeout != 0 {
		t.Fatalf("member config %+v", mc)
	}

	for _, tc := range []struct{ name, extra, mention string }{
		{"embedded registry", "group:\n  id: g1\n", "group.id: a group needs registry.url"},
		{"api off", "registry:\n  url: http://r\napi:\n  listen: \"off\"\ngroup:\n  id: g1\n", "a group member needs the REST API"},
		{"timeouts without id", "group:\n  session_timeout_ms: 6000\n", "group.id is not"},
		{"heartbeat too slow", "registry:\n  url: http://r\ngroup:\n  id: g\n  session_timeout_ms: 6000\n  heartbeat_interval_ms: 3000\n", "over a third of the session timeout"},
		{"negative delay", "registry:\n  url: http://r\ngroup:\n  id: g\n  rebalance_delay_ms: -1\n", "group.rebalance_delay_ms: -1 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(validConfig + tc.extra))
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.mention)
			}
		})
	}
}
