package snapshot

import (
	"errors"
	"strings"
	"testing"
)

func TestModeNamed(t *testing.T) {
	for m := ModeInitial; m <= ModeAlways; m++ {
		if got := ModeNamed(m.String()); got != m {
			t.Errorf("ModeNamed(%q) = %v", m.String(), got)
		}
	}
	if got := ModeNamed("SnapshotMode(9)"); got != ModeInitial {
		t.Errorf("an unknown name gave %v", got)
	}
}

func TestDecideStart(t *testing.T) {
	errLost := errors.New("lost")
	words := StartWords{Renew: "renewing", Always: func() string { return "always, here" },
		LostError: func(lost string) error { return errors.Join(errLost, errors.New(lost)) }}
	all := []Mode{ModeInitial, ModeInitialOnly, ModeNoData, ModeWhenNeeded, ModeAlways}
	tests := []struct {
		name  string
		modes []Mode
		st    StartState
		want  StartDecision
		lost  bool // LostError's error
	}{
		{"zero, no data", []Mode{ModeNoData}, StartState{FromZero: true}, StartDecision{Action: StartStream}, false},
		{"zero", []Mode{ModeInitial, ModeInitialOnly, ModeWhenNeeded, ModeAlways}, StartState{FromZero: true},
			StartDecision{Action: StartSnapshot}, false},
		{"initial only, done", []Mode{ModeInitialOnly}, StartState{Lost: "gone"}, StartDecision{Action: StartStream}, false},
		{"initial only, in progress", []Mode{ModeInitialOnly}, StartState{Lost: "gone", InProgress: true},
			StartDecision{Action: StartResumeSnapshot}, false},
		{"lost, renewed", []Mode{ModeWhenNeeded, ModeAlways}, StartState{Lost: "gone", InProgress: true},
			StartDecision{Action: StartResnapshot, Lost: true}, false},
		{"lost", []Mode{ModeInitial, ModeNoData}, StartState{Lost: "gone"}, StartDecision{}, true},
		{"in progress", []Mode{ModeInitial, ModeNoData, ModeWhenNeeded, ModeAlways}, StartState{InProgress: true},
			StartDecision{Action: StartResumeSnapshot}, false},
		{"plain", []Mode{ModeInitial, ModeNoData, ModeWhenNeeded}, StartState{}, StartDecision{Action: StartStream}, false},
		{"always, not yet", []Mode{ModeAlways}, StartState{}, StartDecision{Action: StartResnapshot}, false},
		{"always, committed", []Mode{ModeAlways}, StartState{Committed: true}, StartDecision{Action: StartStream}, false},
	}
	seen := map[Mode]int{}
	for _, tt := range tests {
		for _, m := range tt.modes {
			seen[m]++
			st := tt.st
			st.Mode = m
			got, err := DecideStart(st, words)
			if tt.lost {
				if !errors.Is(err, errLost) || !strings.Contains(err.Error(), "gone") {
					t.Errorf("%s (%v): %v, want LostError's", tt.name, m, err)
				}
				continue
			}
			if err != nil || got.Action != tt.want.Action || got.Lost != tt.want.Lost {
				t.Errorf("%s (%v) = %+v, %v; want %+v", tt.name, m, got, err, tt.want)
				continue
			}
			switch {
			case got.Lost && got.Why != "gone; renewing (snapshot mode "+m.String()+")":
				t.Errorf("%s (%v): why %q", tt.name, m, got.Why)
			case !got.Lost && got.Action == StartResnapshot && got.Why != "always, here":
				t.Errorf("%s (%v): why %q", tt.name, m, got.Why)
			}
		}
	}
	for _, m := range all {
		if seen[m] < 3 {
			t.Errorf("mode %v is in %d cases only", m, seen[m])
		}
	}
}
