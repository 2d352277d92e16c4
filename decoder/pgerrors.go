package decoder

import (
	"errors"
	"fmt"
)

// The conditions the pgoutput decoder reports. They are wrapped in a *PGMessageError (the
// message itself is malformed) or a *PGColumnError (one column's type or value cannot be
// decoded); test them with errors.Is.
var (
	// ErrPGMalformed: a pgoutput message is truncated, has an unknown tag or carries data
	// that contradicts the protocol. A *PGMessageError says where.
	ErrPGMalformed = errors.New("malformed pgoutput message")
	// ErrPGUnknownRelation: a row message names a relation id no Relation message described.
	ErrPGUnknownRelation = errors.New("row for a relation not described by a Relation message")
	// ErrPGUnknownType: a column's type has no decoding plan (neither built in and supported,
	// nor an enum, domain or array the catalog can describe).
	ErrPGUnknownType = errors.New("unsupported column type")
	// ErrPGBinaryFormat: a column value came in binary format and its type has no binary
	// plan (every supported type has one: this guards the decoder's own consistency).
	ErrPGBinaryFormat = errors.New("binary column values are not supported")
	// ErrPGSpecialValue: a value that exists in PostgreSQL but has no value in its Debezium
	// type: numeric NaN and ±Infinity, date ±infinity. The error names the type's range.
	// (Timestamps' ±infinity and intervals past Debezium's range have values: see
	// docs/postgres.md.)
	ErrPGSpecialValue = errors.New("value has no Debezium representation")
	// ErrPGMultiDimArray: an array value with more than one dimension.
	ErrPGMultiDimArray = errors.New("multi-dimensional arrays are not supported")
	// ErrPGBadValue: a column's text is not valid for its type under the session settings
	// the decoder expects (see PGDecoder).
	ErrPGBadValue = errors.New("column text does not parse")
)

// PGMessageError says which pgoutput message is malformed and where.
type PGMessageError struct {
	// Kind is the message's tag byte ('B', 'R', 'I', ...); 0 for an empty message.
	Kind byte
	// Offset is the byte offset in the message where decoding stopped.
	Offset int
	// Reason says what was wrong.
	Reason string
	// Err is a more specific condition (ErrPGUnknownRelation), or nil.
	Err error
}

// Error implements error.
func (e *PGMessageError) Error() string {
	if e.Kind == 0 {
		return fmt.Sprintf("pgoutput message at offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("pgoutput message %q at offset %d: %s", e.Kind, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrPGMalformed) true, and errors.Is(err, e.Err) when Err is set.
func (e *PGMessageError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrPGMalformed, e.Err}
	}
	return []error{ErrPGMalformed}
}

// PGColumnError says which column of which table could not be planned or decoded.
type PGColumnError struct {
	// Namespace and Table name the table; Column the column.
	Namespace, Table, Column string
	// SourceType is the column's type name (or "oid N" when its name is unknown).
	SourceType string
	// Err is the condition, one of the ErrPG sentinels, possibly wrapped with detail.
	Err error
}

// Error implements error.
func (e *PGColumnError) Error() string {
	return fmt.Sprintf("column %s.%s.%s (%s): %v", e.Namespace, e.Table, e.Column, e.SourceType, e.Err)
}

// Unwrap returns the condition.
func (e *PGColumnError) Unwrap() error { return e.Err }

// badValue wraps ErrPGBadValue with the offending text, copied since text points into a buffer
// the caller gives up. Only error paths call it.
func badValue(typ string, text []byte) error {
	const maxShown = 64
	shown := text
	if len(shown) > maxShown {
		shown = shown[:maxShown]
	}
	return fmt.Errorf("%w: invalid %s %q", ErrPGBadValue, typ, string(shown))
}
