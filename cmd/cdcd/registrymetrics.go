package main

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// registryMetrics counts the requests of cdcd's schema registry client (the embedded
// registry's or registry.url's) by outcome: cdcd_registry_requests_total{code} with code the
// answer's status class (2xx, 3xx, 4xx, 5xx) or "error" when no answer came (a connection
// refused, a timeout). A 404 is the client's normal question "is this schema there yet?";
// errors and 5xx are what an operator watches. A nil *registryMetrics counts nothing.
type registryMetrics struct {
	requests *prometheus.CounterVec
}

// newRegistryMetrics returns the counters, registered with reg.
func newRegistryMetrics(reg prometheus.Registerer) *registryMetrics {
	m := &registryMetrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdcd_registry_requests_total",
		Help: "Requests of the schema registry client, by the answer's status class (2xx, 3xx, 4xx, 5xx) or error when no answer came.",
	}, []string{"code"})}
	// The series exist from the start, so that rate() and increase() see the first ones.
	for _, code := range []string{"2xx", "3xx", "4xx", "5xx", "error"} {
		m.requests.WithLabelValues(code)
	}
	reg.MustRegister(m.requests)
	return m
}

// instrument makes client count its requests.
func (m *registryMetrics) instrument(client *http.Client) {
	if m == nil {
		return
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = &countingTransport{base: base, m: m}
}

// countingTransport counts each request's outcome.
type countingTransport struct {
	base http.RoundTripper
	m    *registryMetrics
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	code := "error"
	if err == nil {
		code = strconv.Itoa(resp.StatusCode/100) + "xx"
	}
	t.m.requests.WithLabelValues(code).Inc()
	return resp, err
}
