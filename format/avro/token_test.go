package avro

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestTokenClient: a bearer token (registry.token, bearer_auth_token) goes to the registry's host
// only, not to a host a redirect names.
func TestTokenClient(t *testing.T) {
	tokenClient := func(url, token string) *http.Client {
		t.Helper()
		c, err := ClientConfig{URL: url, BearerAuthToken: token, Timeout: 10 * time.Second}.HTTPClient()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	seen := func(got *string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*got = r.Header.Get("Authorization")
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	var atOther, atRegistry string
	other := seen(&atOther)
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		atRegistry = r.Header.Get("Authorization")
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
	}))
	t.Cleanup(registry.Close)

	c := tokenClient(registry.URL, "0123456789abcdef")
	resp, err := c.Get(registry.URL + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if atRegistry != "Bearer 0123456789abcdef" {
		t.Errorf("the registry got Authorization %q", atRegistry)
	}
	if atOther != "" {
		t.Errorf("the host a redirect named got Authorization %q", atOther)
	}
	// Without a token nothing is added.
	atRegistry = "unset"
	resp, err = tokenClient(registry.URL, "").Get(registry.URL + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if atRegistry != "" {
		t.Errorf("without a token the registry got Authorization %q", atRegistry)
	}
}
