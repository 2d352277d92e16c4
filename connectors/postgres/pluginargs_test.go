package postgres

import (
	"slices"
	"testing"
)

// TestPluginArgsAskForBinaryFrom14 checks that pgoutput's binary format, which halves what a
// bytea costs on the wire and in memory, is asked for exactly where it exists (PostgreSQL 14).
func TestPluginArgsAskForBinaryFrom14(t *testing.T) {
	cfg := Config{Publication: "pub"}
	for _, tc := range []struct {
		version string
		binary  bool
	}{
		{"15.18 (Debian 15.18-0+deb12u1)", true},
		{"14.0", true},
		{"17beta1", true},
		{"13.16", false},
		{"10.23", false},
		{"", false},
	} {
		got := slices.Contains(pluginArgs(cfg, tc.version), "binary 'true'")
		if got != tc.binary {
			t.Errorf("server_version %q: binary %v, want %v (args %q)", tc.version, got, tc.binary, pluginArgs(cfg, tc.version))
		}
	}
}
