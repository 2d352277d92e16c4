package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
)

// The embedded registry serves HTTPS with registry.tls_cert and registry.tls_key (both set),
// so that the token its clients send and the schemas cross the network encrypted when it
// listens beyond loopback. cdcd's own registry client reaches it on its listen address, which
// need not be a name the certificate holds (0.0.0.0, an IP of the machine): it pins the
// certificate the registry serves instead of checking a chain and a name. Pinning the exact
// certificate read from the same file is stricter than a CA check, and needs no CA setting.

// embeddedRegistryTLS returns the embedded registry's server TLS settings and those of cdcd's
// own client of it, pinned to its certificate; nil, nil without registry.tls_cert.
func embeddedRegistryTLS(r RegistryConfig) (server, client *tls.Config, err error) {
	if r.URL != "" || r.TLSCert == "" {
		return nil, nil, nil
	}
	pair, err := tls.LoadX509KeyPair(r.TLSCert, r.TLSKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: registry.tls_cert, registry.tls_key: %w", ErrConfig, err)
	}
	leaf := pair.Certificate[0]
	server = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain and the name are not what is checked: the certificate is (VerifyConnection).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				return errors.New("the embedded registry answered with another certificate than registry.tls_cert")
			}
			return nil
		},
	}
	return server, client, nil
}
