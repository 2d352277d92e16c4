package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestPostgresSlotMissingAfterPromotion: a primary and a standby that does not synchronise
// slots (sync_replication_slots off: the same as a promotion before the slot was synchronised),
// two connectors on the primary whose postgres.hosts names the standby, one in snapshot mode
// initial, one when_needed. After the primary's SIGKILL and the standby's promotion, both
// reconnect to the new primary and find no slot: the first stops with a message naming the
// promotion, the slot and the settings that keep a slot across one, not the generic "does not
// exist (dropped?)"; the second says the same in a warning and snapshots the new primary's
// tables again, then streams.
func TestPostgresSlotMissingAfterPromotion(t *testing.T) {
	pg := StartPrivatePostgresVersion(t, "18")
	standby := newPhysicalStandby(t, pg)
	db := pg.NewDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY)`)
	mustExec(t, conn, `INSERT INTO items VALUES (1)`)
	standby.start(t, "hot_standby_feedback=on", "sync_replication_slots=off")

	initial := NewPostgresConnector(t, db, "public.items")
	initial.Extra = []string{"hosts: [" + standby.addr + "]"}
	renew := NewPostgresConnector(t, db, "public.items")
	renew.Extra = []string{"hosts: [" + standby.addr + "]", "snapshot_mode: when_needed"}
	initialProc := StartCDCD(t, initial.Config())
	renewProc := StartCDCD(t, renew.Config())
	initial.WaitStreaming(t, conn)
	renew.WaitStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO items VALUES (2)`)
	initialRecords := NewAvroConsumer(t, initial.RegistryURL(), initial.Topic("items"))
	renewRecords := NewAvroConsumer(t, renew.RegistryURL(), renew.Topic("items"))
	for _, c := range []*AvroConsumer{initialRecords, renewRecords} {
		if got := ops(c.Collect(t, 2, 2*time.Minute)); !slices.Equal(got, []string{"r", "c"}) {
			t.Fatalf("before the promotion: ops %v, want r c", got)
		}
	}
	sconn := standby.db(db).Conn(t)
	standby.waitReplayed(t, conn, sconn)

	pid := standby.killPrimary(t)
	standby.promote(t)
	t.Logf("primary (pid %d) killed, standby %s promoted", pid, standby.addr)
	db.addr = standby.addr

	want := fmt.Sprintf("replication slot %s does not exist on this server, which was promoted (timeline 2, which began at ", initial.Name)
	WaitFor(t, 3*time.Minute, "the initial connector stopping on the missing slot", func() error {
		if initialProc.LogsContain(want) && initialProc.LogsContain(`"message":"connector failed"`) {
			return nil
		}
		return fmt.Errorf("not yet")
	})
	for _, w := range []string{"sync_replication_slots = on", "synchronized_standby_slots", "when_needed would snapshot again"} {
		if !initialProc.LogsContain(w) {
			t.Errorf("the failure does not say %q; log:\n%s", w, initialProc.Logs())
		}
	}
	if initialProc.LogsContain("does not exist (dropped?)") {
		t.Errorf("the failure gives the generic message; log:\n%s", initialProc.Logs())
	}

	// when_needed: the rows of the new primary again, as a snapshot, then its changes.
	got := renewRecords.Collect(t, 2, 3*time.Minute)
	if ops := ops(got); !slices.Equal(ops, []string{"r", "r"}) {
		t.Fatalf("after the promotion, when_needed: ops %v, want r r", ops)
	}
	if !renewProc.LogsContain(fmt.Sprintf("replication slot %s does not exist on this server, which was promoted", renew.Name)) {
		t.Errorf("the when_needed connector's warning does not name the promotion; log:\n%s", renewProc.Logs())
	}
	newPrimary := db.Conn(t)
	renew.WaitStreaming(t, newPrimary)
	mustExec(t, newPrimary, `INSERT INTO items VALUES (3)`)
	if ops := ops(renewRecords.Collect(t, 1, 2*time.Minute)); !slices.Equal(ops, []string{"c"}) {
		t.Errorf("streaming on the new primary: ops %v, want c", ops)
	}
	renewProc.Stop(time.Minute)
	initialProc.Stop(time.Minute)
}

// ops lists the records' operations.
func ops(records []ChangeRecord) []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = r.Op()
	}
	return out
}
