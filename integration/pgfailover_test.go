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
