package main

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/api"
)

// Without purge, a PostgreSQL connector's answer names its slot, the SQL that drops it and the
// purge option, and the publication only when cdcd named it; MySQL has nothing to drop. None of
// this touches a server.
func TestLeftoversWithoutPurge(t *testing.T) {
	f := &connectorFactory{cfg: &Config{}, log: zerolog.Nop()}
	pg := api.Config{"type": "postgres", "topic_prefix": "demo", "postgres.host": "db", "postgres.user": "cdcd",
		"postgres.database": "shop", "postgres.tables": "public.a"}
	d, err := f.Leftovers(t.Context(), "inv", pg, api.DeleteKeep)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Dropped) != 0 || len(d.Kept) != 2 ||
		!strings.Contains(d.Kept[0], "replication slot cdcd_inv keeps WAL on shop") ||
		!strings.Contains(d.Kept[0], "pg_drop_replication_slot('cdcd_inv')") ||
		!strings.Contains(d.Kept[1], "publication cdcd_inv") || !strings.Contains(d.Message, "purge") {
		t.Fatalf("default names: %+v", d)
	}

	named := api.Config{"postgres.publication": "shared_pub"}
	for k, v := range pg {
		named[k] = v
	}
	d, err = f.Leftovers(t.Context(), "inv", named, api.DeleteKeep)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Kept) != 1 || strings.Contains(strings.Join(d.Kept, " "), "shared_pub") {
		t.Fatalf("a publication the configuration names is not cdcd's to drop: %+v", d)
	}

	my := api.Config{"type": "mysql", "topic_prefix": "demo", "mysql.host": "db", "mysql.user": "cdcd", "mysql.server_id": "7"}
	for _, mode := range []api.DeleteMode{api.DeleteKeep, api.DeletePurge} {
		d, err = f.Leftovers(t.Context(), "inv", my, mode)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Kept) != 0 || len(d.Dropped) != 0 || !strings.Contains(d.Message, "nothing to drop") {
			t.Fatalf("mysql, mode %d: %+v", mode, d)
		}
	}
}
