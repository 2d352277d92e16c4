package mysql

import (
	"errors"
	"strings"
	"testing"
)

func mustGTIDs(t testing.TB, f Flavor, s string) GTIDSet {
	t.Helper()
	g, err := ParseGTIDSet(f, s)
	if err != nil {
		t.Fatalf("ParseGTIDSet(%s, %q): %v", f, s, err)
	}
	return g
}

func TestDecideStart(t *testing.T) {
	const uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	const other = "4f22fa47-71ca-11e1-9e33-c80aa9429562"
	maria := func(s string) GTIDSet { return mustGTIDs(t, FlavorMariaDB, s) }
	my := func(s string) GTIDSet { return mustGTIDs(t, FlavorMySQL, s) }
	mariaState := func(purged string, files ...string) binlogState {
		return binlogState{flavor: FlavorMariaDB, files: files, purged: maria(purged)}
	}
	myState := func(purged string, files ...string) binlogState {
		return binlogState{flavor: FlavorMySQL, files: files, purged: my(purged)}
	}

	plain := Position{GTIDs: maria("0-1-100"), File: "mysql-bin.000004", Pos: 500}
	inTx := Position{GTIDs: maria("0-1-100"), File: "mysql-bin.000004", Pos: 500, Tx: "0-1-101"}
	snap := Position{GTIDs: maria("0-1-100"), File: "mysql-bin.000004", Pos: 500,
		Snapshot: &SnapshotProgress{Table: "shop.orders", After: []string{"5"}}}
	myPlain := Position{GTIDs: my(uuid + ":1-100"), File: "binlog.000004", Pos: 500}
	filePos := Position{GTIDs: maria(""), File: "mysql-bin.000004", Pos: 500}

	okState := mariaState("0-1-50", "mysql-bin.000003", "mysql-bin.000004")
	atState := mariaState("0-1-100", "mysql-bin.000004", "mysql-bin.000005")
	neverPurged := mariaState("", "mysql-bin.000001", "mysql-bin.000004")
	purgedPast := mariaState("0-1-150", "mysql-bin.000006")
	newDomain := mariaState("0-1-50,1-7-3", "mysql-bin.000004")

	all := []SnapshotMode{SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotWhenNeeded, SnapshotAlways}
	streaming := []SnapshotMode{SnapshotInitial, SnapshotNoData, SnapshotWhenNeeded}
	keeping := []SnapshotMode{SnapshotInitial, SnapshotNoData}
	renewing := []SnapshotMode{SnapshotWhenNeeded, SnapshotAlways}

	type want struct {
		action startAction
		purged bool // ErrPositionPurged
		lost   bool // a warning
	}
	tests := []struct {
		name      string
		modes     []SnapshotMode
		resume    Position
		fromZero  bool
		binlogs   binlogState
		snappedAt Position
		want      want
	}{
		{"zero, no data", []SnapshotMode{SnapshotNoData}, Position{}, true, binlogState{}, Position{}, want{action: startStream}},
		{"zero", []SnapshotMode{SnapshotInitial, SnapshotInitialOnly, SnapshotWhenNeeded, SnapshotAlways},
			Position{}, true, binlogState{}, Position{}, want{action: startSnapshot}},

		{"resumable", streaming, plain, false, okState, Position{}, want{action: startStream}},
		{"resumable at the oldest binlog's start", streaming, plain, false, atState, Position{}, want{action: startStream}},
		{"resumable, nothing purged", streaming, plain, false, neverPurged, Position{}, want{action: startStream}},
		{"resumable inside a transaction", streaming, inTx, false, okState, Position{}, want{action: startStream}},
		{"resumable by file", streaming, filePos, false, okState, Position{}, want{action: startStream}},
		{"resumable mysql", streaming, myPlain, false, myState(uuid+":1-40", "binlog.000004"), Position{}, want{action: startStream}},

		{"purged past", keeping, plain, false, purgedPast, Position{}, want{purged: true}},
		{"purged a domain the position lacks", keeping, plain, false, newDomain, Position{}, want{purged: true}},
		{"purged inside a transaction", keeping, inTx, false, purgedPast, Position{}, want{purged: true}},
		{"file gone", keeping, filePos, false, purgedPast, Position{}, want{purged: true}},
		{"mysql purged past", keeping, myPlain, false, myState(uuid+":1-150", "binlog.000009"), Position{}, want{purged: true}},
		{"mysql purged another uuid", keeping, myPlain, false, myState(uuid+":1-40,"+other+":1-2", "binlog.000009"), Position{},
			want{purged: true}},

		{"purged past, renewing", renewing, plain, false, purgedPast, Position{}, want{action: startResnapshot, lost: true}},
		{"file gone, renewing", renewing, filePos, false, purgedPast, Position{}, want{action: startResnapshot, lost: true}},
		{"mysql purged, renewing", renewing, myPlain, false, myState(uuid+":1-150", "binlog.000009"), Position{},
			want{action: startResnapshot, lost: true}},
		{"purged, renewing, even after this Source's snapshot", []SnapshotMode{SnapshotAlways}, plain, false, purgedPast, plain,
			want{action: startResnapshot, lost: true}},

		{"snapshot in progress", all, snap, false, okState, Position{}, want{action: startResumeSnapshot}},
		{"snapshot in progress, purged", keeping, snap, false, purgedPast, Position{}, want{purged: true}},
		{"snapshot in progress, purged, renewing", renewing, snap, false, purgedPast, Position{},
			want{action: startResnapshot, lost: true}},
		// initial_only streams nothing: the binary logs do not matter.
		{"initial only, snapshot in progress, purged", []SnapshotMode{SnapshotInitialOnly}, snap, false, purgedPast, Position{},
			want{action: startResumeSnapshot}},
		{"initial only, done", []SnapshotMode{SnapshotInitialOnly}, plain, false, purgedPast, Position{}, want{action: startStream}},

		// always: once per Source; a crash mid-snapshot resumes, a retry after it streams.
		{"always, first start after a finished snapshot", []SnapshotMode{SnapshotAlways}, plain, false, okState, Position{},
			want{action: startResnapshot}},
		{"always, retry at this Source's snapshot's point", []SnapshotMode{SnapshotAlways}, plain, false, okState, plain,
			want{action: startStream}},
		{"always, retry after this Source's snapshot", []SnapshotMode{SnapshotAlways}, plain, false, okState,
			Position{GTIDs: maria("0-1-90"), File: "mysql-bin.000004", Pos: 300}, want{action: startStream}},
		{"always, retry before this Source's snapshot was committed", []SnapshotMode{SnapshotAlways}, plain, false, okState,
			Position{GTIDs: maria("0-1-120"), File: "mysql-bin.000004", Pos: 900}, want{action: startResnapshot}},
	}
	for _, tt := range tests {
		for _, mode := range tt.modes {
			t.Run(tt.name+"/"+mode.String(), func(t *testing.T) {
				got, err := decideStart(mode, tt.resume, tt.fromZero, tt.binlogs, tt.snappedAt)
				if tt.want.purged {
					if !errors.Is(err, ErrPositionPurged) || IsRetryable(err) {
						t.Fatalf("decideStart = %v, %v; want the permanent ErrPositionPurged", got.Action, err)
					}
					for _, s := range []string{tt.resume.streaming().String(), "when_needed", "reset", mode.String()} {
						if !strings.Contains(err.Error(), s) {
							t.Errorf("error %q does not say %q", err, s)
						}
					}
					return
				}
				if err != nil {
					t.Fatalf("decideStart: %v", err)
				}
				if got.Action != tt.want.action || got.Lost != tt.want.lost {
					t.Fatalf("decideStart = %v (lost %t), want %v (lost %t)", got.Action, got.Lost, tt.want.action, tt.want.lost)
				}
				if got.Action == startResnapshot && !strings.Contains(got.Why, tt.resume.streaming().String()) {
					t.Errorf("reason %q does not name the stored position", got.Why)
				}
				if got.Lost {
					oldest, _ := tt.binlogs.span()
					if !strings.Contains(got.Why, oldest) {
						t.Errorf("reason %q does not name the server's oldest binary log %s", got.Why, oldest)
					}
					if !tt.resume.GTIDs.IsEmpty() && !strings.Contains(got.Why, tt.binlogs.purged.String()) {
						t.Errorf("reason %q does not name the purged GTIDs %s", got.Why, tt.binlogs.purged)
					}
				}
			})
		}
	}
	// Every mode accepts a resumable position.
	for _, mode := range all {
		if _, err := decideStart(mode, plain, false, okState, Position{}); err != nil {
			t.Errorf("%s: resumable position: %v", mode, err)
		}
	}
}

