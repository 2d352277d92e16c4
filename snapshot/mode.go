package snapshot

import "fmt"

// This file is the snapshot-mode decision both sources share: from the configured mode, the
// stored position and what the database still holds of the stream, what a source does before
// it streams. The sources only say what they know (is the position lost, and why; is a
// snapshot in progress; is this start's snapshot committed) and how they word it. The
// decision is a pure function, table-tested in each source without a server.

// Mode is a source's snapshot mode, as the decision needs it (Debezium's snapshot.mode).
type Mode uint8

// The snapshot modes.
const (
	// ModeInitial snapshots from the zero position only.
	ModeInitial Mode = iota
	// ModeInitialOnly snapshots from the zero position and then streams nothing.
	ModeInitialOnly
	// ModeNoData never snapshots.
	ModeNoData
	// ModeWhenNeeded snapshots from the zero position, and again when the stored position
	// can no longer be resumed.
	ModeWhenNeeded
	// ModeAlways snapshots once at each start of the source, and when the stored position
	// can no longer be resumed.
	ModeAlways
)

// String names the mode as configuration files spell it.
func (m Mode) String() string {
	switch m {
	case ModeInitial:
		return "initial"
	case ModeInitialOnly:
		return "initial_only"
	case ModeNoData:
		return "no_data"
	case ModeWhenNeeded:
		return "when_needed"
	case ModeAlways:
		return "always"
	default:
		return fmt.Sprintf("Mode(%d)", uint8(m))
	}
}

// ModeNamed returns the mode name spells (as String does; a source's snapshot modes are
// named so); a name that is none is ModeInitial, which a source's configuration refuses
// before.
func ModeNamed(name string) Mode {
	for m := ModeInitialOnly; m <= ModeAlways; m++ {
		if m.String() == name {
			return m
		}
	}
	return ModeInitial
}

// renews tells whether the mode snapshots again where the stored position is lost.
func (m Mode) renews() bool { return m == ModeWhenNeeded || m == ModeAlways }

// StartAction is what a source does before it streams.
type StartAction uint8

const (
	// StartStream streams from the stored position (for the zero position, from where the
	// source's stream stands now) without a snapshot. Under ModeInitialOnly, from a stored
	// position, it means there is nothing left to do.
	StartStream StartAction = iota
	// StartSnapshot snapshots from the zero position.
	StartSnapshot
	// StartResumeSnapshot goes on with the stored snapshot in progress.
	StartResumeSnapshot
	// StartResnapshot takes a new snapshot from the start, replacing the stored position.
	StartResnapshot
)

func (a StartAction) String() string {
	switch a {
	case StartStream:
		return "stream"
	case StartSnapshot:
		return "snapshot"
	case StartResumeSnapshot:
		return "resume snapshot"
	case StartResnapshot:
		return "snapshot again"
	default:
		return fmt.Sprintf("startAction(%d)", uint8(a))
	}
}

// StartDecision is DecideStart's answer: the action, and for StartResnapshot why, for the log
// (Lost tells whether the stored position could not be resumed, which is worth a warning).
type StartDecision struct {
	Action StartAction
	Why    string
	Lost   bool
}

// StartState is what DecideStart needs to know of a source's stored position and of what the
// database still holds.
type StartState struct {
	Mode Mode
	// FromZero: no position is stored.
	FromZero bool
	// InProgress: the stored position is inside a snapshot.
	InProgress bool
	// Lost says why the stored position cannot be resumed; "" when it can.
	Lost string
	// Committed, under ModeAlways, tells that the stored plain position is at or past the
	// point of the snapshot this start of the source took: that snapshot is committed.
	Committed bool
}

// StartWords are a source's words for the decisions that need them.
type StartWords struct {
	// Renew says how the source snapshots again where the position is lost ("creating the
	// slot anew and snapshotting again").
	Renew string
	// Always says why ModeAlways snapshots at this start.
	Always func() string
	// LostError is the error of a lost position in a mode that does not snapshot again.
	LostError func(lost string) error
}

// DecideStart chooses what a source does before it streams. A lost position in a mode that
// does not snapshot again is words.LostError's error.
func DecideStart(st StartState, words StartWords) (StartDecision, error) {
	if st.FromZero {
		if st.Mode == ModeNoData {
			return StartDecision{Action: StartStream}, nil
		}
		return StartDecision{Action: StartSnapshot}, nil
	}
	if st.Mode == ModeInitialOnly {
		// Nothing is streamed after the snapshot, so what the database holds does not matter:
		// a snapshot in progress is read on to its end, and after it there is nothing to do.
		if st.InProgress {
			return StartDecision{Action: StartResumeSnapshot}, nil
		}
		return StartDecision{Action: StartStream}, nil
	}
	switch {
	case st.Lost != "" && st.Mode.renews():
		return StartDecision{Action: StartResnapshot, Lost: true,
			Why: st.Lost + "; " + words.Renew + " (snapshot mode " + st.Mode.String() + ")"}, nil
	case st.Lost != "":
		return StartDecision{}, words.LostError(st.Lost)
	case st.InProgress:
		return StartDecision{Action: StartResumeSnapshot}, nil
	case st.Mode == ModeAlways && !st.Committed:
		return StartDecision{Action: StartResnapshot, Why: words.Always()}, nil
	}
	return StartDecision{Action: StartStream}, nil
}
