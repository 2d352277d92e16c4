package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/cdcd-dev/cdcd/snapshot"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
)

// This file decides what a Stream does before it streams (snapshot, resume a snapshot, snapshot
// again, or stream) from the snapshot mode, the stored position and what the server still holds
// in its binary logs. The decision is a pure function, table-tested without a server.

// binlogState is what the start decision needs to know of the server's binary logs: whether a
// stored position can still be served.
type binlogState struct {
	flavor Flavor
	// files are the server's binary logs, oldest first (SHOW BINARY LOGS).
	files []string
	// purged are the transactions no longer in the binary logs: MySQL's @@gtid_purged; for
	// MariaDB the GTID position at the start of the oldest binary log (its Gtid_list event),
	// that is every transaction up to it. Empty when nothing was purged.
	purged GTIDSet
}

// lost says why p cannot be resumed on the server, or "" when it can. A position with GTIDs
// resumes by GTIDs: it needs every purged transaction to be in its set (MariaDB: at or past
// the oldest binary log's starting GTID in each domain). One without resumes by file and
// offset: it needs its file.
func (b binlogState) lost(p Position) string {
	oldest, newest := b.span()
	if !p.GTIDs.IsEmpty() {
		if p.GTIDs.Contains(b.purged) {
			return ""
		}
		if b.flavor == FlavorMariaDB {
			return fmt.Sprintf("stored position %s needs binary logs the server has purged: its oldest binary log %s starts at GTID position %s, past the stored %s",
				p.streaming(), oldest, b.purged, p.GTIDs)
		}
		return fmt.Sprintf("stored position %s needs binary logs the server has purged: @@gtid_purged %s is not within the stored GTID set %s (oldest binary log %s)",
			p.streaming(), b.purged, p.GTIDs, oldest)
	}
	if slices.Contains(b.files, p.File) {
		return ""
	}
	return fmt.Sprintf("stored position %s needs binary log %s, which the server no longer has (its binary logs: %s to %s)",
		p.streaming(), p.File, oldest, newest)
}

// span returns the oldest and newest binary logs' names, "none" without any.
func (b binlogState) span() (oldest, newest string) {
	if len(b.files) == 0 {
		return "none", "none"
	}
	return b.files[0], b.files[len(b.files)-1]
}

// startAction is what a Stream does before it streams (see snapshot.StartAction).
type startAction = snapshot.StartAction

const (
	// startStream streams from the stored position, or from the binlog's end for the zero
	// position without a snapshot. Under SnapshotInitialOnly, from a stored position, it
	// means there is nothing left to do.
	startStream = snapshot.StartStream
	// startSnapshot snapshots from the zero position.
	startSnapshot = snapshot.StartSnapshot
	// startResumeSnapshot goes on with the stored snapshot in progress.
	startResumeSnapshot = snapshot.StartResumeSnapshot
	// startResnapshot takes a new snapshot at the server's current position, replacing the
	// stored position.
	startResnapshot = snapshot.StartResnapshot
)

// decideStart chooses what a Stream in mode does from resume (fromZero: no stored position),
// given the server's binary logs (unused for the zero position and under
// SnapshotInitialOnly, which streams nothing); see snapshot.DecideStart. snappedAt is the
// point of the snapshot this Source last started or resumed under SnapshotAlways (the zero
// Position: none yet): a plain stored position at or past it means that snapshot is
// committed, so this start of the Source had its snapshot. It returns ErrPositionPurged where
// the position cannot be resumed and the mode does not snapshot.
func decideStart(mode SnapshotMode, resume Position, fromZero bool, binlogs binlogState, snappedAt Position) (snapshot.StartDecision, error) {
	var lost string
	if !fromZero && mode != SnapshotInitialOnly {
		// A snapshot in progress streams from its point once read: that point must be served.
		lost = binlogs.lost(resume)
	}
	return snapshot.DecideStart(snapshot.StartState{Mode: snapshot.ModeNamed(mode.String()), FromZero: fromZero, InProgress: resume.Snapshot != nil,
		Lost: lost, Committed: snapshotCommitted(resume, snappedAt)}, snapshot.StartWords{
		Renew: "snapshotting again at the server's current position",
		Always: func() string {
			return fmt.Sprintf("snapshot mode always: snapshotting at this start of the connector, at the server's current position (stored position %s)",
				resume)
		},
		LostError: func(lost string) error {
			return fmt.Errorf("%w: %s (snapshot mode %s): set snapshot_mode to when_needed to snapshot again, or reset the connector's offsets for a new start",
				ErrPositionPurged, lost, mode)
		},
	})
}

// chooseStart reads what decideStart needs from the server, decides, and logs the reason of a
// new snapshot that replaces a stored position (at warn level when the position was lost).
func (s *Source) chooseStart(ctx context.Context, resume Position, fromZero bool) (startAction, error) {
	var binlogs binlogState
	if !fromZero && s.cfg.SnapshotMode != SnapshotInitialOnly {
		var err error
		if binlogs, err = s.readBinlogState(ctx); err != nil {
			return 0, err
		}
	}
	dec, err := decideStart(s.cfg.SnapshotMode, resume, fromZero, binlogs, s.snappedAt)
	if err != nil {
		return 0, err
	}
	if dec.Why != "" {
		ev := s.cfg.Logger.Info()
		if dec.Lost {
			ev = s.cfg.Logger.Warn()
		}
		oldest, newest := binlogs.span()
		ev.Str("stored_position", resume.String()).Str("snapshot_mode", s.cfg.SnapshotMode.String()).
			Str("oldest_binary_log", oldest).Str("newest_binary_log", newest).Str("purged_gtids", binlogs.purged.String()).
			Msg("mysql source: " + dec.Why)
	}
	return dec.Action, nil
}

