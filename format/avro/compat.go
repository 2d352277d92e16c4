package avro

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/format"
)

// Compatibility is a subject's compatibility level, spelled as the Confluent registry spells it.
type Compatibility string

// The compatibility levels.
const (
	CompatNone               Compatibility = "NONE"
	CompatBackward           Compatibility = "BACKWARD"
	CompatBackwardTransitive Compatibility = "BACKWARD_TRANSITIVE"
	CompatForward            Compatibility = "FORWARD"
	CompatForwardTransitive  Compatibility = "FORWARD_TRANSITIVE"
	CompatFull               Compatibility = "FULL"
	CompatFullTransitive     Compatibility = "FULL_TRANSITIVE"
)

// ErrUnknownCompatibility is returned by ParseCompatibility for a name that is no level.
var ErrUnknownCompatibility = errors.New("avro: unknown compatibility level")

// ErrIncompatible matches every *IncompatibleError with errors.Is; it is of the kind
// format.ErrIncompatible.
var ErrIncompatible error = &kindError{"avro: incompatible schema", format.ErrIncompatible}

// ParseCompatibility returns the level named s (case-insensitive).
func ParseCompatibility(s string) (Compatibility, error) {
	c := Compatibility(strings.ToUpper(strings.TrimSpace(s)))
	if !c.valid() {
		return "", fmt.Errorf("%w: %q", ErrUnknownCompatibility, s)
	}
	return c, nil
}

func (c Compatibility) valid() bool {
	switch c {
	case CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward,
		CompatForwardTransitive, CompatFull, CompatFullTransitive:
		return true
	}
	return false
}

func (c Compatibility) backward() bool {
	return c == CompatBackward || c == CompatBackwardTransitive || c == CompatFull || c == CompatFullTransitive
}

func (c Compatibility) forward() bool {
	return c == CompatForward || c == CompatForwardTransitive || c == CompatFull || c == CompatFullTransitive
}

func (c Compatibility) transitive() bool {
	return c == CompatBackwardTransitive || c == CompatForwardTransitive || c == CompatFullTransitive
}

// IncompatibleError says that a candidate schema breaks its subject's compatibility level, and
// where. Column is empty when the break is not in a column (the envelope or source block).
type IncompatibleError struct {
	// Subject is the registry subject; CheckCompatible leaves it empty for its caller to set.
	Subject string
	// Table is the table the schema describes. CheckCompatible sets the record's namespace;
	// the Encoder replaces it with <namespace>.<table>.
	Table string
	// Column is the offending column, or empty.
	Column string
	// Level is the rule broken.
	Level Compatibility
	// Reason says what changed, e.g. `changed from int to string`.
	Reason string
	// Version is the subject's version the candidate breaks with, and NewVersion the number
	// it would have had; 0 when unknown. The Encoder sets both from the registry's version
	// numbers (a decoder.Table's Version counts descriptions in one run of a stream, not
	// registry versions).
	Version, NewVersion int
	// against is the index, in CheckCompatible's existing, of the version broken with.
	against int
}

// Error names the table, the column and the rule.
func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s: ", e.Table)
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q ", e.Column)
	}
	fmt.Fprintf(&b, "%s, which %s forbids", e.Reason, e.Level)
	switch {
	case e.Subject != "" && e.Version > 0 && e.NewVersion > 0:
		fmt.Fprintf(&b, " (subject %s: the new schema, which would be version %d, breaks with version %d)",
			e.Subject, e.NewVersion, e.Version)
	case e.Subject != "":
		fmt.Fprintf(&b, " (subject %s)", e.Subject)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrIncompatible) and errors.Is(err, format.ErrIncompatible) true.
func (e *IncompatibleError) Is(target error) bool {
	return target == ErrIncompatible || target == format.ErrIncompatible
}

// Retryable is false: the same change would meet the same schema again. The connector stops
// with this error instead of producing records its consumers could not decode.
func (e *IncompatibleError) Retryable() bool { return false }

// CheckCompatible checks candidate against the existing versions (oldest first) under level:
// BACKWARD = candidate reads the latest; FORWARD = the latest reads candidate; FULL = both;
// _TRANSITIVE = against every version; NONE = always compatible. It returns an
// *IncompatibleError or nil.
func CheckCompatible(level Compatibility, candidate avro.Schema, existing []avro.Schema) error {
	if level == CompatNone || len(existing) == 0 {
		return nil
	}
	if !level.valid() {
		return &IncompatibleError{Table: tableOf(candidate), Level: level, Reason: "unknown compatibility level"}
	}
	first := len(existing) - 1
	if level.transitive() {
		first = 0
	}
	sc := avro.NewSchemaCompatibility()
	// Newest first, so that the error names the most recent break.
	for i := len(existing) - 1; i >= first; i-- {
		old := existing[i]
		var e *IncompatibleError
		if level.backward() {
			if err := sc.Compatible(candidate, old); err != nil {
				e = explain(level, candidate, old, candidate, err)
			}
		}
		if e == nil && level.forward() {
			if err := sc.Compatible(old, candidate); err != nil {
				e = explain(level, candidate, old, old, err)
			}
		}
		if e != nil {
			e.against = i
			return e
		}
	}
	return nil
}

