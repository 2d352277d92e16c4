package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return doc
}

// docPath turns a ServeMux path into its OpenAPI form ("/{$}" is "/").
func docPath(muxPath string) string {
	return strings.TrimSuffix(muxPath, "{$}")
}

// TestEveryRouteIsDocumented walks the route table: every route is an operation of the
// document, and every operation of the document is a route.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc := loadDoc(t)
	s, _ := newTestServer(t)
	served := map[string]bool{}
	for _, rt := range s.routes() {
		key := rt.method + " " + docPath(rt.path)
		served[key] = true
		item := doc.Paths.Value(docPath(rt.path))
		if item == nil || item.GetOperation(rt.method) == nil {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}
	for p, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			if !served[m+" "+p] {
				t.Errorf("openapi.json documents %s %s, which the server does not serve", m, p)
			}
		}
	}
}

// opCase is a request through the real handler that must validate against the document, its
// answer too.
type opCase struct {
	op      string // operationId
	rq      req
	code    int
	prepare func(f *fakeBackend)
	// badRequest marks a request that breaks the document on purpose (to check an error answer
	// is documented): only the answer is validated.
	badRequest bool
}

func opCases() []opCase {
	stopped := func(f *fakeBackend) { f.states["inv"] = StateStopped }
	patch := `{"offsets":[{"partition":{"server":"inv"},"offset":{"lsn":"0/16B3748"}}]}`
	return []opCase{
		{op: "getRoot", rq: req{method: "GET", target: "/"}, code: 200},
		{op: "listConnectors", rq: req{method: "GET", target: "/connectors"}, code: 200},
		{op: "listConnectors", rq: req{method: "GET", target: "/connectors?expand=status&expand=info"}, code: 200},
		{op: "createConnector", rq: req{method: "POST", target: "/connectors", body: `{"name":"new","config":{"type":"postgres"}}`}, code: 201},
		{op: "createConnector", rq: req{method: "POST", target: "/connectors", body: `{"name":"inv","config":{"type":"postgres"}}`}, code: 409},
		{op: "createConnector", rq: req{method: "POST", target: "/connectors", body: `{"name":"new","config":{}}`}, code: 400},
		{op: "createConnector", rq: req{method: "POST", target: "/connectors", body: `{"name":"new","config":{}}`,
			header: map[string]string{"Content-Type": "text/plain"}}, code: 415, badRequest: true},
		{op: "getConnector", rq: req{method: "GET", target: "/connectors/inv"}, code: 200},
		{op: "getConnector", rq: req{method: "GET", target: "/connectors/nope"}, code: 404},
		{op: "putConnector", rq: req{method: "PUT", target: "/connectors/inv", body: `{"config":{"type":"postgres"}}`}, code: 200},
		{op: "putConnector", rq: req{method: "PUT", target: "/connectors/new", body: `{"name":"new","config":{"type":"postgres"}}`}, code: 201},
		{op: "deleteConnector", rq: req{method: "DELETE", target: "/connectors/inv"}, code: 200},
		{op: "deleteConnector", rq: req{method: "DELETE", target: "/connectors/inv?purge=true"}, code: 200},
		{op: "deleteConnector", rq: req{method: "DELETE", target: "/connectors/inv?purge=maybe"}, code: 400, badRequest: true},
		{op: "getConnectorConfig", rq: req{method: "GET", target: "/connectors/inv/config"}, code: 200},
		{op: "putConnectorConfig", rq: req{method: "PUT", target: "/connectors/inv/config", body: `{"type":"postgres"}`}, code: 200},
		{op: "putConnectorConfig", rq: req{method: "PUT", target: "/connectors/new/config", body: `{"type":"postgres"}`}, code: 201},
		{op: "getConnectorStatus", rq: req{method: "GET", target: "/connectors/inv/status"}, code: 200},
		{op: "getConnectorStatus", rq: req{method: "GET", target: "/connectors/inv/status"}, code: 200,
			prepare: func(f *fakeBackend) { f.states["inv"] = StateFailed }},
		{op: "getConnectorStatus", rq: req{method: "GET", target: "/connectors/inv/status"}, code: 500,
			prepare: func(f *fakeBackend) { f.fail["Status"] = io.ErrUnexpectedEOF }},
		{op: "getConnectorStatus", rq: req{method: "GET", target: "/connectors/inv/status"}, code: 503,
			prepare: func(f *fakeBackend) { f.fail["Status"] = ErrUnavailable }},
		{op: "getConnectorStatus", rq: req{method: "GET", target: "/connectors/a%2Fb/status"}, code: 400, badRequest: true},
		{op: "pauseConnector", rq: req{method: "PUT", target: "/connectors/inv/pause"}, code: 202},
		{op: "resumeConnector", rq: req{method: "PUT", target: "/connectors/inv/resume"}, code: 202},
		{op: "stopConnector", rq: req{method: "PUT", target: "/connectors/inv/stop"}, code: 204},
		{op: "restartConnector", rq: req{method: "POST", target: "/connectors/inv/restart"}, code: 204},
		{op: "restartConnector", rq: req{method: "POST", target: "/connectors/inv/restart?includeTasks=true&onlyFailed=false"}, code: 202},
		{op: "getConnectorOffsets", rq: req{method: "GET", target: "/connectors/inv/offsets"}, code: 200},
		{op: "alterConnectorOffsets", rq: req{method: "PATCH", target: "/connectors/inv/offsets", body: patch}, code: 200, prepare: stopped},
		{op: "alterConnectorOffsets", rq: req{method: "PATCH", target: "/connectors/inv/offsets", body: patch}, code: 409},
		{op: "alterConnectorOffsets", rq: req{method: "PATCH", target: "/connectors/inv/offsets",
			body: `{"offsets":[{"partition":{"server":"inv"},"offset":null}]}`}, code: 200, prepare: stopped},
		{op: "resetConnectorOffsets", rq: req{method: "DELETE", target: "/connectors/inv/offsets"}, code: 200, prepare: stopped},
		{op: "startSnapshot", rq: req{method: "POST", target: "/connectors/inv/snapshots", body: `{"tables":["public.a"]}`}, code: 202},
		{op: "startSnapshot", rq: req{method: "POST", target: "/connectors/inv/snapshots", body: `{"tables":[]}`}, code: 400, badRequest: true},
		{op: "getCluster", rq: req{method: "GET", target: "/cluster"}, code: 200},
		{op: "getCluster", rq: req{method: "GET", target: "/cluster"}, code: 404, prepare: func(f *fakeBackend) { f.cluster = nil }},
		{op: "listConnectorPlugins", rq: req{method: "GET", target: "/connector-plugins"}, code: 200},
		{op: "validateConfig", rq: req{method: "PUT", target: "/connector-plugins/postgres/config/validate", body: `{"type":"postgres"}`}, code: 200},
		{op: "validateConfig", rq: req{method: "PUT", target: "/connector-plugins/oracle/config/validate", body: `{}`}, code: 404},
		{op: "healthz", rq: req{method: "GET", target: "/healthz"}, code: 200},
		{op: "readyz", rq: req{method: "GET", target: "/readyz"}, code: 200},
		{op: "readyz", rq: req{method: "GET", target: "/readyz"}, code: 503, prepare: func(f *fakeBackend) { f.fail["Ready"] = ErrUnavailable }},
		{op: "metrics", rq: req{method: "GET", target: "/metrics"}, code: 200},
		{op: "openapi", rq: req{method: "GET", target: "/openapi.json"}, code: 200},
	}
}

