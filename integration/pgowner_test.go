package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
)

// TestPGSourceRefusesAnotherConnectorsSlotAndPublication opens sources of two connectors whose
// slot or publication names are the same ("coll-a" and "coll.a" both derive cdcd_coll_a): the
// first records itself as their owner in the publication's comment, the second is refused with
// a message naming the owner. A publication that existed without a comment (from before cdcd
// recorded owners) is claimed by the first connector that opens it; one the user manages
// (must-exist) is neither claimed nor refused, and may be shared.
func TestPGSourceRefusesAnotherConnectorsSlotAndPublication(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, "CREATE TABLE items (id int PRIMARY KEY)")
	comment := func(pub string) string {
		var c string
		if err := conn.QueryRow(t.Context(), `SELECT coalesce(obj_description(oid, 'pg_publication'), '')
			FROM pg_publication WHERE pubname = $1`, pub).Scan(&c); err != nil {
			t.Fatalf("reading the comment of publication %s: %v", pub, err)
		}
		return c
	}
	refused := func(cfg postgres.Config, field, owner string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		src, err := postgres.Open(ctx, cfg)
		var ce *postgres.ConfigError
		if err == nil || !errors.As(err, &ce) || ce.Field != field {
			t.Fatalf("Open(%s) for connector %s = %v, %v; want a ConfigError on %s", cfg, cfg.Connector, src, err, field)
		}
		for _, want := range []string{"belongs to connector " + owner, "not to connector " + cfg.Connector} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	}

	a := pgSourceConfig(t, db, "public.items")
	a.Connector = "coll-a"
	openPGSource(t, a)
	if c := comment(a.Publication); !strings.Contains(c, "coll-a") || !strings.Contains(c, a.Slot) {
		t.Errorf("the publication's comment %q names neither its connector nor its slot", c)
	}
	// The same connector opens them again (a restart), then with another slot: its claim
	// follows.
	openPGSource(t, a)
	moved := a
	moved.Slot = Name(t, "slot_moved")
	openPGSource(t, moved)
	if c := comment(a.Publication); !strings.Contains(c, moved.Slot) {
		t.Errorf("the publication's comment %q does not name the connector's new slot %s", c, moved.Slot)
	}
	openPGSource(t, a)

	b := a
	b.Connector = "coll.a"
	refused(b, "publication", "coll-a")
	b.Publication = Name(t, "pub_b")
	refused(b, "slot", "coll-a")

	// A publication from before owners were recorded: the first connector to open it claims it.
	old := pgSourceConfig(t, db, "public.items")
	mustExec(t, conn, "CREATE PUBLICATION "+pgx.Identifier{old.Publication}.Sanitize()+" FOR TABLE items")
	old.Connector = "old"
	openPGSource(t, old)
	if c := comment(old.Publication); !strings.Contains(c, "cdcd connector old ") {
		t.Errorf("the publication's comment %q does not record its connector", c)
	}
	other := old
	other.Connector, other.Slot = "other", Name(t, "slot_other")
	refused(other, "publication", "old")

	// A publication the user manages may be shared by connectors with slots of their own.
	shared := Name(t, "pub_shared")
	mustExec(t, conn, "CREATE PUBLICATION "+shared+" FOR TABLE items")
	for _, name := range []string{"f", "g"} {
		cfg := pgSourceConfig(t, db, "public.items")
		cfg.Connector, cfg.Publication, cfg.PublicationPolicy = name, shared, postgres.PublicationMustExist
		openPGSource(t, cfg)
	}
	if c := comment(shared); c != "" {
		t.Errorf("the user's publication got the comment %q", c)
	}
}