// snapshotCommitted tells whether the plain stored position resume is at or past snappedAt,
// the point of this Source's snapshot: then that snapshot's last chunk is committed.
func snapshotCommitted(resume, snappedAt Position) bool {
	if snappedAt.IsZero() {
		return false
	}
	c, ok := resume.compare(snappedAt)
	return ok && c >= 0
}

// readBinlogState reads the server's binary logs and what they no longer hold.
func (s *Source) readBinlogState(ctx context.Context) (binlogState, error) {
	db, err := connect(ctx, s.cfg)
	if err != nil {
		return binlogState{}, err
	}
	defer func() { _ = db.Close() }()
	st := binlogState{flavor: s.flavor}
	if st.files, err = binaryLogs(ctx, db); err != nil {
		return binlogState{}, err
	}
	switch s.flavor {
	case FlavorMySQL:
		var purged string
		if err := db.QueryRowContext(ctx, "SELECT @@global.gtid_purged").Scan(&purged); err != nil {
			return binlogState{}, fmt.Errorf("mysql source: reading gtid_purged: %w", err)
		}
		if st.purged, err = ParseGTIDSet(FlavorMySQL, strings.ReplaceAll(purged, "\n", "")); err != nil {
			return binlogState{}, fmt.Errorf("mysql source: the server's gtid_purged: %w", err)
		}
	case FlavorMariaDB:
		st.purged, _ = ParseGTIDSet(FlavorMariaDB, "")
		// The oldest file may be purged between the two reads: then the list is read again.
		for attempt := 0; len(st.files) > 0; attempt++ {
			if st.purged, err = mariaDBGTIDListOf(ctx, db, st.files[0]); err == nil {
				break
			}
			files, lerr := binaryLogs(ctx, db)
			if attempt == 2 || lerr != nil || len(files) == 0 || files[0] == st.files[0] {
				return binlogState{}, err
			}
			st.files = files
		}
	}
	return st, nil
}

// binaryLogs lists the server's binary logs, oldest first.
func binaryLogs(ctx context.Context, db queryer) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS (needs REPLICATION CLIENT): %w", err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
	}
	var files []string
	for rows.Next() {
		vals, err := scanStrings(rows, len(cols))
		if err != nil {
			return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
		}
		if len(vals) > 0 {
			files = append(files, vals[0].String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
	}
	return files, nil
}

// scanStrings scans the current row of rows, of n columns, as strings (NULL: not Valid).
func scanStrings(rows *sql.Rows, n int) ([]sql.NullString, error) {
	vals := make([]sql.NullString, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// mariaDBGTIDListOf reads the Gtid_list event at the start of binary log file: the GTID
// position before it.
func mariaDBGTIDListOf(ctx context.Context, db queryer, file string) (GTIDSet, error) {
	rows, err := db.QueryContext(ctx, "SHOW BINLOG EVENTS IN ? LIMIT 4", file)
	if err != nil {
		return GTIDSet{}, fmt.Errorf("mysql source: SHOW BINLOG EVENTS IN %s: %w", file, err)
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return GTIDSet{}, fmt.Errorf("mysql source: SHOW BINLOG EVENTS IN %s: %w", file, err)
	}
	typ, info := slices.Index(cols, "Event_type"), slices.Index(cols, "Info")
	if typ < 0 || info < 0 {
		return GTIDSet{}, fmt.Errorf("%w: SHOW BINLOG EVENTS has columns %v", ErrProtocol, cols)
	}
	for rows.Next() {
		vals, err := scanStrings(rows, len(cols))
		if err != nil {
			return GTIDSet{}, fmt.Errorf("mysql source: SHOW BINLOG EVENTS IN %s: %w", file, err)
		}
		if vals[typ].String == "Gtid_list" {
			set, err := parseGTIDList(vals[info].String)
			if err != nil {
				return GTIDSet{}, fmt.Errorf("%w: the Gtid_list event of %s: %w", ErrProtocol, file, err)
			}
			return set, nil
		}
	}
	if err := rows.Err(); err != nil {
		return GTIDSet{}, fmt.Errorf("mysql source: SHOW BINLOG EVENTS IN %s: %w", file, err)
	}
	return GTIDSet{}, fmt.Errorf("%w: binary log %s does not start with a Gtid_list event", ErrProtocol, file)
}

// parseGTIDList reads the Info of a MariaDB Gtid_list event as SHOW BINLOG EVENTS shows it,
// "[0-1-100,1-2-7]": the binlog state, the last GTID of each domain and server. It returns the
// GTID position it implies: per domain, the GTID of the highest sequence number (none for
// sequence number 0).
func parseGTIDList(s string) (GTIDSet, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return GTIDSet{}, fmt.Errorf("gtid list %q is not [d-s-n,...]", s)
	}
	pos := &gomysql.MariadbGTIDSet{Sets: make(map[uint32]*gomysql.MariadbGTID)}
	if body := strings.TrimSpace(s[1 : len(s)-1]); body != "" {
		for part := range strings.SplitSeq(body, ",") {
			g, err := parseMariaDBGTID(strings.TrimSpace(part))
			if err != nil {
				return GTIDSet{}, fmt.Errorf("gtid list %q: %w", s, err)
			}
			// Sequence number 0 is no transaction (go-mysql would print it as nothing).
			if cur := pos.Sets[g.DomainID]; g.SequenceNumber > 0 && (cur == nil || cur.SequenceNumber < g.SequenceNumber) {
				pos.Sets[g.DomainID] = g
			}
		}
	}
	return GTIDSet{flavor: FlavorMariaDB, set: pos}, nil
}
