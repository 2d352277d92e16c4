package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestJudgeStandby(t *testing.T) {
	base := Config{Host: "standby", Port: 5432}
	hb := base
	hb.HeartbeatInterval = time.Second
	hbHost := hb
	hbHost.HeartbeatHost = "primary:5432"
	for _, tc := range []struct {
		name  string
		cfg   Config
		st    standbySettings
		field string // empty: accepted
		words []string
	}{
		{"16 with feedback", base, standbySettings{major: 16, hotStandbyFeed: "on"}, "", nil},
		{"15", base, standbySettings{major: 15, hotStandbyFeed: "on"}, "host", []string{"PostgreSQL 16"}},
		{"feedback off", base, standbySettings{major: 17, hotStandbyFeed: "off"}, "hot_standby_feedback",
			[]string{`is "off"`, "ALTER SYSTEM SET hot_standby_feedback = on", "primary_slot_name"}},
		{"heartbeats without a primary", hb, standbySettings{major: 18, hotStandbyFeed: "on"}, "heartbeat_host",
			[]string{"cannot write heartbeats", "postgres.heartbeat_host"}},
		{"heartbeats on the primary", hbHost, standbySettings{major: 18, hotStandbyFeed: "on"}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := judgeStandby(tc.cfg, tc.st)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("got %v, want a ConfigError on %s", err, tc.field)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

func TestPrimaryConfig(t *testing.T) {
	c := Config{Host: "standby", Port: 6543, Hosts: []string{"other:1"}, User: "u"}
	if got := c.primaryConfig(); got.Host != "standby" || got.Port != 6543 || len(got.Hosts) != 1 {
		t.Errorf("without heartbeat_host: %+v, want the config itself", got)
	}
	c.HeartbeatHost = "primary"
	if got := c.primaryConfig(); got.Host != "primary" || got.Port != 6543 || got.Hosts != nil || got.User != "u" {
		t.Errorf("heartbeat_host without a port: %s:%d hosts %v", got.Host, got.Port, got.Hosts)
	}
	c.HeartbeatHost = "primary:5433"
	if got := c.primaryConfig(); got.Host != "primary" || got.Port != 5433 {
		t.Errorf("heartbeat_host with a port: %s:%d", got.Host, got.Port)
	}
}

func TestStandbyFixNamesThePrimary(t *testing.T) {
	err := &ConfigError{Source: "postgres", Field: "publication", Problem: "publication p does not exist", Fix: "CREATE PUBLICATION p FOR TABLE t"}
	if got := standbyFix(false, err); got != error(err) {
		t.Errorf("on a primary the error changed: %v", got)
	}
	got := standbyFix(true, err)
	if !strings.Contains(got.Error(), "CREATE PUBLICATION p FOR TABLE t (on the primary") {
		t.Errorf("on a standby: %v", got)
	}
	if strings.Contains(err.Fix, "primary") {
		t.Errorf("the original error was changed: %v", err)
	}
}

func TestHeartbeatHostValidated(t *testing.T) {
	c := Config{Host: "h", User: "u", Database: "d", Slot: "s", Publication: "p", HeartbeatHost: "bad host:1"}.withDefaults()
	var ce *ConfigError
	if err := c.validate(); !errors.As(err, &ce) || ce.Field != "heartbeat_host" {
		t.Errorf("got %v, want a ConfigError on heartbeat_host", err)
	}
	c.HeartbeatHost = "primary.example.com:5433"
	if err := c.validate(); err != nil {
		t.Errorf("refused %q: %v", c.HeartbeatHost, err)
	}
}
