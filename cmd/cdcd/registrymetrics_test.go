package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRegistryMetricsCountOutcomes sends requests answered 200, 404 and 500, and one to a server
// gone: each outcome is counted under its class.
func TestRegistryMetricsCountOutcomes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	reg := prometheus.NewRegistry()
	m := newRegistryMetrics(reg)
	client := &http.Client{}
	m.instrument(client)
	for _, u := range []string{srv.URL + "?code=200", srv.URL + "?code=200", srv.URL + "?code=404", srv.URL + "?code=500", gone.URL} {
		resp, err := client.Get(u)
		if err == nil {
			_ = resp.Body.Close()
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, fam := range families {
		for _, metric := range fam.GetMetric() {
			got[fam.GetName()+"/"+metric.GetLabel()[0].GetValue()] = metric.GetCounter().GetValue()
		}
	}
	for code, want := range map[string]float64{"2xx": 2, "3xx": 0, "4xx": 1, "5xx": 1, "error": 1} {
		if v, ok := got["cdcd_registry_requests_total/"+code]; !ok || v != want {
			t.Errorf("cdcd_registry_requests_total{code=%q} = %v (present %v), want %v", code, v, ok, want)
		}
	}
	var none *registryMetrics
	none.instrument(client) // nil: counts nothing, and does not panic
}
