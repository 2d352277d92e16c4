package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// slotState is what a Stream's start needs to know of the replication slot.
type slotState struct {
	exists bool
	// confirmed is the slot's confirmed_flush_lsn, when it exists.
	confirmed pglogrepl.LSN
	// promoted is, for a missing slot on a server that was promoted (a timeline past the
	// first), that promotion; nil otherwise or when unknown.
	promoted *promotion
	// invalidated is, for a slot PostgreSQL has invalidated (wal_status lost: the WAL it
	// needs is removed), the server's reason; empty for a usable slot. Such a slot cannot be
	// streamed from ever again.
	invalidated string
}

// readSlot reads the slot's state on conn.
func readSlot(ctx context.Context, conn *pgx.Conn, slot string) (slotState, error) {
	var confirmed, walStatus, reason, keepSize string
	// invalidation_reason exists from PostgreSQL 17 on: read through to_jsonb, it is NULL
	// before rather than an error.
	err := conn.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn::text, ''), coalesce(wal_status, ''),
			coalesce(to_jsonb(s) ->> 'invalidation_reason', ''), current_setting('max_slot_wal_keep_size')
		FROM pg_replication_slots s WHERE slot_name = $1`, slot).Scan(&confirmed, &walStatus, &reason, &keepSize)
	if errors.Is(err, pgx.ErrNoRows) {
		return slotState{}, nil
	}
	if err != nil {
		return slotState{}, fmt.Errorf("postgres source: reading replication slot %s: %w", slot, err)
	}
	st := slotState{exists: true}
	if walStatus == "lost" {
		st.invalidated = invalidationReason(reason, keepSize)
		return st, nil
	}
	lsn, ok := parseLSN(confirmed)
	if !ok {
		return slotState{}, fmt.Errorf("%w: slot %s has confirmed flush LSN %q", ErrProtocol, slot, confirmed)
	}
	st.confirmed = lsn
	return st, nil
}

// invalidationReason says why PostgreSQL invalidated a slot, from its invalidation_reason
// (PostgreSQL 17 and later; empty before, where exceeding max_slot_wal_keep_size is the only
// reason a primary's slot loses its WAL) and the server's max_slot_wal_keep_size.
func invalidationReason(reason, keepSize string) string {
	switch reason {
	case "", "wal_removed":
		return fmt.Sprintf("it exceeded the maximum reserved size: it fell more than max_slot_wal_keep_size (%s) behind, and the server removed the WAL it needed", keepSize)
	default:
		return "invalidation_reason " + reason
	}
}

// slotInvalidated is the error of a Stream that cannot resume because its slot is
// invalidated and its snapshot mode does not snapshot again; detail is what the server said,
// when it said something.
func slotInvalidated(slotName, reason string, resume position, detail string) error {
	what := reason
	if detail != "" {
		what += " (the server: " + detail + ")"
	}
	if resume.lsn != 0 {
		what += fmt.Sprintf("; stored position %s cannot be resumed", resume.lsn)
	}
	return fmt.Errorf("%w: PostgreSQL invalidated replication slot %s (wal_status lost): %s. "+
		"To capture again, snapshot again: set snapshot_mode: when_needed (cdcd then drops and creates the slot, and snapshots), "+
		"or drop the slot (SELECT pg_drop_replication_slot('%s')) and reset the connector's offsets (cdcd offsets reset NAME); "+
		"raise max_slot_wal_keep_size (-1: no limit) so that it does not happen again",
		ErrSlotInvalidated, slotName, what, slotName)
}

// startAction is what a Stream does before it streams (see snapshot.StartAction).
type startAction = snapshot.StartAction

const (
	// startStream streams from the stored position (or, from the zero position, the slot's
	// confirmed flush LSN) without a snapshot.
	startStream = snapshot.StartStream
	// startSnapshot snapshots from the zero position: on the slot that exists, or on one
	// created with an exported snapshot.
	startSnapshot = snapshot.StartSnapshot
	// startResumeSnapshot goes on with the stored snapshot in progress.
	startResumeSnapshot = snapshot.StartResumeSnapshot
	// startResnapshot drops the slot if it exists, creates it anew with an exported snapshot,
	// and snapshots from the start, replacing the stored position.
	startResnapshot = snapshot.StartResnapshot
)

// startDecision is decideStart's answer: the action, and for startResnapshot why, for the log
// (lost tells whether the stored position could not be resumed, which is worth a warning).
type startDecision struct {
	action startAction
	why    string
	lost   bool
}

// decideStart chooses what a Stream in mode does from resume (fromZero: no stored position)
// given the slot's state (see snapshot.DecideStart). snappedAt is the consistent point of the
// snapshot this Source last started or resumed under SnapshotAlways (0: none yet): a plain
// stored position at or past it means that snapshot is committed, so this start of the Source
// had its snapshot. It returns ErrPositionReleased where the position cannot be resumed and the
// mode does not snapshot, and ErrSlotInvalidated where the slot is invalidated and the mode
// does not snapshot again.
func decideStart(mode SnapshotMode, slotName string, resume position, fromZero bool, slot slotState,
	snappedAt pglogrepl.LSN) (startDecision, error) {
	renew := mode == SnapshotWhenNeeded || mode == SnapshotAlways
	switch {
	case fromZero && slot.invalidated != "" && mode == SnapshotNoData,
		!fromZero && mode != SnapshotInitialOnly && slot.invalidated != "" && !renew:
		return startDecision{}, slotInvalidated(slotName, slot.invalidated, resume, "")
	case fromZero && slot.invalidated != "":
		// Nothing was committed from it: a new slot loses nothing.
		return startDecision{action: startResnapshot, lost: true,
			why: fmt.Sprintf("replication slot %s was invalidated by PostgreSQL (wal_status lost): %s; creating it anew and snapshotting",
				slotName, slot.invalidated)}, nil
	}
	var lost string
	switch {
	case fromZero || mode == SnapshotInitialOnly:
		// Its slot was temporary and is gone: nothing is resumed from it.
	case slot.invalidated != "":
		lost = fmt.Sprintf("replication slot %s was invalidated by PostgreSQL (wal_status lost): %s, so stored position %s cannot be resumed",
			slotName, slot.invalidated, resume.lsn)
	case !slot.exists && slot.promoted != nil:
		lost = slotLostToPromotion(slotName, *slot.promoted, resume)
	case !slot.exists:
		lost = fmt.Sprintf("replication slot %s does not exist (dropped?), so stored position %s cannot be resumed",
			slotName, resume.lsn)
	case resume.lsn < slot.confirmed:
		lost = fmt.Sprintf("replication slot %s has confirmed_flush_lsn %s, past stored position %s: the WAL in between is released",
			slotName, slot.confirmed, resume.lsn)
	}
	dec, err := snapshot.DecideStart(snapshot.StartState{Mode: snapshot.ModeNamed(mode.String()), FromZero: fromZero, InProgress: resume.snap != nil,
		Lost: lost, Committed: snappedAt != 0 && resume.lsn >= snappedAt}, snapshot.StartWords{
		Renew: "creating the slot anew and snapshotting again",
		Always: func() string {
			return fmt.Sprintf("snapshot mode always: snapshotting at this start, on replication slot %s created anew (stored position %s)",
				slotName, resume.lsn)
		},
		LostError: func(lost string) error {
			return fmt.Errorf("%w: %s (snapshot mode %s; when_needed would snapshot again)", ErrPositionReleased, lost, mode)
		},
	})
	return startDecision{action: dec.Action, why: dec.Why, lost: dec.Lost}, err
}
