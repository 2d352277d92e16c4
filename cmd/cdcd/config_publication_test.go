package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
)

func TestParseConfigPublicationGap(t *testing.T) {
	with := func(lines string) string {
		return strings.Replace(validConfig, "host: 127.0.0.1", "host: 127.0.0.1\n      "+lines, 1)
	}
	for _, tc := range []struct {
		lines  string
		policy postgres.PublicationGapPolicy
		every  time.Duration
	}{
		{"sslmode: prefer", postgres.PublicationGapResnapshot, 0},
		{"publication_gap: resnapshot", postgres.PublicationGapResnapshot, 0},
		{"publication_gap: fail\n      publication_check_interval: 30s", postgres.PublicationGapFail, 30 * time.Second},
		{"publication_check_interval: 100ms", postgres.PublicationGapResnapshot, 100 * time.Millisecond},
	} {
		cfg, err := parseConfig([]byte(with(tc.lines)))
		if err != nil {
			t.Errorf("%q: %v", tc.lines, err)
			continue
		}
		pc := postgresConfig(cfg.Connectors[0], zerolog.Nop())
		if pc.PublicationGap != tc.policy || pc.PublicationCheckInterval != tc.every {
			t.Errorf("%q: source gets %s every %s, want %s every %s", tc.lines, pc.PublicationGap, pc.PublicationCheckInterval, tc.policy, tc.every)
		}
	}
	for _, bad := range []struct{ lines, key string }{
		{"publication_gap: ignore", "postgres.publication_gap"},
		{"publication_check_interval: 10ms", "postgres.publication_check_interval"},
		{"publication_check_interval: 2h", "postgres.publication_check_interval"},
		{"publication_check_interval: often", "postgres.publication_check_interval"},
	} {
		_, err := parseConfig([]byte(with(bad.lines)))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%q: err = %v, want an ErrConfig naming %s", bad.lines, err, bad.key)
		}
	}
}
