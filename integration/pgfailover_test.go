package integration

import (
	"testing"
	"time"
)

// TestPostgresFailoverSlotAndHosts runs a connector on a private PostgreSQL 17 whose first
// host has no server (a free port nothing listens on) and whose postgres.hosts names the real
// one: libpq-style connecting skips to it. The slot cdcd creates is a failover slot
// (pg_replication_slots.failover), which PostgreSQL 17 synchronises to standbys that set
// sync_replication_slots, and the rows arrive.
func TestPostgresFailoverSlotAndHosts(t *testing.T) {
	pg := StartPrivatePostgresVersion(t, "17")
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY)`)
	mustExec(t, conn, `INSERT INTO items VALUES (1)`)
	dead := FreeAddr(t)
	live := db.addr
	db.addr = dead
	c := NewPostgresConnector(t, db, "public.items")
	c.Extra = []string{"hosts: [" + live + "]"}
	config := c.Config()
	db.addr = live
	cdcd := StartCDCD(t, config)
	c.WaitStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO items VALUES (2)`)
	got := NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 2, 2*time.Minute)
	if got[0].Op() != "r" || got[1].Op() != "c" {
		t.Errorf("ops %s %s, want r c", got[0].Op(), got[1].Op())
	}
	var failover bool
	if err := conn.QueryRow(t.Context(), `SELECT failover FROM pg_replication_slots WHERE slot_name = $1`, c.Name).Scan(&failover); err != nil {
		t.Fatalf("reading the slot: %v", err)
	}
	if !failover {
		t.Errorf("slot %s was created with failover = false on PostgreSQL 17", c.Name)
	}
	cdcd.Stop(time.Minute)
}

// TestPostgresOldSlotNotFailoverIsReported: on PostgreSQL 17, a slot that exists already and
// is not a failover slot (made by an older cdcd, or by hand) is used as it is, and the log
// says that a promoted standby would not have it.
func TestPostgresOldSlotNotFailoverIsReported(t *testing.T) {
	pg := StartPrivatePostgresVersion(t, "17")
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY)`)
	c := NewPostgresConnector(t, db, "public.items")
	c.Extra = []string{"snapshot_mode: no_data"}
	mustExec(t, conn, `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, c.Name)
	cdcd := StartCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO items VALUES (1)`)
	NewAvroConsumer(t, c.RegistryURL(), c.Topic("items")).Collect(t, 1, 2*time.Minute)
	if !cdcd.LogsContain("the slot is not a failover slot") {
		t.Errorf("the log does not say that the slot is not a failover slot:\n%s", cdcd.Logs())
	}
	cdcd.Stop(time.Minute)
}
