package schemaregistry

import (
	"errors"
	"fmt"
)

// Sentinel errors of the package.
var (
	// ErrInvalidOption is returned by Open when its options contradict each other or are out of
	// range.
	ErrInvalidOption = errors.New("embedded registry: invalid option")
	// ErrBadTopic is returned by Open when the schemas topic exists but cannot hold the registry:
	// more than one partition (order across partitions is undefined) or not compacted.
	ErrBadTopic = errors.New("embedded registry: unusable schemas topic")
	// ErrClosed is returned by operations on a registry after Close, or whose topic reader
	// stopped.
	ErrClosed = errors.New("embedded registry: closed")
	// ErrConcurrentWriter is returned when a write read back from the topic lost to a record of
	// another process (see the package documentation on the single-writer assumption).
	ErrConcurrentWriter = errors.New("embedded registry: concurrent write by another process")
)

// Confluent's error codes: the HTTP status is the code's first three digits, or the code itself
// for the few that are plain statuses (409).
const (
	codeNotFound                  = 404
	codeMethodNotAllowed          = 405
	codeIncompatible              = 409
	codeSubjectNotFound           = 40401
	codeVersionNotFound           = 40402
	codeSchemaNotFound            = 40403
	codeSubjectSoftDeleted        = 40404
	codeSubjectNotSoftDeleted     = 40405
	codeVersionSoftDeleted        = 40406
	codeVersionNotSoftDeleted     = 40407
	codeSubjectConfigNotFound     = 40408
	codeInvalidSchema             = 42201
	codeInvalidVersion            = 42202
	codeInvalidCompatibilityLevel = 42203
	codeUnprocessable             = 422
	codeStoreError                = 50001
	codeOperationTimeout          = 50002
)

// apiError is an error answered to an HTTP client, with Confluent's code and message.
type apiError struct {
	code    int
	message string
	// cause is kept for errors.Is/As by Go callers; it is not shown to HTTP clients beyond
	// message.
	cause error
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.code, e.message) }

func (e *apiError) Unwrap() error { return e.cause }

// status is the HTTP status of the error.
func (e *apiError) status() int {
	if e.code >= 10000 {
		return e.code / 100
	}
	return e.code
}

func subjectNotFound(subject string) *apiError {
	return &apiError{code: codeSubjectNotFound, message: fmt.Sprintf("Subject '%s' not found.", subject)}
}

func versionNotFound(version int) *apiError {
	return &apiError{code: codeVersionNotFound, message: fmt.Sprintf("Version %d not found.", version)}
}

func schemaNotFound() *apiError {
	return &apiError{code: codeSchemaNotFound, message: "Schema not found"}
}

func schemaIDNotFound(id int) *apiError {
	return &apiError{code: codeSchemaNotFound, message: fmt.Sprintf("Schema %d not found", id)}
}

func invalidSchema(format string, args ...any) *apiError {
	return &apiError{code: codeInvalidSchema, message: fmt.Sprintf(format, args...)}
}

func invalidVersion(v string) *apiError {
	return &apiError{code: codeInvalidVersion, message: fmt.Sprintf(
		"The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)}
}

func invalidCompatibilityLevel() *apiError {
	return &apiError{code: codeInvalidCompatibilityLevel, message: "Invalid compatibility level. Valid values are none, " +
		"backward, forward, full, backward_transitive, forward_transitive, and full_transitive"}
}

func storeError(err error) *apiError {
	return &apiError{code: codeStoreError, message: "Error in the backend data store: " + err.Error(), cause: err}
}

// asAPIError turns any error of the registry into the error answered over HTTP.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return storeError(err)
}
