package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cdcd-dev/cdcd/decoder"
)

// The signal types of a signal table, Debezium's names.
const (
	SignalExecute = "execute-snapshot"
	SignalStop    = "stop-snapshot"
)

// MaxSignalID bounds the id of a signal, which every position of an incremental snapshot
// carries.
const MaxSignalID = 256

// ErrSignal wraps every reason a signal row is not a signal.
var ErrSignal = errors.New("bad signal")

// Signal is one row inserted into a signal table (columns id, type and data, as Debezium's):
// start (SignalExecute) or stop (SignalStop) an incremental snapshot of Tables (for a stop,
// none means all).
type Signal struct {
	ID, Kind string
	Tables   []string
}

// SignalData is the JSON of a signal's data column, as Debezium reads it.
type SignalData struct {
	DataCollections []string `json:"data-collections"`
	Type            string   `json:"type"`
}

// ParseSignal reads a row of a signal table described by t: its id, type and data (JSON)
// columns, found by name. A row that is not a signal cdcd supports is an error wrapping
// ErrSignal that says why.
func ParseSignal(t *decoder.Table, row []decoder.Value) (Signal, error) {
	var sig Signal
	var data string
	for i, c := range t.Columns {
		if i >= len(row) || row[i].State != decoder.ValueSet {
			continue
		}
		switch strings.ToLower(c.Name) {
		case "id":
			sig.ID = string(row[i].Bytes)
		case "type":
			sig.Kind = string(row[i].Bytes)
		case "data":
			data = string(row[i].Bytes)
		}
	}
	switch {
	case sig.ID == "":
		return sig, fmt.Errorf("%w: no id", ErrSignal)
	case len(sig.ID) > MaxSignalID:
		return sig, fmt.Errorf("%w: an id of %d bytes (at most %d)", ErrSignal, len(sig.ID), MaxSignalID)
	case sig.Kind != SignalExecute && sig.Kind != SignalStop:
		return sig, fmt.Errorf("%w: signal %s: type %q is not supported (use %s or %s)", ErrSignal, sig.ID, sig.Kind, SignalExecute, SignalStop)
	}
	var d SignalData
	if strings.TrimSpace(data) != "" {
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return sig, fmt.Errorf("%w: signal %s: data is not JSON like {\"data-collections\": [\"<table>\"], \"type\": \"incremental\"}: %w",
				ErrSignal, sig.ID, err)
		}
	}
	if d.Type != "" && !strings.EqualFold(d.Type, "incremental") {
		return sig, fmt.Errorf("%w: signal %s: snapshot type %q is not supported (use incremental)", ErrSignal, sig.ID, d.Type)
	}
	if sig.Kind == SignalExecute && len(d.DataCollections) == 0 {
		return sig, fmt.Errorf("%w: signal %s: %s names no data-collections", ErrSignal, sig.ID, SignalExecute)
	}
	sig.Tables = d.DataCollections
	return sig, nil
}

// IncrementalProgress is how far an incremental snapshot got: its signal's id, the tables
// still to read (the one being read first), and within that table the key values of the last
// row emitted (After) and its greatest key when its reading began (Max), as text. Max nil:
// the table's reading has not begun; After nil: no row of it is emitted yet. Positions share
// it once encoded: a change makes a new value (Next, With, Without).
type IncrementalProgress struct {
	ID     string   `json:"id"`
	Tables []string `json:"tables"`
	After  []string `json:"after,omitempty"`
	Max    []string `json:"max,omitempty"`
}

// Check rejects progress that cannot have been written: validTable judges a table's name.
func (p *IncrementalProgress) Check(validTable func(string) bool) error {
	switch {
	case p.ID == "" || len(p.ID) > MaxSignalID:
		return fmt.Errorf("incremental snapshot id of %d bytes", len(p.ID))
	case len(p.Tables) == 0:
		return fmt.Errorf("incremental snapshot %s without tables", p.ID)
	case p.Max != nil && len(p.Max) == 0:
		// Written, an empty key is left out: it would not read back the same.
		return fmt.Errorf("incremental snapshot %s has an empty greatest key", p.ID)
	case p.After != nil && p.Max == nil:
		return fmt.Errorf("incremental snapshot %s resumes after a key without a greatest key", p.ID)
	case p.After != nil && len(p.After) != len(p.Max):
		return fmt.Errorf("incremental snapshot %s has %d key values after and %d in the greatest key", p.ID, len(p.After), len(p.Max))
	}
	for i, t := range p.Tables {
		if !validTable(t) {
			return fmt.Errorf("incremental snapshot table %q is not a qualified table name", t)
		}
		if slices.Contains(p.Tables[:i], t) {
			return fmt.Errorf("incremental snapshot table %s is listed twice", t)
		}
	}
	return nil
}

// Next returns the progress once the current table is done: the next table from its start,
// or nil when none is left.
func (p *IncrementalProgress) Next() *IncrementalProgress {
	if len(p.Tables) <= 1 {
		return nil
	}
	return &IncrementalProgress{ID: p.ID, Tables: slices.Clone(p.Tables[1:])}
}

// With returns p with the tables add after its own.
func (p *IncrementalProgress) With(add []string) *IncrementalProgress {
	out := *p
	out.Tables = append(slices.Clone(p.Tables), add...)
	return &out
}

// Without returns p without the tables drop, nil when none is left (or p is nil). The point
// reached in the first table is kept when that table is.
func (p *IncrementalProgress) Without(drop []string) *IncrementalProgress {
	if p == nil {
		return nil
	}
	left := slices.DeleteFunc(slices.Clone(p.Tables), func(t string) bool { return slices.Contains(drop, t) })
	if len(left) == 0 {
		return nil
	}
	out := &IncrementalProgress{ID: p.ID, Tables: left}
	if left[0] == p.Tables[0] {
		out.After, out.Max = p.After, p.Max
	}
	return out
}
