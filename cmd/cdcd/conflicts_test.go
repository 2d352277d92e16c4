package main

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/api"
)

// TestConflictsOverTheAPI: connectors created over the API get the config file's check, so that
// coll-a and coll.a (one default slot, cdcd_coll_a) cannot both exist; a connector with a slot
// and publication of its own, another database's or a MySQL connector can.
func TestConflictsOverTheAPI(t *testing.T) {
	f := &connectorFactory{cfg: &Config{}, log: zerolog.Nop()}
	pg := func(extra ...string) api.Config {
		c := api.Config{"type": "postgres", "topic_prefix": "demo", "postgres.host": "db", "postgres.user": "cdcd",
			"postgres.database": "shop", "postgres.tables": "public.a"}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i]] = extra[i+1]
		}
		return c
	}
	others := map[string]api.Config{"coll-a": pg(), "shop-mysql": {"type": "mysql", "topic_prefix": "m",
		"mysql.host": "db", "mysql.user": "cdcd"}}
	problems := f.Conflicts("coll.a", pg(), others)
	if len(problems) != 1 || problems[0].Name != "postgres.slot" ||
		!strings.Contains(problems[0].Message, "coll-a") || !strings.Contains(problems[0].Message, "cdcd_coll_a") {
		t.Fatalf("coll.a beside coll-a: %+v, want one problem naming coll-a and the slot", problems)
	}
	for what, cfg := range map[string]api.Config{
		"own slot and publication": pg("postgres.slot", "cdcd_coll_a2", "postgres.publication", "cdcd_coll_a2"),
		"another server":           pg("postgres.host", "db2"),
	} {
		if problems := f.Conflicts("coll.a", cfg, others); len(problems) != 0 {
			t.Errorf("%s: %+v, want no conflict", what, problems)
		}
	}
}
