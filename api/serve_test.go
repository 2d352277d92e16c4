package api

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startServing runs s on a listener of its own (port 0) and returns its base URL and a stop
// function that ends Serve and returns its error.
func startServing(t *testing.T, s *Server, scheme string) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	s.setBound(ln.Addr())
	go func() { errc <- s.serve(ctx, ln) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Serve did not return")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return scheme + "://" + ln.Addr().String(), stop
}

func TestServeAndGracefulShutdown(t *testing.T) {
	s, _ := newTestServer(t, WithAddr("127.0.0.1:0"))
	url, stop := startServing(t, s, "http")
	if !strings.HasPrefix(url, "http://"+s.Addr()) {
		t.Fatalf("Addr %s, url %s", s.Addr(), url)
	}
	resp, err := http.Get(url + "/connectors/inv/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"worker_id":"`+s.Addr()+`"`) {
		t.Fatalf("%d %s (worker id should default to the bound address %s)", resp.StatusCode, body, s.Addr())
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatalf("still serving after shutdown")
	}
}

func TestServeFailsOnBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, _ := newTestServer(t, WithAddr(ln.Addr().String()))
	if err := s.Serve(t.Context()); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Serve on a busy address: %v", err)
	}
}

func TestHeadersTooLarge(t *testing.T) {
	s, _ := newTestServer(t, WithMaxHeaderBytes(4096))
	url, _ := startServing(t, s, "http")
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /connectors HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
	// The server goes on.
	r2, err := http.Get(url + "/connectors")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Fatalf("after: %d", r2.StatusCode)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key, and returns their
// paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "cdcd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLSWithToken(t *testing.T) {
	const token = "tls-test-token-0123456789"
	certFile, keyFile, pool := selfSigned(t)
	s, _ := newTestServer(t, WithTLS(certFile, keyFile), WithToken(token))
	url, stop := startServing(t, s, "https")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()

	get := func(auth string) int {
		r, err := http.NewRequestWithContext(t.Context(), "GET", url+"/connectors", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("Bearer " + token); code != 200 {
		t.Fatalf("with token over TLS: %d", code)
	}
	if code := get(""); code != 401 {
		t.Fatalf("without token over TLS: %d", code)
	}
	// Plain HTTP to the TLS port is refused by the TLS layer.
	if resp, err := http.Get(strings.Replace(url, "https://", "http://", 1) + "/connectors"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to TLS port: %d", resp.StatusCode)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
