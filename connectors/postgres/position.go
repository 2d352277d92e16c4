package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/jackc/pglogrepl"
)

// position is this package's reading of an offsets.Position; see the package documentation.
type position struct {
	// lsn is where to resume reading: the end of the last complete transaction.
	lsn pglogrepl.LSN
	// tx is the commit LSN of the transaction to resume inside; 0 at a transaction boundary.
	tx pglogrepl.LSN
	// skip is how many of tx's changes are already delivered.
	skip int64
	// snap is the progress of a snapshot in progress; nil once the snapshot is done (or when
	// there was none). lsn is then the slot's consistent point, where streaming will start.
	snap *snapshotProgress
	// incr is the incremental snapshot in progress while streaming; nil when none runs.
	incr *incrementalProgress
}

// snapshotProgress is how far a snapshot got: the tables done, and within table Table the
// last key read (After, the primary key's values as text) or, for a table without a primary
// key, the first page not read yet (CTID, "(page,0)"). Neither set: Table is to be read from
// its start.
type snapshotProgress struct {
	Table string   `json:"table"`
	After []string `json:"after,omitempty"`
	CTID  string   `json:"ctid,omitempty"`
	Done  []string `json:"done"`
}

// positionJSON is the wire form of position.Source.
type positionJSON struct {
	LSN      string            `json:"lsn"`
	TX       string            `json:"tx,omitempty"`
	Snapshot *snapshotProgress `json:"snapshot,omitempty"`
	// Incremental is written last, so that positions without one read as before.
	Incremental *incrementalProgress `json:"incremental,omitempty"`
}

// encode returns p as an offsets.Position.
func (p position) encode() offsets.Position {
	w := positionJSON{LSN: p.lsn.String()}
	if p.tx != 0 {
		w.TX = p.tx.String()
	}
	if p.snap != nil {
		w.Snapshot = p.snap
		if w.Snapshot.Done == nil {
			// "done":[] rather than null: one spelling per position, so equal progress
			// encodes to equal bytes.
			w.Snapshot = &snapshotProgress{Table: p.snap.Table, After: p.snap.After, CTID: p.snap.CTID, Done: []string{}}
		}
	}
	w.Incremental = p.incr
	// Marshalling strings and string slices cannot fail.
	src, _ := json.Marshal(w)
	return offsets.Position{Source: src, Skip: p.skip}
}

// parsePosition reads pos; the zero Position gives the zero position, "start at the slot's
// confirmed flush LSN".
func parsePosition(pos offsets.Position) (position, error) {
	if pos.IsZero() {
		return position{}, nil
	}
	if pos.Skip < 0 {
		return position{}, badPosition("negative skip %d in %s", pos.Skip, pos)
	}
	dec := json.NewDecoder(bytes.NewReader(pos.Source))
	dec.DisallowUnknownFields()
	var w positionJSON
	if err := dec.Decode(&w); err != nil {
		return position{}, badPosition("%s: %v", pos, err)
	}
	if dec.More() {
		return position{}, badPosition("%s: trailing data", pos)
	}
	var p position
	var ok bool
	if p.lsn, ok = parseLSN(w.LSN); !ok {
		return position{}, badPosition("%s: lsn %q is not an LSN like 0/16B3748", pos, w.LSN)
	}
	if w.TX != "" {
		if p.tx, ok = parseLSN(w.TX); !ok {
			return position{}, badPosition("%s: tx %q is not an LSN like 0/16B3748", pos, w.TX)
		}
		if p.tx < p.lsn {
			return position{}, badPosition("%s: tx %s is before lsn %s", pos, p.tx, p.lsn)
		}
	}
	p.skip = pos.Skip
	if w.Incremental != nil {
		if err := w.Incremental.Check(validTableName); err != nil {
			return position{}, badPosition("%s: %v", pos, err)
		}
		if w.Snapshot != nil {
			return position{}, badPosition("%s: an incremental snapshot during the initial one", pos)
		}
		p.incr = w.Incremental
		// Skip without tx: a cut inside a chunk of the incremental snapshot, which is read
		// again whole (see the package documentation).
		return p, nil
	}
	if w.Snapshot != nil {
		if err := checkProgress(w.Snapshot); err != nil {
			return position{}, badPosition("%s: %v", pos, err)
		}
		if p.tx != 0 {
			return position{}, badPosition("%s: snapshot progress with tx", pos)
		}
		// A snapshot chunk's Begin may be stored with a Skip; the chunk is then read again
		// whole (see the package documentation), so the Skip needs no tx.
		p.snap = w.Snapshot
		return p, nil
	}
	if p.skip > 0 && p.tx == 0 {
		return position{}, badPosition("%s: skip without tx", pos)
	}
	return p, nil
}

// checkProgress rejects snapshot progress that cannot come from this package.
func checkProgress(sp *snapshotProgress) error {
	if _, _, ok := splitTable(sp.Table); !ok {
		return fmt.Errorf("snapshot table %q is not schema.table", sp.Table)
	}
	if sp.After != nil && sp.CTID != "" {
		return fmt.Errorf("snapshot of %s has both a key and a ctid", sp.Table)
	}
	if sp.CTID != "" {
		if _, ok := parsePageCTID(sp.CTID); !ok {
			return fmt.Errorf("snapshot ctid %q is not (page,0)", sp.CTID)
		}
	}
	for _, d := range sp.Done {
		if _, _, ok := splitTable(d); !ok {
			return fmt.Errorf("snapshot done table %q is not schema.table", d)
		}
		if d == sp.Table {
			return fmt.Errorf("snapshot table %s is both current and done", d)
		}
	}
	return nil
}

// pageCTID renders the first tuple id of page p.
func pageCTID(p uint32) string { return "(" + strconv.FormatUint(uint64(p), 10) + ",0)" }

// parsePageCTID reads "(page,0)".
func parsePageCTID(s string) (uint32, bool) {
	inner, ok := strings.CutPrefix(s, "(")
	if !ok {
		return 0, false
	}
	if inner, ok = strings.CutSuffix(inner, ",0)"); !ok || inner == "" {
		return 0, false
	}
	p, err := strconv.ParseUint(inner, 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(p), true
}

// parseLSN reads an LSN as PostgreSQL writes it, "X/Y" with X and Y hexadecimal 32-bit halves,
// strictly: pglogrepl.ParseLSN accepts trailing garbage.
func parseLSN(s string) (pglogrepl.LSN, bool) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, false
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, false
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, false
	}
	return pglogrepl.LSN(h<<32 | l), true
}
