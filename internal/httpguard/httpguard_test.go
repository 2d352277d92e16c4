package httpguard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr  string
		token bool
		want  string // "" for accepted; else a substring of the error
	}{
		{"127.0.0.1:18081", false, ""},
		{"127.9.9.9:1", false, ""},
		{"[::1]:18081", false, ""},
		{"localhost:0", false, ""},
		{"LOCALHOST:0", false, ""},
		{"0.0.0.0:18081", false, "token is required"},
		{":18081", false, "token is required"},
		{"[::]:18081", false, "token is required"},
		{"10.0.0.5:18081", false, "token is required"},
		{"registry.internal:18081", false, "token is required"},
		{"0.0.0.0:18081", true, ""},
		{"127.0.0.1", false, "listen address"},
		{"127.0.0.1:", false, "no port"},
	} {
		err := CheckListen(c.addr, c.token)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckListen(%q, token %v) = %v, want %q", c.addr, c.token, err, c.want)
		}
	}
}

func TestToken(t *testing.T) {
	if err := CheckToken("0123456789abcdef"); err != nil {
		t.Errorf("a 16-byte token: %v", err)
	}
	for _, bad := range []string{"", "short", "0123456789 abcdef", "0123456789abcdef\n"} {
		if CheckToken(bad) == nil {
			t.Errorf("CheckToken(%q) accepted", bad)
		}
	}
	var unset Token
	if unset.IsSet() || unset.Matches("") {
		t.Error("the zero Token matches")
	}
	tok := NewToken("0123456789abcdef")
	req := func(auth string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	basic := req("")
	basic.SetBasicAuth("any", "0123456789abcdef")
	for _, c := range []struct {
		r              *http.Request
		bearer, either bool
	}{
		{req(""), false, false},
		{req("Bearer 0123456789abcdef"), true, true},
		{req("bearer  0123456789abcdef "), true, true},
		{req("Bearer 0123456789abcde"), false, false},
		{req("Basic 0123456789abcdef"), false, false},
		{basic, false, true},
	} {
		if got := tok.Bearer(c.r); got != c.bearer {
			t.Errorf("Bearer(%q) = %v", c.r.Header.Get("Authorization"), got)
		}
		if got := tok.BearerOrBasic(c.r); got != c.either {
			t.Errorf("BearerOrBasic(%q) = %v", c.r.Header.Get("Authorization"), got)
		}
	}
}

func TestCheckContentType(t *testing.T) {
	allowed := []string{"application/vnd.schemaregistry.v1+json", "application/json"}
	for _, c := range []struct {
		ct, want string // want "" for accepted
	}{
		{"application/vnd.schemaregistry.v1+json", ""},
		{"application/json; charset=UTF-8", ""},
		{"Application/JSON", ""},
		{"", "no Content-Type: send Content-Type: application/vnd.schemaregistry.v1+json"},
		{"text/plain", "text/plain is not supported"},
		{"application/x-www-form-urlencoded", "not supported"},
		{"application/json; charset=latin1", "charset latin1"},
		{"application/json; =", "malformed"},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		err := CheckContentType(r, allowed...)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckContentType(%q) = %v, want %q", c.ct, err, c.want)
		}
	}
}
