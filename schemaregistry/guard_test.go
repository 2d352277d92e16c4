package schemaregistry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format/avro"
)

// guardReq is one request to the handler, with every header the guard looks at.
type guardReq struct {
	method, target, body string
	header               map[string]string // "" values remove the header
}

// serve sends q to h as a client on loopback would, with Host 127.0.0.1:18081 and Content-Type
// ContentType unless q says otherwise.
func serve(t *testing.T, h http.Handler, q guardReq) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), q.method, q.target, strings.NewReader(q.body))
	req.Host = "127.0.0.1:18081"
	req.Header.Set("Content-Type", ContentType)
	for k, v := range q.header {
		switch {
		case k == "Host":
			req.Host = v
		case v == "":
			req.Header.Del(k)
		default:
			req.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

const setNone = `{"compatibility":"NONE"}`

// TestGuardRefusesHostileRequests sends requests a web page could make a browser send to the
// registry on loopback, or a rebound host name could carry: each is answered 4xx in Confluent's
// error shape, and none of them changes anything.
func TestGuardRefusesHostileRequests(t *testing.T) {
	r := openRegistry(t, newCluster(t))
	h := r.Handler()
	register := `{"schema":` + jsonString(userV1) + `}`
	for _, c := range []struct {
		name   string
		q      guardReq
		status int
		want   string
	}{
		{"the issue's page: foreign Host, cross-site Origin, text/plain",
			guardReq{"PUT", "/config", setNone, map[string]string{"Host": "evil.example", "Origin": "http://evil.example", "Content-Type": "text/plain"}},
			403, "loopback"},
		{"foreign Host (DNS rebinding)", guardReq{"GET", "/subjects", "", map[string]string{"Host": "evil.example:18081"}}, 403, "loopback"},
		{"foreign Host that resolves to loopback", guardReq{"DELETE", "/subjects/s", "", map[string]string{"Host": "127.0.0.1.nip.io:18081"}}, 403, "loopback"},
		{"cross-site browser request (Sec-Fetch-Site)",
			guardReq{"PUT", "/config", setNone, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}}, 403, "cross-origin"},
		{"cross-origin browser request (Origin only)",
			guardReq{"PUT", "/config", setNone, map[string]string{"Origin": "http://evil.example"}}, 403, "cross-origin"},
		{"cross-site delete", guardReq{"DELETE", "/subjects/s", "", map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403, "cross-origin"},
		{"text/plain body", guardReq{"PUT", "/config", setNone, map[string]string{"Content-Type": "text/plain"}}, 415, "text/plain is not supported"},
		{"text/plain with charset", guardReq{"POST", "/subjects/s/versions", register, map[string]string{"Content-Type": "text/plain;charset=UTF-8"}}, 415, "not supported"},
		{"form body (curl -d default)", guardReq{"PUT", "/config/s", setNone, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "send " + ContentType},
		{"multipart form", guardReq{"POST", "/subjects/s/versions", register, map[string]string{"Content-Type": "multipart/form-data; boundary=x"}}, 415, "not supported"},
		{"no Content-Type (an untyped Blob)", guardReq{"PUT", "/config", setNone, map[string]string{"Content-Type": ""}}, 415, "no Content-Type"},
		{"latin1 charset", guardReq{"PUT", "/config", setNone, map[string]string{"Content-Type": "application/json; charset=latin1"}}, 415, "charset"},
		{"malformed Content-Type", guardReq{"PUT", "/config", setNone, map[string]string{"Content-Type": "application/json; ="}}, 415, "malformed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := serve(t, h, c.q)
			var e struct {
				ErrorCode int    `json:"error_code"`
				Message   string `json:"message"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("answer %d %q is not Confluent's error body: %v", w.Code, w.Body, err)
			}
			if w.Code != c.status || e.ErrorCode != c.status || !strings.Contains(e.Message, c.want) {
				t.Errorf("answer %d code %d %q, want %d with %q", w.Code, e.ErrorCode, e.Message, c.status, c.want)
			}
		})
	}
	if got := r.globalLevel(); got != avro.CompatBackward {
		t.Errorf("global level %s after the hostile requests, want BACKWARD", got)
	}
	if subjects := r.subjects(true); len(subjects) != 0 {
		t.Errorf("subjects %v after the hostile requests, want none", subjects)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestGuardLetsClientsThrough sends what Confluent's clients and tools send: every content type
// Confluent accepts, loopback Host names, same-origin browser requests, reads without a body.
func TestGuardLetsClientsThrough(t *testing.T) {
	r := openRegistry(t, newCluster(t))
	h := r.Handler()
	register := `{"schema":` + jsonString(userV1) + `}`
	for _, c := range []struct {
		name string
		q    guardReq
	}{
		{"Confluent's clients (Java, Python, Go, srclient)", guardReq{"POST", "/subjects/a/versions", register, nil}},
		{"generic registry type", guardReq{"POST", "/subjects/b/versions", register, map[string]string{"Content-Type": "application/vnd.schemaregistry+json"}}},
		{"plain JSON", guardReq{"POST", "/subjects/c/versions", register, map[string]string{"Content-Type": "application/json"}}},
		{"JSON with charset", guardReq{"POST", "/subjects/d/versions", register, map[string]string{"Content-Type": "application/json; charset=utf-8"}}},
		{"octet-stream, Confluent's default for a request", guardReq{"POST", "/subjects/e/versions", register, map[string]string{"Content-Type": "application/octet-stream"}}},
		{"lookup", guardReq{"POST", "/subjects/a", register, nil}},
		{"compatibility check", guardReq{"POST", "/compatibility/subjects/a/versions/latest", register, nil}},
		{"config", guardReq{"PUT", "/config/a", `{"compatibility":"FULL"}`, nil}},
		{"read without Content-Type", guardReq{"GET", "/subjects", "", map[string]string{"Content-Type": ""}}},
		{"delete without Content-Type", guardReq{"DELETE", "/subjects/b", "", map[string]string{"Content-Type": ""}}},
		{"Host localhost", guardReq{"GET", "/schemas/ids/1", "", map[string]string{"Host": "localhost:18081"}}},
		{"Host [::1]", guardReq{"GET", "/config", "", map[string]string{"Host": "[::1]:18081"}}},
		{"Host without port", guardReq{"GET", "/subjects", "", map[string]string{"Host": "127.0.0.1"}}},
		{"same-origin browser request", guardReq{"PUT", "/config/c", `{"compatibility":"NONE"}`, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:18081"}}},
		{"typed by hand (Sec-Fetch-Site none)", guardReq{"GET", "/subjects", "", map[string]string{"Sec-Fetch-Site": "none"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if w := serve(t, h, c.q); w.Code != http.StatusOK {
				t.Errorf("answer %d %s, want 200", w.Code, w.Body)
			}
		})
	}
}

// TestGuardWithToken: a registry with a token answers only the requests that carry it, as a
// bearer token or as the basic authentication password, whatever their Host.
func TestGuardWithToken(t *testing.T) {
	const token = "0123456789abcdef-registry"
	r := openRegistry(t, newCluster(t), WithToken(token))
	h := r.Handler()
	for _, c := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no credential", nil, 401},
		{"wrong bearer token", map[string]string{"Authorization": "Bearer 0123456789abcdef-registrx"}, 401},
		{"token prefix", map[string]string{"Authorization": "Bearer 0123456789abcdef"}, 401},
		{"wrong scheme", map[string]string{"Authorization": "Token " + token}, 401},
		{"basic with a wrong password", map[string]string{"Authorization": basic("u", "nope")}, 401},
		{"no credential on a foreign Host", map[string]string{"Host": "registry.internal:18081"}, 401},
		{"bearer token", map[string]string{"Authorization": "Bearer " + token}, 200},
		{"bearer token, lower-case scheme", map[string]string{"Authorization": "bearer " + token}, 200},
		{"basic.auth.user.info", map[string]string{"Authorization": basic("cdcd", token)}, 200},
		{"bearer token on a foreign Host", map[string]string{"Authorization": "Bearer " + token, "Host": "registry.internal:18081"}, 200},
		{"bearer token, cross-site browser request", map[string]string{"Authorization": "Bearer " + token, "Sec-Fetch-Site": "cross-site"}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := serve(t, h, guardReq{"GET", "/subjects", "", c.header})
			if w.Code != c.status {
				t.Errorf("answer %d %s, want %d", w.Code, w.Body, c.status)
			}
			if c.status == 401 && !strings.Contains(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a WWW-Authenticate challenge: %v", w.Header())
			}
		})
	}
	// A cross-site write is refused even with the token (a browser holding basic credentials).
	w := serve(t, h, guardReq{"PUT", "/config", setNone, map[string]string{"Authorization": basic("u", token), "Sec-Fetch-Site": "cross-site"}})
	if w.Code != 403 {
		t.Errorf("cross-site write with the token: %d %s, want 403", w.Code, w.Body)
	}

	// cdcd's own client sends the token (a bearer token), and the encoder registers through it.
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client, err := avro.ClientConfig{URL: srv.URL, BearerAuthToken: token}.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	e, err := avro.NewEncoder(avro.WithTopicPrefix("cdc"), avro.WithSource(postgres.SourceBlock),
		avro.WithRegistry(avro.NewSRClient(srv.URL, client)))
	if err != nil {
		t.Fatal(err)
	}
	change := &decoder.Change{Op: decoder.OpCreate,
		Table: &decoder.Table{Namespace: "public", Name: "t", Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt32, Key: true}}},
		After: []decoder.Value{{State: decoder.ValueSet, Int: 1}}}
	if _, _, _, err := e.Encode(t.Context(), change); err != nil {
		t.Fatalf("encoding through a client with the token: %v", err)
	}
	// Without it the failure says why, and is not retried as a passing outage.
	e, err = avro.NewEncoder(avro.WithTopicPrefix("cdc2"), avro.WithSource(postgres.SourceBlock),
		avro.WithRegistry(avro.NewSRClient(srv.URL, nil)))
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = e.Encode(t.Context(), change)
	if err == nil || !strings.Contains(err.Error(), "token") || avro.IsRetryable(err) {
		t.Errorf("encoding without the token: %v (retryable %v), want a permanent error about the token", err, avro.IsRetryable(err))
	}
}

func basic(user, password string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, password)
	return req.Header.Get("Authorization")
}

// TestListenNeedsTokenOffLoopback: Listen refuses an address reachable from the network when
// the registry has no token, and Open refuses a token that can be guessed.
func TestListenNeedsTokenOffLoopback(t *testing.T) {
	c := newCluster(t)
	open := openRegistry(t, c)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		if ln, err := open.Listen(addr); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "token") {
			if ln != nil {
				_ = ln.Close()
			}
			t.Errorf("Listen(%q) without a token: %v, want ErrInvalidOption naming the token", addr, err)
		}
	}
	ln, err := open.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen on loopback: %v", err)
	}
	_ = ln.Close()
	guarded := openRegistry(t, c, WithToken("0123456789abcdef"))
	ln, err = guarded.Listen("0.0.0.0:0")
	if err != nil {
		t.Fatalf("Listen on every interface with a token: %v", err)
	}
	_ = ln.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, tok := range []string{"short", "0123456789 abcdef"} {
		if r, err := Open(ctx, WithBrokers(c.ListenAddrs()...), WithToken(tok)); !errors.Is(err, ErrInvalidOption) {
			if r != nil {
				r.Close()
			}
			t.Errorf("Open with token %q: %v, want ErrInvalidOption", tok, err)
		}
	}
}
