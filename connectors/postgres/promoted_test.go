package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"
)

func TestLastSwitch(t *testing.T) {
	for _, tc := range []struct {
		content string
		want    pglogrepl.LSN
	}{
		{"", 0},
		{"1\t0/3000000\tno recovery target specified\n", 0x3000000},
		{"1\t0/3000000\tno recovery target specified\n\n2\t0/5A000A8\tno recovery target specified\n", 0x5A000A8},
		{"# a comment\nnot a line\n", 0},
	} {
		if got := lastSwitch([]byte(tc.content)); got != tc.want {
			t.Errorf("lastSwitch(%q) = %s, want %s", tc.content, got, tc.want)
		}
	}
}

// TestDecideStartSlotLostToPromotion: a stored position whose slot is missing on a promoted
// server fails, in the modes that do not snapshot again, with a message naming the promotion,
// the slot and the settings that keep a slot across one; when_needed snapshots again and says
// the same in its warning. Without a promotion the generic message stays.
func TestDecideStartSlotLostToPromotion(t *testing.T) {
	resume := position{lsn: 0x2000}
	promoted := slotState{promoted: &promotion{timeline: 2, at: 0x5A000A8}}
	words := []string{"replication slot s does not exist on this server, which was promoted (timeline 2, which began at 0/5A000A8)",
		"stored position 0/2000 cannot be resumed", "failover = true", "sync_replication_slots = on",
		"synchronized_standby_slots", "hot_standby_feedback", "when_needed would snapshot again"}
	_, err := decideStart(SnapshotInitial, "s", resume, false, promoted, 0)
	if !errors.Is(err, ErrPositionReleased) {
		t.Fatalf("initial: got %v, want ErrPositionReleased", err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q: %v", w, err)
		}
	}
	dec, err := decideStart(SnapshotWhenNeeded, "s", resume, false, promoted, 0)
	if err != nil || dec.action != startResnapshot || !dec.lost || !strings.Contains(dec.why, "which was promoted (timeline 2") {
		t.Errorf("when_needed: %+v, %v; want a resnapshot naming the promotion", dec, err)
	}
	_, err = decideStart(SnapshotInitial, "s", resume, false, slotState{}, 0)
	if err == nil || strings.Contains(err.Error(), "promoted") || !strings.Contains(err.Error(), "does not exist (dropped?)") {
		t.Errorf("without a promotion: %v", err)
	}
	// From zero a missing slot is created: no promotion to speak of.
	if dec, err := decideStart(SnapshotInitial, "s", position{}, true, promoted, 0); err != nil || dec.action != startSnapshot {
		t.Errorf("from zero: %+v, %v", dec, err)
	}
}