func TestParseGTIDList(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"[]", "", true},
		{" [ ] ", "", true},
		{"[0-1-54243]", "0-1-54243", true},
		{"[0-1-10,1-2-7]", "0-1-10,1-2-7", true},
		// The binlog state has one GTID per domain and server: the position keeps the highest.
		{"[0-1-10,0-2-12,0-3-11]", "0-2-12", true},
		{"[0-1-10, 1-2-7]", "0-1-10,1-2-7", true},
		{"[0-0-0,1-2-7]", "1-2-7", true},
		{"0-1-10", "", false},
		{"[0-1]", "", false},
		{"[0-1-x]", "", false},
		{"[", "", false},
		{"", "", false},
	} {
		got, err := parseGTIDList(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseGTIDList(%q) = %v, %v", tc.in, got, err)
			continue
		}
		if tc.ok && (got.String() != tc.want || got.Flavor() != FlavorMariaDB) {
			t.Errorf("parseGTIDList(%q) = %s (%s), want %s", tc.in, got, got.Flavor(), tc.want)
		}
	}
}

func FuzzParseGTIDList(f *testing.F) {
	for _, s := range []string{"[]", "[0-1-5,1-2-3]", "[0-1-5,0-2-9]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := parseGTIDList(s)
		if err != nil {
			return
		}
		// What it returns is a GTID position that reads back as itself.
		back, err := ParseGTIDSet(FlavorMariaDB, g.String())
		if err != nil || !back.Equal(g) && !(back.IsEmpty() && g.IsEmpty()) {
			t.Fatalf("parseGTIDList(%q) = %s, which reads back as %s, %v", s, g, back, err)
		}
	})
}

func TestSnapshotModeString(t *testing.T) {
	for mode, want := range map[SnapshotMode]string{SnapshotInitial: "initial", SnapshotInitialOnly: "initial_only",
		SnapshotNoData: "no_data", SnapshotWhenNeeded: "when_needed", SnapshotAlways: "always", 9: "SnapshotMode(9)"} {
		if got := mode.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", mode, got, want)
		}
	}
}
