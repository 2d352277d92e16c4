package avro

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// ClientConfig is how the registry client reaches a secured registry: its TLS and its
// credentials, named after the properties of Confluent's registry clients (in parentheses).
// Its String never shows a credential.
type ClientConfig struct {
	// URL is the registry's base address; https:// for TLS.
	URL string
	// BasicAuthUserInfo is "user:password" sent as HTTP basic authentication
	// (basic.auth.user.info, with basic.auth.credentials.source USER_INFO).
	BasicAuthUserInfo string
	// BearerAuthToken is sent as "Authorization: Bearer <token>" (bearer.auth.token, with
	// bearer.auth.credentials.source STATIC_TOKEN). At most one of the two credentials.
	BearerAuthToken string
	// CALocation is a PEM file of the CAs the registry's certificate must chain to
	// (ssl.ca.location); empty: the system's roots.
	CALocation string
	// CertificateLocation and KeyLocation are the client certificate and its key, PEM files
	// (ssl.certificate.location, ssl.key.location); both or neither.
	CertificateLocation, KeyLocation string
	// Timeout bounds each request; 0 means 10 s.
	Timeout time.Duration
	// TLS, when set, is the client's TLS configuration as it is, instead of CALocation and
	// CertificateLocation: for a registry whose certificate the caller pins (cdcd's client
	// of its own embedded registry).
	TLS *tls.Config
}

// String describes c without its credentials.
func (c ClientConfig) String() string {
	auth := "none"
	switch {
	case c.BasicAuthUserInfo != "":
		user, _, _ := strings.Cut(c.BasicAuthUserInfo, ":")
		auth = "basic user " + user
	case c.BearerAuthToken != "":
		auth = "bearer token"
	}
	return fmt.Sprintf("registry %s (auth %s, ca %q, client certificate %q)", c.URL, auth, c.CALocation, c.CertificateLocation)
}

// GoString is String, so that %#v does not show the credentials either.
func (c ClientConfig) GoString() string { return c.String() }

// Check returns the problems of c, each naming its field: a credential set twice, user info
// without its colon, a file that cannot be read, a certificate without its key. Its messages
// never quote a credential.
func (c ClientConfig) Check() []error {
	var errs []error
	if c.BasicAuthUserInfo != "" && c.BearerAuthToken != "" {
		errs = append(errs, errors.New("basic auth user info and bearer auth token are both set: use one"))
	}
	if c.BasicAuthUserInfo != "" && !strings.Contains(c.BasicAuthUserInfo, ":") {
		errs = append(errs, errors.New("basic auth user info is not user:password"))
	}
	if strings.ContainsAny(c.BearerAuthToken, " \r\n\t") {
		errs = append(errs, errors.New("bearer auth token holds white space"))
	}
	if (c.CertificateLocation == "") != (c.KeyLocation == "") {
		errs = append(errs, errors.New("a client certificate needs both its certificate and its key"))
	}
	for _, f := range []string{c.CALocation, c.CertificateLocation, c.KeyLocation} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("cannot read %s: %w", f, errors.Unwrap(err)))
		}
	}
	return errs
}

// HTTPClient returns the HTTP client for NewSRClient that c describes: TLS with c's CA and
// client certificate (read now), and c's credentials on every request to the registry's host
// only (a redirect elsewhere does not get them).
func (c ClientConfig) HTTPClient() (*http.Client, error) {
	if errs := c.Check(); len(errs) > 0 {
		return nil, fmt.Errorf("schema registry client: %w", errors.Join(errs...))
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	if c.TLS != nil {
		base.TLSClientConfig = c.TLS.Clone()
	} else if c.CALocation != "" || c.CertificateLocation != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CALocation != "" {
			b, err := os.ReadFile(c.CALocation)
			if err != nil {
				return nil, fmt.Errorf("schema registry client: reading the CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("schema registry client: the CA file %s holds no PEM certificate", c.CALocation)
			}
			tc.RootCAs = pool
		}
		if c.CertificateLocation != "" {
			pair, err := tls.LoadX509KeyPair(c.CertificateLocation, c.KeyLocation)
			if err != nil {
				return nil, fmt.Errorf("schema registry client: loading the client certificate %s: %w", c.CertificateLocation, err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		base.TLSClientConfig = tc
	}
	var rt http.RoundTripper = base
	host := ""
	if u, err := url.Parse(c.URL); err == nil {
		host = u.Host
	}
	switch {
	case c.BearerAuthToken != "":
		rt = &bearerTransport{host: host, token: c.BearerAuthToken, base: base}
	case c.BasicAuthUserInfo != "":
		user, pass, _ := strings.Cut(c.BasicAuthUserInfo, ":")
		rt = &basicTransport{host: host, user: user, pass: pass, base: base}
	}
	return &http.Client{Timeout: timeout, Transport: rt}, nil
}

// basicTransport adds basic authentication to the requests to one host.
type basicTransport struct {
	host, user, pass string
	base             http.RoundTripper
}

func (t *basicTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		return t.base.RoundTrip(req)
	}
	// A RoundTripper must not change the request it is given.
	req = req.Clone(req.Context())
	req.SetBasicAuth(t.user, t.pass)
	return t.base.RoundTrip(req)
}
