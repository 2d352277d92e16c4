package main

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/internal/testcerts"
)

// The registry section's client settings are checked, each problem naming its key and none
// quoting a credential.
func TestRegistryClientProblems(t *testing.T) {
	set, err := testcerts.NewCA(t.TempDir(), "test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := set.Issue("client", "cdcd")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cret-registry-pw"
	for _, tc := range []struct {
		name string
		r    RegistryConfig
		want string // empty: valid
	}{
		{"embedded", RegistryConfig{Token: "0123456789abcdef"}, ""},
		{"basic auth over TLS", RegistryConfig{URL: "https://sr:8081", BasicAuthUserInfo: "cdcd:" + secret, SSLCALocation: set.CA(),
			SSLCertificateLocation: cert, SSLKeyLocation: key}, ""},
		{"bearer", RegistryConfig{URL: "https://sr:8081", BearerAuthToken: secret}, ""},
		{"both credentials", RegistryConfig{URL: "https://sr", BasicAuthUserInfo: "u:" + secret, BearerAuthToken: secret}, "both set"},
		{"token and credential", RegistryConfig{URL: "https://sr", Token: secret, BearerAuthToken: secret}, "registry.token"},
		{"user info without colon", RegistryConfig{URL: "https://sr", BasicAuthUserInfo: secret}, "registry.basic_auth_user_info: is not user:password"},
		{"credential for the embedded registry", RegistryConfig{BasicAuthUserInfo: "u:" + secret}, "registry.basic_auth_user_info: applies to registry.url"},
		{"TLS over http", RegistryConfig{URL: "http://sr", SSLCALocation: set.CA()}, "need an https://"},
		{"missing CA", RegistryConfig{URL: "https://sr", SSLCALocation: filepath.Join(t.TempDir(), "no.pem")}, "registry.ssl_ca_location: cannot read"},
		{"certificate without key", RegistryConfig{URL: "https://sr", SSLCertificateLocation: cert}, "registry.ssl_key_location"},
		{"bad url", RegistryConfig{URL: "sr:8081"}, "registry.url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			tc.r.problems(func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) })
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("problems %q, want none", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Fatalf("problems %q, want one saying %q", got, tc.want)
			}
			if strings.Contains(got[0], secret) {
				t.Fatalf("the problem quotes the credential: %s", got[0])
			}
		})
	}
}

// The client sends registry.token to the embedded registry, and the url's own credentials,
// when set, to registry.url.
func TestRegistryClientConfig(t *testing.T) {
	r := RegistryConfig{Token: "embedded-token-0123"}
	if cc := r.clientConfig("http://127.0.0.1:18081"); cc.BearerAuthToken != r.Token || cc.BasicAuthUserInfo != "" {
		t.Errorf("embedded: %#v", cc)
	}
	r = RegistryConfig{URL: "https://sr", Token: "tok-0123456789abcdef"}
	if cc := r.clientConfig(r.URL); cc.BearerAuthToken != r.Token {
		t.Errorf("url with token: the token is not sent")
	}
	r = RegistryConfig{URL: "https://sr", BasicAuthUserInfo: "u:p", SSLCALocation: "/ca.pem"}
	if cc := r.clientConfig(r.URL); cc.BasicAuthUserInfo != "u:p" || cc.BearerAuthToken != "" || cc.CALocation != "/ca.pem" {
		t.Errorf("url with basic auth: %+v", cc)
	}
}

// `cdcd tail` reaches an HTTPS registry with basic authentication and its CA through its
// --registry-* flags; conflicting flags are refused without quoting the credential.
func TestTailRegistryClient(t *testing.T) {
	const secret = "tail-s3cret-pw"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		if u, p, ok := r.BasicAuth(); !ok || u != "cdcd" || p != secret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprint(w, `{"error_code":401,"message":"Unauthorized"}`)
			return
		}
		_, _ = fmt.Fprint(w, `{"compatibilityLevel":"FULL"}`)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	client, err := tailRegistryClient(tailOptions{registry: srv.URL, registryUserInfo: "cdcd:" + secret, registryCA: ca})
	if err != nil {
		t.Fatal(err)
	}
	if lvl, err := avro.NewSRClient(srv.URL, client).Compatibility(t.Context(), "s"); err != nil || lvl != "FULL" {
		t.Fatalf("compatibility through the flags: %q, %v", lvl, err)
	}
	_, err = tailRegistryClient(tailOptions{registry: srv.URL, registryUserInfo: "cdcd:" + secret, registryToken: secret})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("a token and user info: %v, want an error without the credential", err)
	}
}
