package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/internal/testcerts"
)

// registry.tls_cert and tls_key go together, for the embedded registry only, and must load;
// cdcd's own client pins the served certificate: it reaches a server that serves it, by any
// address, and refuses one that serves another certificate of the same CA.
func TestEmbeddedRegistryTLS(t *testing.T) {
	ca, err := testcerts.NewCA(filepath.Join(t.TempDir(), "ca"), "test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue("registry", "registry.example")
	if err != nil {
		t.Fatal(err)
	}
	other, otherKey, err := ca.Issue("other", "registry.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r    RegistryConfig
		want string
	}{
		{RegistryConfig{TLSCert: cert}, "tls_cert and tls_key go together"},
		{RegistryConfig{URL: "https://r", TLSCert: cert, TLSKey: key}, "apply to the embedded registry"},
		{RegistryConfig{TLSCert: cert, TLSKey: otherKey}, "registry.tls_cert, registry.tls_key: "},
		{RegistryConfig{TLSCert: cert, TLSKey: key}, ""},
	} {
		var problems []string
		tc.r.problems(func(format string, args ...any) { problems = append(problems, format) })
		got := strings.Join(problems, "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v: problems %q, want %q", tc.r, got, tc.want)
		}
	}

	r := RegistryConfig{TLSCert: cert, TLSKey: key, Token: "t0ken"}
	serve := func(certFile, keyFile string) *httptest.Server {
		s, _, err := embeddedRegistryTLS(RegistryConfig{TLSCert: certFile, TLSKey: keyFile})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Header.Get("Authorization") != "Bearer t0ken" {
				w.WriteHeader(http.StatusUnauthorized)
			}
		}))
		srv.TLS = s
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}
	for _, tc := range []struct {
		srv  *httptest.Server
		want bool
	}{{serve(cert, key), true}, {serve(other, otherKey), false}} {
		client, err := registryHTTPClient(r, tc.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Get(tc.srv.URL + "/subjects")
		if tc.want && (err != nil || resp.StatusCode != http.StatusOK) {
			t.Errorf("the served certificate: %v %v; want 200 with the token", resp, err)
		}
		if !tc.want && (err == nil || !strings.Contains(err.Error(), "another certificate")) {
			t.Errorf("another certificate: %v; want it refused", err)
		}
		if resp != nil {
			_ = resp.Body.Close()
		}
	}
}
