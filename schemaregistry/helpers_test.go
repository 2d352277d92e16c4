package schemaregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// newCluster starts an in-process fake Kafka, closed when the test ends.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// openRegistry opens a registry on c, closed when the test ends.
func openRegistry(t *testing.T, c *kfake.Cluster, opts ...Option) *Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	r, err := Open(ctx, append([]Option{WithBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// api is an HTTP client of one registry's handler.
type api struct {
	t   *testing.T
	srv *httptest.Server
}

func newAPI(t *testing.T, r *Registry) *api {
	t.Helper()
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	return &api{t: t, srv: srv}
}

// answer is one HTTP answer.
type answer struct {
	status      int
	contentType string
	body        []byte
}

// do sends a request; body, when not nil, is sent as JSON.
func (a *api) do(method, path string, body any) answer {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatalf("encoding body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatalf("request: %v", err)
	}
	req.Header.Set("Content-Type", ContentType)
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("reading answer of %s %s: %v", method, path, err)
	}
	return answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: b}
}

// ok sends a request, requires status 200 and decodes the answer into out (when not nil).
func (a *api) ok(method, path string, body, out any) {
	a.t.Helper()
	ans := a.do(method, path, body)
	if ans.status != http.StatusOK {
		a.t.Fatalf("%s %s: status %d, body %s", method, path, ans.status, ans.body)
	}
	if ans.contentType != ContentType {
		a.t.Errorf("%s %s: content type %q", method, path, ans.contentType)
	}
	if out != nil {
		if err := json.Unmarshal(ans.body, out); err != nil {
			a.t.Fatalf("%s %s: decoding %s: %v", method, path, ans.body, err)
		}
	}
}

// fails sends a request and requires Confluent's error body with the given status and code.
func (a *api) fails(method, path string, body any, status, code int) string {
	a.t.Helper()
	ans := a.do(method, path, body)
	var e struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(ans.body, &e); err != nil {
		a.t.Fatalf("%s %s: error body %q: %v", method, path, ans.body, err)
	}
	if ans.status != status || e.ErrorCode != code || e.Message == "" {
		a.t.Fatalf("%s %s: got status %d code %d message %q, want status %d code %d",
			method, path, ans.status, e.ErrorCode, e.Message, status, code)
	}
	return e.Message
}

// register registers schema under subject and returns its id.
func (a *api) register(subject, schema string) int {
	a.t.Helper()
	var out struct {
		ID int `json:"id"`
	}
	a.ok("POST", "/subjects/"+subject+"/versions", map[string]any{"schema": schema}, &out)
	if out.ID < 1 {
		a.t.Fatalf("register %s: id %d", subject, out.ID)
	}
	return out.ID
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not true after %s", what, timeout)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// Schemas used by the tests: v2 adds a field with a default (compatible under BACKWARD), bad
// adds one without (incompatible under BACKWARD).
const (
	userV1   = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"long"}]}`
	userV1b  = `{ "namespace" : "t", "name" : "User", "type" : "record", "fields" : [ { "type" : "long", "name" : "id" } ] }`
	userV2   = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}]}`
	userBad  = `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"long"},{"name":"age","type":"int"}]}`
	orderV1  = `{"type":"record","name":"Order","namespace":"t","fields":[{"name":"no","type":"string"}]}`
	stringV1 = `"string"`
)
