// Package httpguard holds the defences cdcd's HTTP servers share (the REST API and the embedded
// schema registry), which both listen on loopback without a credential by default:
//
//   - the Host check: without a token, a request must name loopback in its Host header, so that
//     a web page served under a foreign name that resolves to 127.0.0.1 (DNS rebinding) cannot
//     reach the server from the user's browser;
//   - the bearer token, compared in constant time, and the rule that a server reachable from the
//     network (a non-loopback listen address) needs one;
//   - the content-type check: a request body must say it is JSON, because a browser sends a
//     cross-origin text/plain, form or untyped body without asking (no CORS preflight).
//
// Cross-origin browser requests are refused with net/http's CrossOriginProtection, which each
// server holds. The package decides; each server answers in its own error format.
package httpguard

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
)

// MinTokenBytes is the shortest bearer token accepted: a short token can be guessed.
const MinTokenBytes = 16

// CheckToken tells why token cannot be a bearer token: shorter than MinTokenBytes, or holding
// spaces or control characters (which an Authorization header cannot carry intact).
func CheckToken(token string) error {
	if len(token) < MinTokenBytes {
		return fmt.Errorf("bearer token shorter than %d bytes", MinTokenBytes)
	}
	if strings.IndexFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return errors.New("bearer token holds spaces or control characters")
	}
	return nil
}

// CheckListen refuses a listen address (host:port) that is not loopback when no token is set:
// a server without a credential must not be reachable from the network.
func CheckListen(addr string, tokenSet bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if port == "" {
		return fmt.Errorf("listen address %q has no port", addr)
	}
	if !tokenSet && !IsLoopbackHost(host) {
		return fmt.Errorf("listen address %q is not loopback: a bearer token is required", addr)
	}
	return nil
}

// IsLoopbackHost tells whether host (no port) names only the loopback interface. An empty host
// ("" of ":8083") means every interface.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

// HostOnly strips the port from a Host header value.
func HostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// LoopbackRequest tells whether r's Host header names the loopback interface.
func LoopbackRequest(r *http.Request) bool { return IsLoopbackHost(HostOnly(r.Host)) }

// Token is a bearer token, kept as its digest: digests of equal length are compared in constant
// time, so neither the token's content nor its length leaks through timing. The zero Token is
// unset and matches nothing.
type Token struct {
	sum [sha256.Size]byte
	set bool
}

// NewToken returns the Token of s; an empty s is unset.
func NewToken(s string) Token {
	if s == "" {
		return Token{}
	}
	return Token{sum: sha256.Sum256([]byte(s)), set: true}
}

// IsSet tells whether a token was given.
func (t Token) IsSet() bool { return t.set }

// Matches tells whether s is the token.
func (t Token) Matches(s string) bool {
	if !t.set {
		return false
	}
	sum := sha256.Sum256([]byte(s))
	return subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1
}

// Bearer tells whether r carries the token as "Authorization: Bearer <token>".
func (t Token) Bearer(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && t.Matches(strings.TrimSpace(tok))
}

// BearerOrBasic tells whether r carries the token as a bearer token, or as the password of
// HTTP basic authentication (any user name), which is how most schema registry clients send a
// credential (basic.auth.user.info).
func (t Token) BearerOrBasic(r *http.Request) bool {
	if t.Bearer(r) {
		return true
	}
	_, password, ok := r.BasicAuth()
	return ok && t.Matches(password)
}

// CheckContentType refuses a request whose Content-Type is missing, malformed, not one of
// allowed (media types, without parameters), or names a charset other than UTF-8. The error
// says what to send instead (the first of allowed).
func CheckContentType(r *http.Request, allowed ...string) error {
	want := "application/json"
	if len(allowed) > 0 {
		want = allowed[0]
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return fmt.Errorf("the request has a body but no Content-Type: send Content-Type: %s", want)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return errors.New("malformed Content-Type header")
	}
	found := false
	for _, a := range allowed {
		if strings.EqualFold(mt, a) {
			found = true
			break
		}
	}
	if !found {
		return fmt.Errorf("Content-Type %s is not supported: send %s", mt, want)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("charset %s is not supported: send UTF-8", cs)
	}
	return nil
}
