package api

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// A restart sent to a member that does not own the connector is forwarded to the owner its
// error names, and the owner's answer is the caller's.
func TestRestartIsForwardedToTheOwner(t *testing.T) {
	owner, of := newTestServer(t)
	ts := httptest.NewServer(owner.Handler())
	defer ts.Close()
	s, f := newTestServer(t)
	f.fail["Restart"] = &ElsewhereError{Owner: strings.TrimPrefix(ts.URL, "http://"), Err: fmt.Errorf("%w: connector inv runs elsewhere", ErrConflict)}
	h := s.Handler()

	w := do(t, h, req{method: "POST", target: "/connectors/inv/restart"})
	wantStatus(t, w, 204)
	if of.restarts["inv"] != 1 || f.restarts["inv"] != 0 {
		t.Fatalf("restarts: owner %d, asked member %d", of.restarts["inv"], f.restarts["inv"])
	}
	w = do(t, h, req{method: "POST", target: "/connectors/inv/restart?includeTasks=true"})
	wantStatus(t, w, 202)
	if st := decodeInto[ConnectorStatus](t, w.Body.String()); st.Name != "inv" || of.restarts["inv"] != 2 {
		t.Fatalf("status %+v, owner's restarts %d", st, of.restarts["inv"])
	}
	// The owner's errors are the caller's.
	w = do(t, h, req{method: "POST", target: "/connectors/nope/restart"})
	wantStatus(t, w, 404)

	// A request forwarded already is answered where it arrives: two members that each think
	// the other owns the connector do not send it back and forth.
	w = do(t, h, req{method: "POST", target: "/connectors/inv/restart", header: map[string]string{forwardedHeader: "other:8083"}})
	wantStatus(t, w, 409)
	if e := errorBody(t, w); !strings.Contains(e.Message, "runs elsewhere") {
		t.Fatalf("message %q", e.Message)
	}
	if of.restarts["inv"] != 2 {
		t.Fatalf("owner's restarts %d after a request forwarded twice", of.restarts["inv"])
	}
}

// Without a known owner, or when the owner does not answer, the member answers the conflict.
func TestRestartWithoutReachableOwnerIsAConflict(t *testing.T) {
	s, f := newTestServer(t)
	h := s.Handler()
	f.fail["Restart"] = &ElsewhereError{Err: fmt.Errorf("%w: connector inv runs on another member", ErrConflict)}
	wantStatus(t, do(t, h, req{method: "POST", target: "/connectors/inv/restart"}), 409)

	ts := httptest.NewServer(nil)
	gone := strings.TrimPrefix(ts.URL, "http://")
	ts.Close()
	f.fail["Restart"] = &ElsewhereError{Owner: gone, Err: fmt.Errorf("%w: connector inv runs on %s", ErrConflict, gone)}
	w := do(t, h, req{method: "POST", target: "/connectors/inv/restart"})
	wantStatus(t, w, 409)
	if e := errorBody(t, w); !strings.Contains(e.Message, gone) {
		t.Fatalf("message %q", e.Message)
	}
}
