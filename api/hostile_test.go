package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// hostile is one malformed or hostile request and what the answer must be.
type hostile struct {
	name    string
	rq      req
	code    int
	message string // a substring of the error message
}

func hostileRequests() []hostile {
	big := `{"name":"a","config":{"k":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}}`
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	long := strings.Repeat("a", MaxNameLen+1)
	return []hostile{
		{"truncated JSON", req{method: "POST", target: "/connectors", body: `{"name":"a","config":{"p.password":"s3cret"`}, 400, "ends inside a value"},
		{"syntax error", req{method: "POST", target: "/connectors", body: `{"name":"a","config":{"type":"postgres"},}`}, 400, "malformed JSON at byte"},
		{"unknown field", req{method: "POST", target: "/connectors", body: `{"name":"a","config":{},"initial_state":"STOPPED"}`}, 400, `unknown field "initial_state"`},
		{"number as config value", req{method: "POST", target: "/connectors", body: `{"name":"a","config":{"p.password":"s3cret","port":5432}}`}, 400, `"config.port" is a JSON number; a JSON string is expected`},
		{"array as config", req{method: "POST", target: "/connectors", body: `{"name":"a","config":["type"]}`}, 400, `"config" is a JSON array; a JSON object is expected`},
		{"number as name", req{method: "POST", target: "/connectors", body: `{"name":5,"config":{}}`}, 400, `"name" is a JSON number`},
		{"two JSON values", req{method: "POST", target: "/connectors", body: `{"name":"a","config":{"type":"x"}} {}`}, 400, "data after its JSON value"},
		{"trailing garbage", req{method: "POST", target: "/connectors", body: `{"name":"a","config":{"type":"x"}}xyz`}, 400, "after its JSON value"},
		{"empty body", req{method: "PUT", target: "/connectors/inv/config", header: map[string]string{"Content-Type": "application/json"}}, 400, "body is empty"},
		{"null body", req{method: "POST", target: "/connectors", body: `null`}, 400, `"name" is required`},
		{"null config", req{method: "PUT", target: "/connectors/inv/config", body: `null`}, 400, "configuration is missing"},
		{"array as config body", req{method: "PUT", target: "/connectors/inv/config", body: `["a"]`}, 400, "the body is a JSON array; a JSON object is expected"},
		{"deeply nested", req{method: "PUT", target: "/connectors/inv/config", body: deep}, 400, "JSON"},
		{"empty config key", req{method: "PUT", target: "/connectors/inv/config", body: `{"":"x"}`}, 400, "empty key"},
		{"huge body", req{method: "POST", target: "/connectors", body: big}, 413, "larger than"},
		{"text/plain body", req{method: "POST", target: "/connectors", body: `{"name":"a","config":{}}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "text/plain is not supported"},
		{"form body (curl -d default)", req{method: "PUT", target: "/connectors/inv/config", body: `{"type":"x"}`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "send application/json"},
		{"no Content-Type", req{method: "PATCH", target: "/connectors/inv/offsets", body: `{"offsets":[]}`, header: map[string]string{"Content-Type": ""}}, 415, "no Content-Type"},
		{"latin1 charset", req{method: "POST", target: "/connectors", body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=latin1"}}, 415, "charset"},
		{"malformed Content-Type", req{method: "POST", target: "/connectors", body: `{}`, header: map[string]string{"Content-Type": "application/json; ="}}, 415, "malformed Content-Type"},
		{"name too long", req{method: "GET", target: "/connectors/" + long}, 400, "at most 128"},
		{"encoded slash in name", req{method: "GET", target: "/connectors/a%2Fb/status"}, 400, "character '/'"},
		{"NUL in name", req{method: "GET", target: "/connectors/a%00b"}, 400, "character '\\x00'"},
		{"space in name", req{method: "DELETE", target: "/connectors/a%20b"}, 400, "character ' '"},
		{"non-ASCII name", req{method: "GET", target: "/connectors/%C3%A9t%C3%A9"}, 400, "only letters, digits"},
		{"dot-dot name", req{method: "GET", target: "/connectors/%2e%2e"}, 400, "not canonical"},
		{"dot-dot segment", req{method: "GET", target: "/connectors/x/../inv"}, 400, "not canonical"},
		{"double slash", req{method: "GET", target: "//connectors"}, 400, "not canonical"},
		{"bad name in body", req{method: "POST", target: "/connectors", body: `{"name":"a/b","config":{"type":"x"}}`}, 400, "character '/'"},
		{"bad plugin name", req{method: "PUT", target: "/connector-plugins/" + long + "/config/validate", body: `{}`}, 400, "at most 128"},
		{"unknown path", req{method: "GET", target: "/nope"}, 404, "no such endpoint"},
		{"unimplemented Kafka Connect path", req{method: "GET", target: "/connectors/inv/tasks"}, 404, "no such endpoint"},
		{"trailing slash", req{method: "GET", target: "/connectors/"}, 404, "no such endpoint"},
		{"wrong method on collection", req{method: "DELETE", target: "/connectors"}, 405, "not allowed"},
		{"POST on pause", req{method: "POST", target: "/connectors/inv/pause"}, 405, "allowed: PUT"},
		{"empty offsets", req{method: "PATCH", target: "/connectors/inv/offsets", body: `{"offsets":[]}`}, 400, "non-empty list"},
		{"offset as string", req{method: "PATCH", target: "/connectors/inv/offsets", body: `{"offsets":[{"partition":{"server":"x"},"offset":"0/1"}]}`}, 400, "object or null"},
		{"offset without partition", req{method: "PATCH", target: "/connectors/inv/offsets", body: `{"offsets":[{"offset":{"lsn":"0/1"}}]}`}, 400, `"partition" must be`},
		{"offsets unknown field", req{method: "PATCH", target: "/connectors/inv/offsets", body: `{"offsets":[{"partition":{"s":"x"},"offset":{},"when":1}]}`}, 400, `unknown field "when"`},
		{"no tables", req{method: "POST", target: "/connectors/inv/snapshots", body: `{"tables":[]}`}, 400, "non-empty list"},
		{"duplicate tables", req{method: "POST", target: "/connectors/inv/snapshots", body: `{"tables":["a.b","a.b"]}`}, 400, "repeats"},
		{"numeric tables", req{method: "POST", target: "/connectors/inv/snapshots", body: `{"tables":[1]}`}, 400, `"tables" is a JSON number`},
		{"config name differs", req{method: "PUT", target: "/connectors/inv/config", body: `{"name":"other","type":"postgres"}`}, 400, "differs"},
		{"body name differs from path", req{method: "PUT", target: "/connectors/inv", body: `{"name":"other","config":{}}`}, 400, "differs"},
		{"bad restart parameter", req{method: "POST", target: "/connectors/inv/restart?includeTasks=maybe"}, 400, "true or false"},
		{"bad expand", req{method: "GET", target: "/connectors?expand=everything"}, 400, "status or info"},
		{"foreign Host without token (DNS rebinding)", req{method: "GET", target: "/connectors", header: map[string]string{"Host": "evil.example:8083"}}, 403, "loopback"},
		{"cross-site browser POST", req{method: "POST", target: "/connectors/inv/restart", header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403, "cross-origin"},
		{"cross-origin Origin header", req{method: "PUT", target: "/connectors/inv/stop", header: map[string]string{"Origin": "http://evil.example"}}, 403, "cross-origin"},
	}
}

// TestHostileRequests sends each malformed or hostile request, checks it gets its 4xx with a
// JSON error naming the problem, and that a normal request works after it. Nothing it sends
// may show in an answer or the log when it is a config value.
func TestHostileRequests(t *testing.T) {
	var logs bytes.Buffer
	s, f := newTestServer(t, WithLogger(zerolog.New(&logs).Level(zerolog.DebugLevel)))
	h := s.Handler()
	cases := hostileRequests()
	if len(cases) < 30 {
		t.Fatalf("only %d hostile requests", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(t, h, c.rq)
			if w.Code != c.code {
				t.Fatalf("status %d, want %d; body %s", w.Code, c.code, w.Body.String())
			}
			e := errorBody(t, w)
			if !strings.Contains(e.Message, c.message) {
				t.Fatalf("message %q lacks %q", e.Message, c.message)
			}
			if c.code == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
				t.Fatalf("405 without Allow")
			}
			if strings.Contains(w.Body.String(), "s3cret") || len(w.Body.String()) > 1000 {
				t.Fatalf("the answer echoes the request: %.200s", w.Body.String())
			}
			ok := do(t, h, req{method: "GET", target: "/connectors/inv/status"})
			if ok.Code != http.StatusOK {
				t.Fatalf("a normal request after it: %d %s", ok.Code, ok.Body.String())
			}
		})
	}
	if len(f.lastConfig) != 0 {
		t.Fatalf("a hostile request reached PutConnector: %v", f.lastConfig)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatalf("a config value was logged")
	}
}

func TestTokenRequired(t *testing.T) {
	const token = "0123456789abcdef-token"
	s, _ := newTestServer(t, WithAddr("0.0.0.0:8083"), WithToken(token))
	h := s.Handler()
	for _, c := range []struct {
		name, auth, target string
	}{
		{"missing", "", "/connectors"},
		{"wrong", "Bearer 0123456789abcdef-tokeN", "/connectors"},
		{"prefix of the token", "Bearer 0123456789abcdef", "/connectors"},
		{"basic scheme", "Basic " + token, "/connectors"},
		{"no scheme", token, "/connectors"},
		{"before 404", "", "/no/such/path"},
		{"readyz", "", "/readyz"},
		{"metrics", "", "/metrics"},
		{"openapi", "", "/openapi.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := do(t, h, req{method: "GET", target: c.target, header: map[string]string{"Authorization": c.auth, "Host": "10.0.0.5:8083"}})
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d", w.Code)
			}
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
			}
			errorBody(t, w)
			ok := do(t, h, req{method: "GET", target: "/connectors", header: map[string]string{"Authorization": "Bearer " + token, "Host": "10.0.0.5:8083"}})
			if ok.Code != http.StatusOK {
				t.Fatalf("with the token: %d", ok.Code)
			}
		})
	}
	// Liveness needs no token.
	if w := do(t, h, req{method: "GET", target: "/healthz", header: map[string]string{"Host": "10.0.0.5:8083"}}); w.Code != 200 {
		t.Fatalf("healthz without token: %d", w.Code)
	}
	// A case-insensitive scheme, as RFC 7235 allows.
	if w := do(t, h, req{method: "GET", target: "/connectors", header: map[string]string{"Authorization": "bearer " + token}}); w.Code != 200 {
		t.Fatalf("lower-case scheme: %d", w.Code)
	}
}

func TestPanicIsA500AndTheServerGoesOn(t *testing.T) {
	s, f := newTestServer(t)
	h := s.Handler()
	// A nil map in the fake makes Snapshot panic: the server answers 500 and goes on.
	f.snapshots = nil
	w := do(t, h, req{method: "POST", target: "/connectors/inv/snapshots", body: `{"tables":["a.b"]}`})
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	errorBody(t, w)
	if ok := do(t, h, req{method: "GET", target: "/connectors"}); ok.Code != 200 {
		t.Fatalf("after a panic: %d", ok.Code)
	}
}

// FuzzRequestBodies sends arbitrary bodies to every endpoint that reads one: the answer is
// always a 2xx or a JSON 4xx, never a panic or a 5xx, and never echoes a config value.
func FuzzRequestBodies(f *testing.F) {
	f.Add(uint8(0), `{"name":"a","config":{"type":"postgres"}}`)
	f.Add(uint8(1), `{"type":"postgres","postgres.password":"s3cret"}`)
	f.Add(uint8(2), `{"offsets":[{"partition":{"server":"x"},"offset":{"lsn":"0/1"}}]}`)
	f.Add(uint8(3), `{"tables":["public.a"]}`)
	f.Add(uint8(4), `{"config":{"a":"b"}}`)
	targets := []struct{ method, target string }{
		{"POST", "/connectors"},
		{"PUT", "/connectors/inv/config"},
		{"PATCH", "/connectors/inv/offsets"},
		{"POST", "/connectors/inv/snapshots"},
		{"PUT", "/connectors/inv"},
		{"PUT", "/connector-plugins/postgres/config/validate"},
	}
	s, fake := newTestServer(f)
	fake.states["inv"] = StateStopped
	h := s.Handler()
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		tg := targets[int(which)%len(targets)]
		w := do(t, h, req{method: tg.method, target: tg.target, body: body,
			header: map[string]string{"Content-Type": "application/json"}})
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", tg.method, tg.target, body, w.Code, w.Body.String())
		}
		if w.Code >= 400 {
			errorBody(t, w)
			if strings.Contains(body, "s3cret") && strings.Contains(w.Body.String(), "s3cret") {
				t.Fatalf("secret echoed: %s", w.Body.String())
			}
		}
	})
}
