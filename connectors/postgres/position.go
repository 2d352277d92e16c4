package postgres

import (
	"bytes"
	"encoding/json"
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
}

// positionJSON is the wire form of position.Source.
type positionJSON struct {
	LSN string `json:"lsn"`
	TX  string `json:"tx,omitempty"`
}

// encode returns p as an offsets.Position.
func (p position) encode() offsets.Position {
	w := positionJSON{LSN: p.lsn.String()}
	if p.tx != 0 {
		w.TX = p.tx.String()
	}
	// Marshalling two strings cannot fail.
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
	if p.skip > 0 && p.tx == 0 {
		return position{}, badPosition("%s: skip without tx", pos)
	}
	return p, nil
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