// TestServerMatchesOpenAPI sends, for every documented operation, requests through the real
// handler and validates them and their answers against the document.
func TestServerMatchesOpenAPI(t *testing.T) {
	doc := loadDoc(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	covered := map[string]bool{}
	for _, c := range opCases() {
		t.Run(c.op+" "+c.rq.method+" "+c.rq.target, func(t *testing.T) {
			s, f := newTestServer(t)
			if c.prepare != nil {
				c.prepare(f)
			}
			vr := newRequest(c.rq)
			route, params, err := router.FindRoute(vr)
			if err != nil {
				t.Fatalf("no documented route: %v", err)
			}
			if route.Operation.OperationID != c.op {
				t.Fatalf("routed to %s", route.Operation.OperationID)
			}
			in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route, Options: opts}
			if err := openapi3filter.ValidateRequest(t.Context(), in); err != nil && !c.badRequest {
				t.Fatalf("request breaks the document: %v", err)
			} else if err == nil && c.badRequest {
				t.Fatalf("the bad request validates against the document")
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, newRequest(c.rq))
			if w.Code != c.code {
				t.Fatalf("status %d, want %d: %s", w.Code, c.code, w.Body.String())
			}
			out := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in, Status: w.Code, Header: w.Header(), Options: opts,
			}
			out.SetBodyBytes(w.Body.Bytes())
			if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
				t.Fatalf("answer breaks the document: %v\n%s", err, w.Body.String())
			}
			covered[c.op] = true
		})
	}
	for _, p := range doc.Paths.Map() {
		for _, op := range p.Operations() {
			if !covered[op.OperationID] {
				t.Errorf("operation %s has no validated request", op.OperationID)
			}
		}
	}
}

// TestErrorAnswersAreDocumented checks that the answers every operation can give before its
// handler runs (401, 403, 405) validate too.
func TestErrorAnswersAreDocumented(t *testing.T) {
	doc := loadDoc(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	s, _ := newTestServer(t, WithToken("0123456789abcdef0123"))
	for _, rt := range s.routes() {
		for _, c := range []struct {
			header map[string]string
			code   int
		}{
			{nil, 401},
			{map[string]string{"Authorization": "Bearer 0123456789abcdef0123", "Sec-Fetch-Site": "cross-site"}, 403},
		} {
			target := strings.NewReplacer("{name}", "inv", "{type}", "postgres", "{$}", "").Replace(rt.path)
			rq := req{method: rt.method, target: target, header: c.header}
			vr := newRequest(rq)
			route, params, err := router.FindRoute(vr)
			if err != nil {
				t.Fatalf("%s %s: %v", rt.method, target, err)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, newRequest(rq))
			want := c.code
			if target == "/healthz" {
				want = 200 // open, and GET is never cross-origin refused
			} else if c.code == 403 && slices.Contains([]string{"GET", "HEAD"}, rt.method) {
				want = 200
			}
			if w.Code != want && !(want == 200 && w.Code < 300) {
				t.Errorf("%s %s: status %d, want %d", rt.method, target, w.Code, want)
				continue
			}
			out := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route, Options: opts},
				Status:                 w.Code, Header: w.Header(), Options: opts,
			}
			out.SetBodyBytes(w.Body.Bytes())
			if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
				t.Errorf("%s %s %d: %v", rt.method, target, w.Code, err)
			}
		}
	}
	// A 405 on a documented path.
	vr := newRequest(req{method: "POST", target: "/connectors/inv/pause"})
	if _, _, err := router.FindRoute(vr); err != routers.ErrMethodNotAllowed {
		t.Fatalf("router: %v", err)
	}
}

// newRequest builds the http.Request of rq as do sends it.
func newRequest(rq req) *http.Request {
	var body io.Reader
	if rq.body != "" {
		body = bytes.NewReader([]byte(rq.body))
	}
	r := httptest.NewRequest(rq.method, rq.target, body)
	r.Host = testHost
	if rq.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range rq.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	return r
}
