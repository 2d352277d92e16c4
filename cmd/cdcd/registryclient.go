package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/format/avro"
)

// registryClientTimeout bounds each request of the registry client.
const registryClientTimeout = 10 * time.Second

// clientConfig is how cdcd's registry client reaches the registry at registryURL: the
// configured url with its TLS and credentials, or the embedded registry (registryURL is then
// the embedded one's, over plain HTTP on its listen address) with the token.
func (r RegistryConfig) clientConfig(registryURL string) avro.ClientConfig {
	cc := avro.ClientConfig{URL: registryURL, BearerAuthToken: r.Token, Timeout: registryClientTimeout}
	if r.URL == "" {
		// embeddedRegistryTLS pins the embedded registry's certificate (an error there was met
		// when the registry started serving).
		_, cc.TLS, _ = embeddedRegistryTLS(r)
		return cc
	}
	if r.BasicAuthUserInfo != "" || r.BearerAuthToken != "" {
		cc.BasicAuthUserInfo, cc.BearerAuthToken = r.BasicAuthUserInfo, r.BearerAuthToken
	}
	cc.CALocation, cc.CertificateLocation, cc.KeyLocation = r.SSLCALocation, r.SSLCertificateLocation, r.SSLKeyLocation
	return cc
}

// registryHTTPClient is the HTTP client of cdcd's registry client for registryURL.
func registryHTTPClient(r RegistryConfig, registryURL string) (*http.Client, error) {
	client, err := r.clientConfig(registryURL).HTTPClient()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return client, nil
}

// problems adds the problems of the registry client's settings, each naming its key; no
// message quotes a credential.
func (r RegistryConfig) problems(add func(format string, args ...any)) {
	client := map[string]string{
		"basic_auth_user_info": r.BasicAuthUserInfo, "bearer_auth_token": r.BearerAuthToken,
		"ssl_ca_location": r.SSLCALocation, "ssl_certificate_location": r.SSLCertificateLocation, "ssl_key_location": r.SSLKeyLocation,
	}
	switch {
	case r.URL != "" && (r.TLSCert != "" || r.TLSKey != ""):
		add("registry.tls_cert, registry.tls_key: apply to the embedded registry, and registry.url is set")
	case (r.TLSCert == "") != (r.TLSKey == ""):
		add("registry: tls_cert and tls_key go together")
	case r.TLSCert != "":
		if _, err := tls.LoadX509KeyPair(r.TLSCert, r.TLSKey); err != nil {
			add("registry.tls_cert, registry.tls_key: %v", err)
		}
	}
	if r.URL == "" {
		for _, key := range []string{"basic_auth_user_info", "bearer_auth_token", "ssl_ca_location", "ssl_certificate_location", "ssl_key_location"} {
			if client[key] != "" {
				add("registry.%s: applies to registry.url, which is empty (the embedded registry takes registry.token)", key)
			}
		}
		return
	}
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("registry.url: %q is not an http:// or https:// address", r.URL)
	}
	if r.BasicAuthUserInfo != "" && r.BearerAuthToken != "" {
		add("registry: basic_auth_user_info and bearer_auth_token are both set: use one")
	}
	if r.Token != "" && (r.BasicAuthUserInfo != "" || r.BearerAuthToken != "") {
		add("registry.token: with basic_auth_user_info or bearer_auth_token, the token would not be sent to registry.url: remove one")
	}
	if r.BasicAuthUserInfo != "" && !strings.Contains(r.BasicAuthUserInfo, ":") {
		add("registry.basic_auth_user_info: is not user:password")
	}
	if strings.ContainsAny(r.BearerAuthToken, " \t\r\n") {
		add("registry.bearer_auth_token: holds white space")
	}
	tlsSet := r.SSLCALocation != "" || r.SSLCertificateLocation != ""
	if tlsSet && err == nil && u.Scheme != "https" {
		add("registry.url: the ssl_* settings need an https:// address, not %s://", u.Scheme)
	}
	if r.SSLCALocation != "" {
		if err := connectors.CheckPEMFile(r.SSLCALocation, true); err != nil {
			add("registry.ssl_ca_location: %v", err)
		}
	}
	switch {
	case r.SSLCertificateLocation != "" && r.SSLKeyLocation == "":
		add("registry.ssl_key_location: ssl_certificate_location is set: its key is needed too")
	case r.SSLCertificateLocation == "" && r.SSLKeyLocation != "":
		add("registry.ssl_certificate_location: ssl_key_location is set: its certificate is needed too")
	}
	if r.SSLCertificateLocation != "" {
		if err := connectors.CheckPEMFile(r.SSLCertificateLocation, true); err != nil {
			add("registry.ssl_certificate_location: %v", err)
		}
	}
	if r.SSLKeyLocation != "" {
		if err := connectors.CheckPEMFile(r.SSLKeyLocation, false); err != nil {
			add("registry.ssl_key_location: %v", err)
		}
	}
}

// tailRegistryClient is the HTTP client of `cdcd tail`'s registry client: --registry-token as
// a bearer token, or --registry-user-info as basic authentication, and TLS with --registry-ca
// and a client certificate.
func tailRegistryClient(o tailOptions) (*http.Client, error) {
	cc := avro.ClientConfig{URL: o.registry, BearerAuthToken: o.registryToken, BasicAuthUserInfo: o.registryUserInfo,
		CALocation: o.registryCA, CertificateLocation: o.registryCert, KeyLocation: o.registryKey, Timeout: registryClientTimeout}
	client, err := cc.HTTPClient()
	if err != nil {
		return nil, fmt.Errorf("--registry flags: %w", err)
	}
	return client, nil
}
