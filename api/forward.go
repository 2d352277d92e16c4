package api

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// ElsewhereError is a request only the connector's owner can carry out (a restart) sent to
// another member of a group. The API forwards such a request to Owner; Err, which wraps
// ErrConflict, is the answer when it cannot.
type ElsewhereError struct {
	// Owner is the owner's worker id: its advertised API address, host:port.
	Owner string
	Err   error
}

func (e *ElsewhereError) Error() string { return e.Err.Error() }

func (e *ElsewhereError) Unwrap() error { return e.Err }

// forwardedHeader marks a request one member forwarded to another: the receiver answers it
// itself, so that two members that each believe the other owns a connector (a rebalance in
// flight) never send a request back and forth.
const forwardedHeader = "X-Cdcd-Forwarded-By"

// forwardTimeout bounds a forwarded request: a restart answers once the pipeline restarted.
const forwardTimeout = 60 * time.Second

// forward sends r to the owner err names and copies its answer to w; it reports false, having
// written nothing, when err names no owner or r was forwarded already, and the caller answers
// err itself.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, err error) bool {
	var elsewhere *ElsewhereError
	if !errors.As(err, &elsewhere) || elsewhere.Owner == "" || r.Header.Get(forwardedHeader) != "" {
		return false
	}
	scheme := "http"
	if s.tlsConfig != nil {
		scheme = "https"
	}
	req, rerr := http.NewRequestWithContext(r.Context(), r.Method, scheme+"://"+elsewhere.Owner+r.URL.RequestURI(), nil)
	if rerr != nil {
		s.log.Warn().Err(rerr).Str("owner", elsewhere.Owner).Msg("forwarding a request to the connector's owner")
		return false
	}
	// The members of a group share their API token: the caller's credentials are the owner's.
	if auth := r.Header.Get("Authorization"); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set(forwardedHeader, r.Host)
	client := &http.Client{Timeout: forwardTimeout}
	resp, rerr := client.Do(req)
	if rerr != nil {
		s.log.Warn().Err(rerr).Str("owner", elsewhere.Owner).Str("path", r.URL.Path).Msg("forwarding a request to the connector's owner failed")
		return false
	}
	defer func() { _ = resp.Body.Close() }()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
	s.log.Debug().Str("owner", elsewhere.Owner).Str("path", r.URL.Path).Int("status", resp.StatusCode).Msg("request forwarded to the connector's owner")
	return true
}
