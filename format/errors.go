package format

import (
	"context"
	"errors"
	"net"
)

// The kinds of encoder failure the engine tells apart (its error policy, pipeline/dlq.go). A
// format's errors say their kind to errors.Is, wrapping or matching these sentinels, so that the
// engine classifies them without knowing the format.
var (
	// ErrValue: a value of one change that the format cannot write (NULL in a non-optional
	// column, a value out of its column's range, an unchanged value without placeholder). Only
	// this kind is the change's own, a poison change the error policy may dead-letter or skip.
	ErrValue = errors.New("format: a value the format cannot write")
	// ErrSchema: a table the format cannot describe (an unknown type, a name clash); every
	// change of the table fails alike.
	ErrSchema = errors.New("format: a table the format cannot describe")
	// ErrIncompatible: the table's new schema breaks the subject's compatibility rule.
	ErrIncompatible = errors.New("format: incompatible schema change")
	// ErrRegistry: the format's schema registry failed or could not be reached.
	ErrRegistry = errors.New("format: schema registry failure")
)

// IsPoison tells whether err, an encoder's error, is the failure of one change alone (ErrValue),
// which writing again fails again while the changes after it may pass. A schema, compatibility,
// registry or network failure, or a deadline, concerns more than the change and is never poison,
// even when it is found beside a bad value.
func IsPoison(err error) bool {
	if errors.Is(err, ErrIncompatible) || errors.Is(err, ErrSchema) || errors.Is(err, ErrRegistry) ||
		errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return false
	}
	return errors.Is(err, ErrValue)
}
