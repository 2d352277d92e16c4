package integration

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// slotsAndPublications lists the replication slots of db's database and its publications.
func slotsAndPublications(t testing.TB, db *PostgresDB, conn *pgx.Conn) (slots, pubs []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, q := range []struct {
		sql string
		out *[]string
		arg []any
	}{
		{`SELECT slot_name FROM pg_replication_slots WHERE database = $1 ORDER BY 1`, &slots, []any{db.Name}},
		{`SELECT pubname FROM pg_publication ORDER BY 1`, &pubs, nil},
	} {
		rows, err := conn.Query(ctx, q.sql, q.arg...)
		if err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
		*q.out = names
	}
	return slots, pubs
}

// startDefaultNamedConnector creates a postgres connector on db with the slot and publication
// names cdcd derives, waits until it runs, and returns its slot and publication.
func startDefaultNamedConnector(t *testing.T, d *Daemon, db *PostgresDB, conn *pgx.Conn, name string) (slot, pub string) {
	t.Helper()
	cfg := PostgresAPIConfig(db, name, Name(t, "p"), "public.items")
	delete(cfg, "postgres.slot")
	delete(cfg, "postgres.publication")
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": name, "config": cfg}, nil)
	d.WaitState(t, name, "RUNNING")
	// The run creates the slot; it lasts once the snapshot (of the table's row) is committed.
	d.waitCommitted(t, name)
	WaitFor(t, 2*time.Minute, "the connector's slot and publication", func() error {
		slots, pubs := slotsAndPublications(t, db, conn)
		if len(slots) != 1 || len(pubs) != 1 {
			return fmt.Errorf("slots %v, publications %v: want the connector's one of each", slots, pubs)
		}
		slot, pub = slots[0], pubs[0]
		return nil
	})
	return slot, pub
}

// TestDeleteSaysOrPurgesSlot: deleting a PostgreSQL connector without purge leaves its slot and
// publication and says so, in the answer and in the log, with how to drop the slot; with purge
// (the CLI's --purge) both are dropped.
func TestDeleteSaysOrPurgesSlot(t *testing.T) {
	d := StartDaemon(t)

	// Without purge.
	keepDB := NewPostgresDB(t)
	keepConn := keepDB.Conn(t)
	mustExec(t, keepConn, `CREATE TABLE items (id int PRIMARY KEY)`)
	mustExec(t, keepConn, `INSERT INTO items VALUES (1)`)
	keep := Name(t, "k")
	slot, pub := startDefaultNamedConnector(t, d, keepDB, keepConn, keep)
	var kept struct {
		Name    string   `json:"name"`
		Dropped []string `json:"dropped"`
		Kept    []string `json:"kept"`
		Message string   `json:"message"`
	}
	d.MustCall(t, http.StatusOK, http.MethodDelete, "/connectors/"+keep, nil, &kept)
	if len(kept.Dropped) != 0 || len(kept.Kept) == 0 || !strings.Contains(kept.Kept[0], "replication slot "+slot+" keeps WAL") ||
		!strings.Contains(kept.Kept[0], "pg_drop_replication_slot('"+slot+"')") || !strings.Contains(kept.Message, "purge") {
		t.Errorf("delete answer %+v, want the slot %s kept, how to drop it and the purge option", kept, slot)
	}
	if slots, pubs := slotsAndPublications(t, keepDB, keepConn); !slices.Equal(slots, []string{slot}) || !slices.Equal(pubs, []string{pub}) {
		t.Errorf("after a delete without purge: slots %v, publications %v; want %s and %s kept", slots, pubs, slot, pub)
	}
	WaitFor(t, time.Minute, "the warning about the kept slot in the log", func() error {
		for line := range strings.Lines(d.Logs()) {
			if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, keep) && strings.Contains(line, "replication slot "+slot+" keeps WAL") {
				return nil
			}
		}
		return fmt.Errorf("no warning naming slot %s", slot)
	})

	// With purge, through the CLI.
	purgeDB := NewPostgresDB(t)
	purgeConn := purgeDB.Conn(t)
	mustExec(t, purgeConn, `CREATE TABLE items (id int PRIMARY KEY)`)
	mustExec(t, purgeConn, `INSERT INTO items VALUES (1)`)
	purge := Name(t, "g")
	slot, pub = startDefaultNamedConnector(t, d, purgeDB, purgeConn, purge)
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "connectors", "delete", purge, "--purge", "--api", d.API).CombinedOutput()
	if err != nil {
		t.Fatalf("cdcd connectors delete --purge: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "dropped: replication slot "+slot) || !strings.Contains(string(out), "dropped: publication "+pub) {
		t.Errorf("delete --purge printed %q, want the slot %s and publication %s dropped", out, slot, pub)
	}
	if slots, pubs := slotsAndPublications(t, purgeDB, purgeConn); len(slots) != 0 || len(pubs) != 0 {
		t.Errorf("after a purge: slots %v, publications %v; want none", slots, pubs)
	}
	if code, raw := d.Call(t, http.MethodGet, "/connectors/"+purge, nil); code != http.StatusNotFound {
		t.Errorf("GET a purged connector: %d %s, want 404", code, raw)
	}
}
