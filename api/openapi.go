package api

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the OpenAPI 3 document of this API, hand-written beside the code and checked
// against the server by the tests (openapi_test.go).
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3 document served at GET /openapi.json. The caller must not
// modify the slice.
func OpenAPI() []byte { return openAPIDoc }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDoc)
}
