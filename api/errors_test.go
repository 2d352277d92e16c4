package api

import (
	"fmt"
	"strings"
	"testing"
)

// A request the daemon's own servers refuse for good (Kafka denying the config topic's WRITE)
// is answered 500 with its message, not 503: a client takes 503 for "retry later", and no
// retry mends a missing ACL. A Backend that cannot serve now still answers 503.
func TestRefusedIsAnswered500WithItsMessage(t *testing.T) {
	s, f := newTestServer(t)
	h := s.Handler()
	const why = "Kafka denied cdcd WRITE on the config topic: an ACL is missing"
	f.fail["PutConnector"] = fmt.Errorf("%w: %s: TOPIC_AUTHORIZATION_FAILED", ErrRefused, why)
	w := do(t, h, req{method: "PUT", target: "/connectors/inv/config", body: `{"type":"postgres"}`})
	wantStatus(t, w, 500)
	if !strings.Contains(w.Body.String(), why) {
		t.Errorf("body %s does not carry the refusal", w.Body.String())
	}
	f.fail["PutConnector"] = fmt.Errorf("%w: Kafka is unreachable", ErrUnavailable)
	w = do(t, h, req{method: "PUT", target: "/connectors/inv/config", body: `{"type":"postgres"}`})
	wantStatus(t, w, 503)
}
