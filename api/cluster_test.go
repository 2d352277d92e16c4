package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClusterRoute(t *testing.T) {
	s, _ := newTestServer(t)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/cluster", nil))
	var c Cluster
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &c) != nil || c.Generation != 3 || len(c.Members) != 1 {
		t.Fatalf("GET /cluster: %d %s", w.Code, w.Body)
	}

	// A daemon alone has no cluster.
	alone, _ := newTestServer(t, WithCluster(nil))
	w = httptest.NewRecorder()
	alone.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/cluster", nil))
	if w.Code != http.StatusNotFound {
		t.Fatalf("GET /cluster alone: %d %s", w.Code, w.Body)
	}
}
