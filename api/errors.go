package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrorBody is the body of every error answer, Kafka Connect's shape: the HTTP status again and
// a message for a person.
type ErrorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// requestError is an error of the request itself (bad body, bad name...), found by the server
// before any Backend call: its message is written as is.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to the HTTP status of its answer and tells whether its message may
// be shown: a Backend's sentinel-wrapped errors are written for the user, anything else may
// carry internals (addresses, SQL) and is replaced by a generic message.
func statusOf(err error) (status int, public bool) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re.status, true
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, true
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, true
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest, true
	case errors.Is(err, ErrRefused):
		return http.StatusInternalServerError, true
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, true
	case errors.Is(err, context.DeadlineExceeded):
		// Our own per-request deadline (WithWriteTimeout) ran out in the Backend.
		return http.StatusServiceUnavailable, false
	default:
		return http.StatusInternalServerError, false
	}
}

// writeError answers err. Errors whose message is not public are logged with the request id
// and answered with a generic message naming that id, so that an operator can find the log line.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, public := statusOf(err)
	msg := err.Error()
	if !public {
		id := requestID(r.Context())
		if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
			// The client went away: nobody reads the answer, and it is not a server fault.
			s.log.Debug().Str("request_id", id).Msg("request canceled by the client")
		} else {
			s.log.Error().Err(err).Str("request_id", id).Str("method", r.Method).
				Str("path", r.URL.Path).Msg("request failed")
		}
		if status == http.StatusServiceUnavailable {
			msg = fmt.Sprintf("the daemon did not answer in time (request id %s)", id)
		} else {
			msg = fmt.Sprintf("internal error (request id %s); see the daemon's log", id)
		}
	}
	writeErrorStatus(w, status, msg)
}

// writeErrorStatus writes an error body with status and msg.
func writeErrorStatus(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorBody{ErrorCode: status, Message: msg})
}

// writeJSON writes v as the JSON body of a status answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are written: this is a programming error. Answer something valid.
		status = http.StatusInternalServerError
		b = []byte(`{"error_code":500,"message":"internal error: cannot encode the answer"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// InvalidConfig is the error of a failed validation, ErrInvalid with every problem, each with
// its key: as a config file's check lists them, one answer to fix them all.
func InvalidConfig(problems []FieldError) error {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Message
		if p.Name != "" {
			msgs[i] = p.Name + ": " + p.Message
		}
	}
	if len(msgs) == 1 {
		return fmt.Errorf("%w: %s", ErrInvalid, msgs[0])
	}
	return fmt.Errorf("%w: %d problems: %s", ErrInvalid, len(msgs), strings.Join(msgs, "; "))
}
