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
// not a permanent sslmode error; with one host it stays the sslmode error.
func TestSeveralHostsConnectErrorIsRetried(t *testing.T) {
	err := errors.New("failed to connect to `host=127.0.0.1 user=postgres database=d`: server refused TLS connection; read only connection")
	one := Config{Host: "127.0.0.1", Port: 5432, SSLMode: "prefer"}
	var cfgErr *ConfigError
	if got := classifyConnectError(one, err); !errors.As(got, &cfgErr) {
		t.Errorf("one host: %v, want a ConfigError", got)
	}
	several := one
	several.Hosts = []string{"127.0.0.1:5433"}
	if got := classifyConnectError(several, err); !errors.Is(got, ErrUnreachable) {
		t.Errorf("several hosts: %v, want ErrUnreachable", got)
	}
}
