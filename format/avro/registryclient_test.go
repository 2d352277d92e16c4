package avro

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/internal/testcerts"
)

const (
	testRegistryPassword = "pa55-w0rd-never-shown"
	testRegistryToken    = "t0ken-never-shown-0123456789"
)

// registryServer is an HTTPS registry that answers GET /config with BACKWARD when the request
// carries the credential authorized accepts, and 401 otherwise; it counts the refusals.
func registryServer(t *testing.T, authorized func(*http.Request) bool, clientCAs *x509.CertPool) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprint(w, `{"error_code":401,"message":"Unauthorized"}`)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		_, _ = fmt.Fprint(w, `{"compatibilityLevel":"BACKWARD"}`)
	}))
	if clientCAs != nil {
		srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "registry-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

// The registry client reaches an HTTPS registry through its CA file, with basic
// authentication (basic.auth.user.info), a bearer token (bearer.auth.token) or a client
// certificate; without the credential, or with a wrong one, the registry's refusal comes back
// and the credential is in no error message.
func TestRegistryClientTLSAndCredentials(t *testing.T) {
	basic := func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == "cdcd" && p == testRegistryPassword
	}
	bearer := func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+testRegistryToken }
	clientSet, err := testcerts.NewCA(t.TempDir(), "client CA")
	if err != nil {
		t.Fatal(err)
	}
	clientCert, clientKey, err := clientSet.Issue("cdcd-client", "cdcd")
	if err != nil {
		t.Fatal(err)
	}
	clientPool, err := os.ReadFile(clientSet.CA())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(clientPool)

	for _, tc := range []struct {
		name       string
		authorized func(*http.Request) bool
		clientCAs  *x509.CertPool
		good, bad  func(*ClientConfig)
		badWant    string
	}{
		{"basic auth", basic, nil,
			func(c *ClientConfig) { c.BasicAuthUserInfo = "cdcd:" + testRegistryPassword },
			func(c *ClientConfig) { c.BasicAuthUserInfo = "cdcd:wrong-" + testRegistryPassword }, "401"},
		{"bearer token", bearer, nil,
			func(c *ClientConfig) { c.BearerAuthToken = testRegistryToken },
			func(c *ClientConfig) { c.BasicAuthUserInfo = "cdcd:" + testRegistryToken }, "401"},
		{"client certificate", func(*http.Request) bool { return true }, pool,
			func(c *ClientConfig) { c.CertificateLocation, c.KeyLocation = clientCert, clientKey },
			func(*ClientConfig) {}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, ca := registryServer(t, tc.authorized, tc.clientCAs)
			ctx := context.Background()

			good := ClientConfig{URL: srv.URL, CALocation: ca}
			tc.good(&good)
			client, err := good.HTTPClient()
			if err != nil {
				t.Fatal(err)
			}
			lvl, err := NewSRClient(srv.URL, client).Compatibility(ctx, "orders-value")
			if err != nil || lvl != "BACKWARD" {
				t.Fatalf("with the credential: %q, %v", lvl, err)
			}
			if s := fmt.Sprintf("%v %+v %#v", good, good, good); strings.Contains(s, testRegistryPassword) || strings.Contains(s, testRegistryToken) {
				t.Fatalf("the client configuration shows its credential: %s", s)
			}

			bad := ClientConfig{URL: srv.URL, CALocation: ca}
			tc.bad(&bad)
			client, err = bad.HTTPClient()
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewSRClient(srv.URL, client).Compatibility(ctx, "orders-value")
			if err == nil || !strings.Contains(err.Error(), tc.badWant) || !strings.Contains(err.Error(), srv.URL) {
				t.Fatalf("without the right credential: %v, want an error naming %s and %q", err, srv.URL, tc.badWant)
			}
			if strings.Contains(err.Error(), testRegistryPassword) || strings.Contains(err.Error(), testRegistryToken) {
				t.Fatalf("the error shows a credential: %v", err)
			}
		})
	}

	// Without the CA file the registry's certificate is not trusted.
	srv, _ := registryServer(t, func(*http.Request) bool { return true }, nil)
	client, err := ClientConfig{URL: srv.URL}.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSRClient(srv.URL, client).Compatibility(context.Background(), "s"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want a certificate error", err)
	}
}

// Credentials go to the registry's host only, never to another one a redirect leads to.
func TestRegistryClientCredentialsStayOnHost(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		_, _ = fmt.Fprint(w, `{"compatibilityLevel":"FULL"}`)
	}))
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	for _, cc := range []ClientConfig{
		{URL: redirect.URL, BasicAuthUserInfo: "cdcd:" + testRegistryPassword},
		{URL: redirect.URL, BearerAuthToken: testRegistryToken},
	} {
		leaked = ""
		client, err := cc.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewSRClient(redirect.URL, client).Compatibility(context.Background(), "s"); err != nil {
			t.Fatal(err)
		}
		if leaked != "" {
			t.Fatalf("%v: the other host got Authorization %q", cc, leaked)
		}
	}
}

// A configuration that cannot work is refused before any request, without quoting the
// credential.
func TestRegistryClientConfigCheck(t *testing.T) {
	for _, cc := range []ClientConfig{
		{URL: "https://r", BasicAuthUserInfo: "cdcd:" + testRegistryPassword, BearerAuthToken: testRegistryToken},
		{URL: "https://r", BasicAuthUserInfo: testRegistryPassword},
		{URL: "https://r", CertificateLocation: "/nonexistent/cert.pem"},
		{URL: "https://r", CALocation: "/nonexistent/ca.pem"},
	} {
		_, err := cc.HTTPClient()
		if err == nil {
			t.Errorf("%v: no error", cc)
			continue
		}
		if strings.Contains(err.Error(), testRegistryPassword) || strings.Contains(err.Error(), testRegistryToken) {
			t.Errorf("the error shows a credential: %v", err)
		}
	}
}