// explain builds the error for a failed check: it diffs the row records of old and candidate
// to find the column, since hamba's verdict does not say which field broke.
func explain(level Compatibility, candidate, old, reader avro.Schema, verdict error) *IncompatibleError {
	e := &IncompatibleError{Table: tableOf(candidate), Level: level}
	newRow, oldRow := rowRecord(candidate), rowRecord(old)
	if newRow != nil && oldRow != nil {
		readerIsNew := reader == candidate
		if col, reason := diffRows(oldRow, newRow, readerIsNew); col != "" {
			e.Column, e.Reason = col, reason
			return e
		}
	}
	e.Reason = "schema changed: " + verdict.Error()
	return e
}

// diffRows finds the first column whose change breaks reading in the given direction.
func diffRows(oldRow, newRow *avro.RecordSchema, readerIsNew bool) (column, reason string) {
	sc := avro.NewSchemaCompatibility()
	oldFields := fieldMap(oldRow)
	newFields := fieldMap(newRow)
	for _, nf := range newRow.Fields() {
		of, ok := oldFields[nf.Name()]
		if !ok {
			if readerIsNew && !nf.HasDefault() {
				return nf.Name(), fmt.Sprintf("added as %s without a default", describe(nf.Type()))
			}
			continue
		}
		var err error
		if readerIsNew {
			err = sc.Compatible(nf.Type(), of.Type())
		} else {
			err = sc.Compatible(of.Type(), nf.Type())
		}
		if err != nil {
			return nf.Name(), fmt.Sprintf("changed from %s to %s", describe(of.Type()), describe(nf.Type()))
		}
	}
	if !readerIsNew {
		for _, of := range oldRow.Fields() {
			if _, ok := newFields[of.Name()]; !ok && !of.HasDefault() {
				return of.Name(), fmt.Sprintf("removed although it was %s without a default", describe(of.Type()))
			}
		}
	}
	return "", ""
}

func fieldMap(r *avro.RecordSchema) map[string]*avro.Field {
	m := make(map[string]*avro.Field, len(r.Fields()))
	for _, f := range r.Fields() {
		m[f.Name()] = f
	}
	return m
}

// rowRecord returns the record of the table's columns: the envelope's after record, or the
// schema itself when it is a plain record (a key).
func rowRecord(s avro.Schema) *avro.RecordSchema {
	rec, ok := deref(s).(*avro.RecordSchema)
	if !ok {
		return nil
	}
	for _, f := range rec.Fields() {
		if f.Name() != "after" {
			continue
		}
		if u, ok := f.Type().(*avro.UnionSchema); ok {
			for _, t := range u.Types() {
				if r, ok := deref(t).(*avro.RecordSchema); ok {
					return r
				}
			}
		}
	}
	return rec
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// describe names a column type for a person: "int", "optional string", "array of long",
// "string (io.debezium.data.Json)".
func describe(s avro.Schema) string {
	s = deref(s)
	switch t := s.(type) {
	case *avro.UnionSchema:
		if t.Nullable() {
			_, i := t.Indices()
			return "optional " + describe(t.Types()[i])
		}
		parts := make([]string, 0, len(t.Types()))
		for _, m := range t.Types() {
			parts = append(parts, describe(m))
		}
		return "union of " + strings.Join(parts, ", ")
	case *avro.ArraySchema:
		return "array of " + describe(t.Items())
	case avro.NamedSchema:
		return t.FullName()
	case *avro.PrimitiveSchema:
		if l := t.Logical(); l != nil {
			return string(t.Type()) + " (" + string(l.Type()) + ")"
		}
		if n, ok := t.Prop("connect.name").(string); ok {
			return string(t.Type()) + " (" + n + ")"
		}
		return string(t.Type())
	}
	return string(s.Type())
}

// tableOf is the namespace of the schema's record: <prefix>.<namespace>.<table>.
func tableOf(s avro.Schema) string {
	if n, ok := deref(s).(avro.NamedSchema); ok {
		return n.Namespace()
	}
	return string(s.Type())
}
