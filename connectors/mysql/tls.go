package mysql

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cdcd-dev/cdcd/connectors"
)

// The TLS modes, as MySQL's clients name them (--ssl-mode) and Debezium's database.ssl.mode.
const (
	// SSLDisabled connects without TLS.
	SSLDisabled = "disabled"
	// SSLPreferred uses TLS when the server offers it, without verifying its certificate, and
	// plain text otherwise: MySQL's and Debezium's default.
	SSLPreferred = "preferred"
	// SSLRequired insists on TLS but does not verify the server's certificate.
	SSLRequired = "required"
	// SSLVerifyCA insists on TLS and verifies that the server's certificate chains to the CA
	// (ssl_ca, or the system's roots), whatever name it holds.
	SSLVerifyCA = "verify_ca"
	// SSLVerifyIdentity verifies the chain as SSLVerifyCA and that the certificate names the
	// host connected to.
	SSLVerifyIdentity = "verify_identity"
	// DefaultSSLMode is SSLPreferred.
	DefaultSSLMode = SSLPreferred
)

// SSLModes are the values ssl_mode takes.
var SSLModes = []string{SSLDisabled, SSLPreferred, SSLRequired, SSLVerifyCA, SSLVerifyIdentity}

// checkTLS returns the problems of the TLS settings, each naming its key in the flat form
// (mysql.ssl_ca): an unknown mode, a file that cannot be read or holds no PEM data, a
// certificate without its key or the reverse, a verifying mode without a CA file when the
// system's roots cannot be loaded.
func checkTLS(mode, ca, cert, key string) []connectors.FieldError {
	var errs []connectors.FieldError
	add := connectors.Collector(&errs)
	if mode != "" && !slices.Contains(SSLModes, mode) {
		add("mysql.ssl_mode", "%q is not one of %s", mode, strings.Join(SSLModes, ", "))
	}
	switch {
	case ca != "":
		if err := connectors.CheckPEMFile(ca, true); err != nil {
			add("mysql.ssl_ca", "%v", err)
		}
	case mode == SSLVerifyCA || mode == SSLVerifyIdentity:
		if err := connectors.CheckSystemRoots(); err != nil {
			add("mysql.ssl_ca", "ssl_mode %s without ssl_ca verifies with the system's roots, but %v", mode, err)
		}
	}
	switch {
	case cert != "" && key == "":
		add("mysql.ssl_key", "ssl_cert is set: its key is needed too")
	case cert == "" && key != "":
		add("mysql.ssl_cert", "ssl_key is set: its certificate is needed too")
	}
	if cert != "" {
		if err := connectors.CheckPEMFile(cert, true); err != nil {
			add("mysql.ssl_cert", "%v", err)
		}
	}
	if key != "" {
		if err := connectors.CheckPEMFile(key, false); err != nil {
			add("mysql.ssl_key", "%v", err)
		}
	}
	return errs
}

// tlsConfig is the TLS configuration of every connection the source opens, the binlog's and
// the queries' alike; nil under SSLDisabled. It reads the files each time, so that a renewed
// certificate is used at the next connection.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.SSLMode == SSLDisabled {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.SSLCA != "" {
		pool, err := connectors.LoadCertPool(c.SSLCA)
		if err != nil {
			return nil, &ConfigError{Source: "mysql", Field: "ssl_ca", Problem: err.Error(), Fix: "name a readable PEM file of the CA"}
		}
		tc.RootCAs = pool
	}
	if c.SSLCert != "" || c.SSLKey != "" {
		pair, err := tls.LoadX509KeyPair(c.SSLCert, c.SSLKey)
		if err != nil {
			return nil, &ConfigError{Source: "mysql", Field: "ssl_cert", Problem: fmt.Sprintf("cannot load the client certificate %s and key %s", c.SSLCert, c.SSLKey),
				Fix: "name readable PEM files of a certificate and its key", Err: err}
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	switch c.SSLMode {
	case SSLPreferred, SSLRequired:
		tc.InsecureSkipVerify = true
	case SSLVerifyCA:
		// Go verifies the name along with the chain: verify the chain alone, as MySQL's
		// VERIFY_CA does.
		tc.InsecureSkipVerify = true
		roots := tc.RootCAs
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("the server sent no certificate")
			}
			certs := make([]*x509.Certificate, len(raw))
			for i, der := range raw {
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return fmt.Errorf("the server's certificate cannot be parsed: %w", err)
				}
				certs[i] = cert
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, cert := range certs[1:] {
				opts.Intermediates.AddCert(cert)
			}
			_, err := certs[0].Verify(opts)
			return err
		}
	case SSLVerifyIdentity:
		tc.ServerName = c.Host
	}
	return tc, nil
}

// tlsError turns a failed TLS handshake with the server into a *ConfigError naming the server
// and the cause (the same settings meet the same certificate again: not worth a retry); nil
// when err is not one.
func (c Config) tlsError(err error) error {
	cause, ok := connectors.TLSCause(err)
	if !ok {
		return nil
	}
	return &ConfigError{Source: "mysql", Field: "ssl_ca",
		Problem: fmt.Sprintf("TLS with %s:%d (ssl_mode %s) failed: %s", c.Host, c.Port, c.SSLMode, cause),
		Fix:     "set ssl_ca to the CA that signed the server's certificate, and host to a name the certificate holds"}
}
