package connectors

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// CheckPEMFile tells what is wrong with the PEM file path that a TLS setting names: it cannot be
// read, or holds no PEM block, or (certificates true) no certificate. It reads the file, so that
// a configuration naming a missing or misplaced file is refused before any connection is tried.
// Its message names the file, never its content.
func CheckPEMFile(path string, certificates bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		return fmt.Errorf("cannot read %s: %v", path, err)
	}
	found := false
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if !certificates || block.Type == "CERTIFICATE" {
			found = true
			break
		}
	}
	switch {
	case !found && certificates:
		return fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	case !found:
		return fmt.Errorf("%s holds no PEM block (-----BEGIN ... PRIVATE KEY-----)", path)
	}
	return nil
}

// LoadCertPool reads the PEM certificates of path (certificate authorities) into a pool.
func LoadCertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("the CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// CheckSystemRoots tells whether the system's certificate authorities can be loaded, for a
// setting that verifies a server's certificate without a CA file of its own.
func CheckSystemRoots() error {
	if _, err := x509.SystemCertPool(); err != nil {
		return fmt.Errorf("the system's certificate authorities cannot be loaded (%v)", err)
	}
	return nil
}

// TLSCause describes a failed TLS handshake for a message naming the server: the certificate
// is not trusted (unknown authority), does not name the server, is invalid (expired), or the
// server refused the handshake (an alert: typically a client certificate it wants or does not
// trust). ok is false when err is not such a failure; a network failure during the handshake
// is not one.
func TLSCause(err error) (cause string, ok bool) {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var alert tls.AlertError
	var header tls.RecordHeaderError
	switch {
	case errors.As(err, &host):
		return "its certificate does not name the server: " + host.Error(), true
	case errors.As(err, &unknown):
		return "its certificate is signed by an authority the CA file does not hold (" + unknown.Error() + ")", true
	case errors.As(err, &invalid):
		return "its certificate is invalid: " + invalid.Error(), true
	case errors.As(err, &verify):
		return "its certificate is not trusted: " + verify.Error(), true
	case errors.As(err, &alert):
		return "the server refused the handshake: " + alert.Error() + " (does it want a client certificate, or not trust this one?)", true
	case errors.As(err, &header):
		return "the server did not answer in TLS: " + header.Error(), true
	}
	return "", false
}
