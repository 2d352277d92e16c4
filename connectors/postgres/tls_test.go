package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/internal/testcerts"
)

func tlsFiles(t *testing.T) (ca, cert, key string) {
	t.Helper()
	set, err := testcerts.NewCA(t.TempDir(), "test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err = set.Issue("client", "cdcd")
	if err != nil {
		t.Fatal(err)
	}
	return set.CA(), cert, key
}

// Every TLS key of the section is checked, each problem naming its key.
func TestSectionValidatesTLS(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	missing := filepath.Join(t.TempDir(), "nope.pem")
	for _, tc := range []struct {
		name   string
		change func(*Section)
		key    string // empty: valid
		msg    string
	}{
		{"verify-full with a CA", func(s *Section) { s.SSLMode, s.SSLRootCert = "verify-full", ca }, "", ""},
		{"verify-ca with the system roots", func(s *Section) { s.SSLMode = "verify-ca" }, "", ""},
		{"client certificate", func(s *Section) { s.SSLMode, s.SSLRootCert, s.SSLCert, s.SSLKey = "verify-full", ca, cert, key }, "", ""},
		{"system roots and verify-full", func(s *Section) { s.SSLMode, s.SSLRootCert = "verify-full", "system" }, "", ""},
		{"unknown mode", func(s *Section) { s.SSLMode = "verify" }, "postgres.sslmode", "not one of"},
		{"missing CA file", func(s *Section) { s.SSLMode, s.SSLRootCert = "verify-full", missing }, "postgres.sslrootcert", "cannot read"},
		{"CA file without a certificate", func(s *Section) { s.SSLMode, s.SSLRootCert = "verify-full", key }, "postgres.sslrootcert", "no PEM certificate"},
		{"certificate without key", func(s *Section) { s.SSLCert = cert }, "postgres.sslkey", "key is needed"},
		{"key without certificate", func(s *Section) { s.SSLKey = key }, "postgres.sslcert", "certificate is needed"},
		{"missing key file", func(s *Section) { s.SSLCert, s.SSLKey = cert, missing }, "postgres.sslkey", "cannot read"},
		{"system roots with require", func(s *Section) { s.SSLMode, s.SSLRootCert = "require", "system" }, "postgres.sslrootcert", "verify-full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec := &Section{Host: "db", User: "cdc", Database: "shop", Port: 5432}
			tc.change(sec)
			errs := Kind{}.Validate(connectors.Settings{Name: "inv", Section: sec})
			if tc.key == "" {
				if len(errs) != 0 {
					t.Fatalf("errors %v, want none", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Key != tc.key || !strings.Contains(errs[0].Message, tc.msg) {
				t.Fatalf("errors %v, want one on %s saying %q", errs, tc.key, tc.msg)
			}
		})
	}
}

// Open's own validation refuses the same files, naming the field.
func TestConfigValidatesTLS(t *testing.T) {
	c := validConfig()
	c.SSLMode, c.SSLRootCert = "verify-full", filepath.Join(t.TempDir(), "nope.pem")
	err := c.withDefaults().validate()
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "sslrootcert" {
		t.Fatalf("validate = %v, want a ConfigError on sslrootcert", err)
	}
}

// The one connection builder applies TLS to every kind of connection: catalog, snapshot and
// replication connections all get the CA, the server name to verify and the client
// certificate, and the key's passphrase never enters the connection string.
func TestConnConfigAppliesTLS(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	c := validConfig()
	c.SSLMode, c.SSLRootCert, c.SSLCert, c.SSLKey, c.SSLPassword = "verify-full", ca, cert, key, "key-passphrase"
	c = c.withDefaults()
	if s := c.connString(); strings.Contains(s, "key-passphrase") || strings.Contains(s, "s3cret-pw") {
		t.Fatalf("connString %q holds a secret", s)
	}
	for name, params := range map[string]map[string]string{"catalog": catalogParams, "snapshot": snapshotParams, "replication": replicationParams} {
		pcfg, err := c.connConfig(params)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tc := pcfg.TLSConfig
		if tc == nil || tc.RootCAs == nil || tc.ServerName != "db" || tc.InsecureSkipVerify || len(tc.Certificates) != 1 {
			t.Errorf("%s connection's TLS = %+v, want the CA, server name db verified, one client certificate", name, tc)
		}
		if len(pcfg.Fallbacks) != 0 {
			t.Errorf("%s connection falls back to %d other settings (plain text?)", name, len(pcfg.Fallbacks))
		}
		if pcfg.Password != "s3cret-pw" || pcfg.RuntimeParams["application_name"] != params["application_name"] {
			t.Errorf("%s connection: password or runtime parameters not set", name)
		}
	}
	c.SSLMode, c.SSLRootCert, c.SSLCert, c.SSLKey = "disable", "", "", ""
	pcfg, err := c.connConfig(replicationParams)
	if err != nil || pcfg.TLSConfig != nil {
		t.Fatalf("sslmode disable: TLS %v, %v; want none", pcfg.TLSConfig, err)
	}
}

// A server whose certificate is signed by another CA, or does not name the host, fails at
// once with a ConfigError (not retried) naming the server and the cause.
func TestConnectTLSFailuresNameServerAndCause(t *testing.T) {
	serverCA, err := testcerts.NewCA(t.TempDir(), "server CA")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := serverCA.Issue("server", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, _, _ := tlsFiles(t)
	pair, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go fakeTLSServer(ln, &tls.Config{Certificates: []tls.Certificate{pair}})
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	for _, tc := range []struct {
		name, host, ca, want string
	}{
		{"wrong CA", "localhost", otherCA, "authority"},
		{"wrong server name", "127.0.0.1", serverCA.CA(), "does not name the server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.Host, c.Port, c.SSLMode, c.SSLRootCert = tc.host, port, "verify-full", tc.ca
			c.ConnectTimeout = 10 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := connect(ctx, c.withDefaults())
			if err == nil {
				_ = conn.Close(ctx)
				t.Fatal("connected")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || IsRetryable(err) {
				t.Fatalf("error %v (%T) is not a permanent ConfigError", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.host+":") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "s3cret-pw") {
				t.Fatalf("error %q does not name the server %s and the cause %q (or holds the password)", msg, tc.host, tc.want)
			}
		})
	}
}

// fakeTLSServer answers PostgreSQL's SSLRequest with 'S' and a TLS handshake, as a server
// with ssl=on does, and closes each connection after it.
func fakeTLSServer(ln net.Listener, cfg *tls.Config) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer func() { _ = c.Close() }()
			req := make([]byte, 8)
			if _, err := c.Read(req); err != nil {
				return
			}
			if _, err := c.Write([]byte{'S'}); err != nil {
				return
			}
			_ = tls.Server(c, cfg).Handshake()
		}()
	}
}
