package connectors

import "errors"

// PermanentError marks a source failure that a restart from the same committed position would
// meet again: a position the server no longer has, a broken protocol, DDL that cannot be
// applied, a corrupt schema history. Its Retryable method says false, which is what the
// pipeline asks (pipeline.IsRetryable): the connector stops with the error (FAILED) instead of
// restarting forever. errors.Is and errors.As see through it to the source's own error.
//
// It is the one marker both sources apply at their boundary (Stream), so that the pipeline
// needs no knowledge of each source's sentinels; ConfigError says false by itself.
type PermanentError struct {
	// Err is the source's error.
	Err error
}

// Error returns Err's message unchanged.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *PermanentError) Unwrap() error { return e.Err }

// Retryable is false: see PermanentError.
func (e *PermanentError) Retryable() bool { return false }

// Permanent marks err as permanent (see PermanentError). It returns nil for nil, and err itself
// when it is marked already.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*PermanentError](err); ok {
		return err
	}
	return &PermanentError{Err: err}
}
