package mysql

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/internal/testcerts"
)

// Every TLS key of the section is checked, each problem naming its key.
func TestSectionValidatesTLS(t *testing.T) {
	set, err := testcerts.NewCA(t.TempDir(), "test CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := set.Issue("client", "cdcd")
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "nope.pem")
	for _, tc := range []struct {
		name   string
		change func(*Section)
		key    string // empty: valid
		msg    string
	}{
		{"default", func(*Section) {}, "", ""},
		{"verify_identity with a CA", func(s *Section) { s.SSLMode, s.SSLCA = "verify_identity", set.CA() }, "", ""},
		{"client certificate", func(s *Section) { s.SSLMode, s.SSLCert, s.SSLKey = "required", cert, key }, "", ""},
		{"unknown mode", func(s *Section) { s.SSLMode = "VERIFY-FULL" }, "mysql.ssl_mode", "not one of"},
		{"missing CA", func(s *Section) { s.SSLMode, s.SSLCA = "verify_ca", missing }, "mysql.ssl_ca", "cannot read"},
		{"CA without certificate", func(s *Section) { s.SSLCA = key }, "mysql.ssl_ca", "no PEM certificate"},
		{"certificate without key", func(s *Section) { s.SSLCert = cert }, "mysql.ssl_key", "key is needed"},
		{"key without certificate", func(s *Section) { s.SSLKey = key }, "mysql.ssl_cert", "certificate is needed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec := &Section{Host: "db", User: "cdc", Port: 3306}
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

// Each mode verifies what MySQL's client verifies: required nothing, verify_ca the chain
// only, verify_identity the chain and the name; a failure is a ConfigError naming the server
// and the cause. The binlog connection takes the same configuration (syncerConfig).
func TestTLSModes(t *testing.T) {
	serverCA, err := testcerts.NewCA(t.TempDir(), "server CA")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := serverCA.Issue("server", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := testcerts.NewCA(t.TempDir(), "other CA")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode, host, ca string
		want           string // empty: the handshake succeeds
	}{
		{SSLRequired, "127.0.0.1", otherCA.CA(), ""},
		{SSLPreferred, "127.0.0.1", "", ""},
		{SSLVerifyCA, "127.0.0.1", serverCA.CA(), ""},
		{SSLVerifyCA, "localhost", otherCA.CA(), "authority"},
		{SSLVerifyIdentity, "localhost", serverCA.CA(), ""},
		{SSLVerifyIdentity, "127.0.0.1", serverCA.CA(), "does not name the server"},
		{SSLVerifyIdentity, "localhost", otherCA.CA(), "authority"},
	} {
		t.Run(tc.mode+" "+tc.host, func(t *testing.T) {
			cfg := Config{Name: "inv", Host: tc.host, User: "cdc", SSLMode: tc.mode, SSLCA: tc.ca}.withDefaults()
			tcfg, err := cfg.tlsConfig()
			if err != nil {
				t.Fatal(err)
			}
			if sc := (&Source{cfg: cfg}).syncerConfig(); sc.TLSConfig == nil || sc.TLSConfig.ServerName != tcfg.ServerName {
				t.Fatalf("the binlog connection's TLS is %+v", sc.TLSConfig)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ln.Close() }()
			go func() {
				server, err := ln.Accept()
				if err != nil {
					return
				}
				_ = server.SetDeadline(time.Now().Add(30 * time.Second))
				_ = tls.Server(server, &tls.Config{Certificates: []tls.Certificate{pair}}).Handshake()
				_ = server.Close()
			}()
			client, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = client.SetDeadline(time.Now().Add(30 * time.Second))
			err = tls.Client(client, tcfg).Handshake()
			_ = client.Close()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				return
			}
			tlsErr := cfg.tlsError(err)
			if tlsErr == nil || !strings.Contains(tlsErr.Error(), tc.host+":3306") || !strings.Contains(tlsErr.Error(), tc.want) {
				t.Fatalf("handshake error %v, classified %v: want the server %s:3306 and %q", err, tlsErr, tc.host, tc.want)
			}
		})
	}
	cfg := Config{Name: "inv", Host: "db", User: "cdc", SSLMode: SSLDisabled}.withDefaults()
	if tcfg, err := cfg.tlsConfig(); tcfg != nil || err != nil {
		t.Fatalf("disabled: TLS %v, %v", tcfg, err)
	}
	if sc := (&Source{cfg: cfg}).syncerConfig(); sc.TLSConfig != nil {
		t.Fatal("disabled: the binlog connection uses TLS")
	}
}
