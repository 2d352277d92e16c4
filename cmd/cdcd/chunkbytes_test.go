package main

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestParseConfigSnapshotChunkBytes checks that snapshot_chunk_bytes is validated and reaches
// both sources' configurations.
func TestParseConfigSnapshotChunkBytes(t *testing.T) {
	pgYAML := func(v string) string {
		return strings.Replace(validConfig, "host: 127.0.0.1", "host: 127.0.0.1\n      snapshot_chunk_bytes: "+v, 1)
	}
	cfg, err := parseConfig([]byte(pgYAML("2097152")))
	if err != nil {
		t.Fatal(err)
	}
	if got := postgresConfig(cfg.Connectors[0], zerolog.Nop()).SnapshotChunkBytes; got != 2<<20 {
		t.Errorf("postgres source gets %d bytes, want 2 MiB", got)
	}
	for _, bad := range []string{"-1", "1000", "99999999999"} {
		if _, err := parseConfig([]byte(pgYAML(bad))); err == nil || !strings.Contains(err.Error(), "postgres.snapshot_chunk_bytes") {
			t.Errorf("snapshot_chunk_bytes %s: err = %v, want one naming postgres.snapshot_chunk_bytes", bad, err)
		}
	}
	const mysqlYAML = `
kafka:
  brokers: [127.0.0.1:19092]
connectors:
  - name: shop
    type: mysql
    topic_prefix: demo
    mysql: {host: 127.0.0.1, user: cdcd, password: s3cret, tables: [shop.items], snapshot_chunk_bytes: 2097152}
`
	cfg, err = parseConfig([]byte(mysqlYAML))
	if err != nil {
		t.Fatal(err)
	}
	if got := mysqlConfig(cfg, cfg.Connectors[0], zerolog.Nop()).SnapshotChunkBytes; got != 2<<20 {
		t.Errorf("mysql source gets %d bytes, want 2 MiB", got)
	}
	// Unset: 0, the sources' default.
	cfg, err = parseConfig([]byte(validConfig))
	if err != nil || postgresConfig(cfg.Connectors[0], zerolog.Nop()).SnapshotChunkBytes != 0 {
		t.Errorf("unset: %v", err)
	}
}
