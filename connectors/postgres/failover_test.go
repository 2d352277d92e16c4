package postgres

import (
	"errors"
	"testing"
)

func TestHostList(t *testing.T) {
	c := Config{Host: "db1", Port: 5433}
	if got, want := c.hostList(), "host='db1' port=5433"; got != want {
		t.Errorf("one host: %q, want %q", got, want)
	}
	c.Hosts = []string{"db2:6432", "db3", "[::1]:7000"}
	if got, want := c.hostList(), "host='db1,db2,db3,::1' port='5433,6432,5433,7000' target_session_attrs=read-write"; got != want {
		t.Errorf("several hosts: %q, want %q", got, want)
	}
	if _, err := c.connConfig(nil); err != nil {
		t.Errorf("the connection string of several hosts does not parse: %v", err)
	}
}

// TestSeveralHostsConnectErrorIsRetried: with several hosts, a joined connect error that
// mentions a refused TLS attempt (a standby's, during a promotion) is retried as unreachable,
// not a permanent sslmode error; with one host it stays the sslmode error where the sslmode
// requires TLS.
func TestSeveralHostsConnectErrorIsRetried(t *testing.T) {
	err := errors.New("failed to connect to `host=127.0.0.1 user=postgres database=d`: server refused TLS connection")
	one := Config{Host: "127.0.0.1", Port: 5432, SSLMode: "require"}
	var cfgErr *ConfigError
	if got := classifyConnectError(one, err); !errors.As(got, &cfgErr) || cfgErr.Field != "sslmode" {
		t.Errorf("one host: %v, want a ConfigError on sslmode", got)
	}
	several := one
	several.Hosts = []string{"127.0.0.1:5433"}
	joined := errors.New("failed to connect to `host=127.0.0.1 user=postgres database=d`: server refused TLS connection; read only connection")
	if got := classifyConnectError(several, joined); !errors.Is(got, ErrUnreachable) {
		t.Errorf("several hosts: %v, want ErrUnreachable", got)
	}
}

// TestPreferRefusedTLSIsNotTheCause: under sslmode prefer (and allow) a server without TLS is
// connected to in plain; when that plain attempt fails too (a server restarting), the joined
// error still names the refused TLS, but the failure is retried as unreachable, not turned
// into a permanent sslmode error that fails the connector.
func TestPreferRefusedTLSIsNotTheCause(t *testing.T) {
	err := errors.New("failed to connect to `host=127.0.0.1 user=postgres database=d`: server refused TLS connection; unexpected EOF")
	for _, mode := range []string{"prefer", "allow"} {
		cfg := Config{Host: "127.0.0.1", Port: 5432, SSLMode: mode}
		got := classifyConnectError(cfg, err)
		if !errors.Is(got, ErrUnreachable) || !IsRetryable(got) {
			t.Errorf("sslmode %s: %v, want ErrUnreachable, retryable", mode, got)
		}
	}
}
