package postgres

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/cdcd-dev/cdcd/pipeline"
)

func TestDecideStart(t *testing.T) {
	const (
		stored    = pglogrepl.LSN(0x2000)
		before    = pglogrepl.LSN(0x1000)
		after     = pglogrepl.LSN(0x3000)
		snapped   = pglogrepl.LSN(0x1800)
		snappedHi = pglogrepl.LSN(0x2800)
	)
	plain := position{lsn: stored}
	inTx := position{lsn: stored, tx: after, skip: 2}
	snap := position{lsn: stored, snap: &snapshotProgress{Table: "public.t", After: []string{"5"}, Done: []string{}}}
	okSlot := slotState{exists: true, confirmed: before}
	atSlot := slotState{exists: true, confirmed: stored}
	movedSlot := slotState{exists: true, confirmed: after}
	noSlot := slotState{}
	lostSlot := slotState{exists: true, invalidated: invalidationReason("", "1MB")}
	all := []SnapshotMode{SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotWhenNeeded, SnapshotAlways}

	type want struct {
		action   startAction
		released bool // ErrPositionReleased
		invalid  bool // ErrSlotInvalidated
		lost     bool // a warning
	}
	tests := []struct {
		name      string
		modes     []SnapshotMode
		resume    position
		fromZero  bool
		slot      slotState
		snappedAt pglogrepl.LSN
		want      want
	}{
		{"zero, no data", []SnapshotMode{SnapshotNoData}, position{}, true, okSlot, 0, want{action: startStream}},
		{"zero, no slot", []SnapshotMode{SnapshotInitial, SnapshotInitialOnly, SnapshotWhenNeeded, SnapshotAlways},
			position{}, true, noSlot, 0, want{action: startSnapshot}},
		{"zero, slot exists", []SnapshotMode{SnapshotInitial, SnapshotWhenNeeded, SnapshotAlways},
			position{}, true, okSlot, 0, want{action: startSnapshot}},

		{"resumable plain", []SnapshotMode{SnapshotInitial, SnapshotNoData, SnapshotWhenNeeded}, plain, false, okSlot, 0,
			want{action: startStream}},
		{"resumable at the slot's LSN", []SnapshotMode{SnapshotInitial, SnapshotNoData, SnapshotWhenNeeded}, plain, false, atSlot, 0,
			want{action: startStream}},
		{"resumable inside a transaction", []SnapshotMode{SnapshotInitial, SnapshotWhenNeeded}, inTx, false, okSlot, 0,
			want{action: startStream}},
		{"slot moved past", []SnapshotMode{SnapshotInitial, SnapshotNoData}, plain, false, movedSlot, 0,
			want{released: true}},
		{"slot dropped", []SnapshotMode{SnapshotInitial, SnapshotNoData}, plain, false, noSlot, 0, want{released: true}},
		{"slot dropped inside a transaction", []SnapshotMode{SnapshotInitial}, inTx, false, noSlot, 0, want{released: true}},
		{"slot moved past, renewing", []SnapshotMode{SnapshotWhenNeeded, SnapshotAlways}, plain, false, movedSlot, 0,
			want{action: startResnapshot, lost: true}},
		{"slot dropped, renewing", []SnapshotMode{SnapshotWhenNeeded, SnapshotAlways}, plain, false, noSlot, 0,
			want{action: startResnapshot, lost: true}},
		{"slot dropped, renewing, even after this Source's snapshot", []SnapshotMode{SnapshotAlways}, plain, false, noSlot, snapped,
			want{action: startResnapshot, lost: true}},

		{"snapshot in progress", []SnapshotMode{SnapshotInitial, SnapshotNoData, SnapshotWhenNeeded, SnapshotAlways, SnapshotInitialOnly},
			snap, false, okSlot, 0, want{action: startResumeSnapshot}},
		{"snapshot in progress, slot moved", []SnapshotMode{SnapshotInitial, SnapshotNoData}, snap, false, movedSlot, 0,
			want{released: true}},
		{"snapshot in progress, slot dropped", []SnapshotMode{SnapshotInitial}, snap, false, noSlot, 0, want{released: true}},
		{"snapshot in progress, slot dropped, renewing", []SnapshotMode{SnapshotWhenNeeded, SnapshotAlways}, snap, false, noSlot, 0,
			want{action: startResnapshot, lost: true}},
		// An invalidated slot (wal_status lost) can never be streamed from: the modes that
		// snapshot again replace it, the others fail with the server's reason and the fix.
		{"slot invalidated", []SnapshotMode{SnapshotInitial, SnapshotNoData}, plain, false, lostSlot, 0, want{invalid: true}},
		{"slot invalidated inside a transaction", []SnapshotMode{SnapshotInitial}, inTx, false, lostSlot, 0, want{invalid: true}},
		{"snapshot in progress, slot invalidated", []SnapshotMode{SnapshotInitial}, snap, false, lostSlot, 0, want{invalid: true}},
		{"slot invalidated, renewing", []SnapshotMode{SnapshotWhenNeeded, SnapshotAlways}, plain, false, lostSlot, 0,
			want{action: startResnapshot, lost: true}},
		{"slot invalidated, renewing, even after this Source's snapshot", []SnapshotMode{SnapshotAlways}, plain, false, lostSlot, snapped,
			want{action: startResnapshot, lost: true}},
		{"zero, slot invalidated", []SnapshotMode{SnapshotInitial, SnapshotWhenNeeded, SnapshotAlways, SnapshotInitialOnly},
			position{}, true, lostSlot, 0, want{action: startResnapshot, lost: true}},
		{"zero, no data, slot invalidated", []SnapshotMode{SnapshotNoData}, position{}, true, lostSlot, 0, want{invalid: true}},

		// A temporary slot is gone after initial_only: nothing to check.
		{"initial only, temporary slot gone", []SnapshotMode{SnapshotInitialOnly}, snap, false, noSlot, 0,
			want{action: startResumeSnapshot}},
		{"initial only, done", []SnapshotMode{SnapshotInitialOnly}, plain, false, noSlot, 0, want{action: startStream}},

		// always: once per Source, a crash mid-snapshot resumes, a retry after it streams.
		{"always, first start after a finished snapshot", []SnapshotMode{SnapshotAlways}, plain, false, okSlot, 0,
			want{action: startResnapshot}},
		{"always, retry after this Source's snapshot", []SnapshotMode{SnapshotAlways}, plain, false, okSlot, snapped,
			want{action: startStream}},
		{"always, retry at this Source's snapshot's end", []SnapshotMode{SnapshotAlways}, position{lsn: snapped}, false,
			slotState{exists: true, confirmed: before}, snapped, want{action: startStream}},
		{"always, retry before this Source's snapshot was committed", []SnapshotMode{SnapshotAlways}, plain, false, okSlot, snappedHi,
			want{action: startResnapshot}},
	}
	for _, tt := range tests {
		for _, mode := range tt.modes {
			t.Run(tt.name+"/"+mode.String(), func(t *testing.T) {
				got, err := decideStart(mode, "s1", tt.resume, tt.fromZero, tt.slot, tt.snappedAt)
				if tt.want.released {
					if !errors.Is(err, ErrPositionReleased) {
						t.Fatalf("decideStart = %v, %v; want ErrPositionReleased", got.action, err)
					}
					if !strings.Contains(err.Error(), "s1") {
						t.Errorf("error %q does not name the slot", err)
					}
					return
				}
				if tt.want.invalid {
					if !errors.Is(err, ErrSlotInvalidated) || errors.Is(err, ErrPositionReleased) {
						t.Fatalf("decideStart = %v, %v; want ErrSlotInvalidated", got.action, err)
					}
					if pipeline.IsRetryable(markPermanent(err)) {
						t.Errorf("an invalidated slot is retried: %v", err)
					}
					for _, want := range []string{"s1", "maximum reserved size", "1MB", "when_needed", "pg_drop_replication_slot('s1')"} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q does not say %q", err, want)
						}
					}
					return
				}
				if err != nil {
					t.Fatalf("decideStart: %v", err)
				}
				if got.action != tt.want.action || got.lost != tt.want.lost {
					t.Fatalf("decideStart = %v (lost %t), want %v (lost %t)", got.action, got.lost, tt.want.action, tt.want.lost)
				}
				if got.action == startResnapshot && (!strings.Contains(got.why, "s1") ||
					!tt.fromZero && !strings.Contains(got.why, stored.String())) {
					t.Errorf("reason %q names neither the slot nor the stored position", got.why)
				}
				if got.lost && tt.slot.exists && tt.slot.invalidated == "" && !strings.Contains(got.why, tt.slot.confirmed.String()) {
					t.Errorf("reason %q does not name the slot's confirmed_flush_lsn", got.why)
				}
				if got.lost && tt.slot.invalidated != "" && !strings.Contains(got.why, "maximum reserved size") {
					t.Errorf("reason %q does not give the server's reason for the invalidation", got.why)
				}
			})
		}
	}
	// Every mode is covered by some case with a stored position.
	for _, mode := range all {
		if _, err := decideStart(mode, "s1", plain, false, okSlot, 0); err != nil {
			t.Errorf("%s: resumable position: %v", mode, err)
		}
	}
}

func TestSnapshotModeString(t *testing.T) {
	for mode, want := range map[SnapshotMode]string{SnapshotInitial: "initial", SnapshotInitialOnly: "initial_only",
		SnapshotNoData: "no_data", SnapshotWhenNeeded: "when_needed", SnapshotAlways: "always", 9: "SnapshotMode(9)"} {
		if got := mode.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", mode, got, want)
		}
	}
}
