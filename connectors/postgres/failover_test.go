package postgres

import "testing"

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
