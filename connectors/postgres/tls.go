package postgres

import (
	"github.com/cdcd-dev/cdcd/connectors"
)

// sslRootCertSystem is libpq's sslrootcert value for the system's certificate authorities; it
// implies verify-full.
const sslRootCertSystem = "system"

// checkTLSFiles returns the problems of the TLS settings, each naming its key in the flat
// form (postgres.sslrootcert): a file that cannot be read or holds no PEM data, a certificate
// without its key (or a key without its certificate), sslrootcert=system with a mode that does
// not verify the server's name (libpq refuses it), and a verifying mode without a CA file when
// the system's roots cannot be loaded.
func checkTLSFiles(mode, rootCert, cert, key string) []connectors.FieldError {
	var errs []connectors.FieldError
	add := connectors.Collector(&errs)
	verifies := mode == "verify-ca" || mode == "verify-full"
	switch {
	case rootCert == sslRootCertSystem:
		if mode != "" && mode != "verify-full" {
			add("postgres.sslrootcert", "system verifies the server's name: it needs sslmode verify-full, not %s", mode)
		}
		if err := connectors.CheckSystemRoots(); err != nil {
			add("postgres.sslrootcert", "%v", err)
		}
	case rootCert != "":
		if err := connectors.CheckPEMFile(rootCert, true); err != nil {
			add("postgres.sslrootcert", "%v", err)
		}
	case verifies:
		if err := connectors.CheckSystemRoots(); err != nil {
			add("postgres.sslrootcert", "sslmode %s without sslrootcert verifies with the system's roots, but %v", mode, err)
		}
	}
	switch {
	case cert != "" && key == "":
		add("postgres.sslkey", "sslcert is set: its key is needed too")
	case cert == "" && key != "":
		add("postgres.sslcert", "sslkey is set: its certificate is needed too")
	}
	if cert != "" {
		if err := connectors.CheckPEMFile(cert, true); err != nil {
			add("postgres.sslcert", "%v", err)
		}
	}
	if key != "" {
		if err := connectors.CheckPEMFile(key, false); err != nil {
			add("postgres.sslkey", "%v", err)
		}
	}
	return errs
}
