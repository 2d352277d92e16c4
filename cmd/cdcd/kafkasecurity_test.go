package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testCA is a certificate authority made for one test, and a server certificate it signed.
type testCA struct {
	caFile string
	server tls.Certificate
}

// newTestCA makes a CA (written to a PEM file) and a certificate of it for the server names
// dnsNames and 127.0.0.1.
func newTestCA(t *testing.T, dnsNames ...string) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cdcd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: dnsNames, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testCA{caFile: caFile, server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// TestKafkaClientOptionsTLSAndSASL connects the daemon's client options to a broker that
// speaks TLS and SCRAM-SHA-512, and checks that each mistake (an unknown CA, a wrong server
// name) fails at once, with an error cdcd does not retry. A wrong password is tested against a
// real broker (integration/kafka_sasl_test.go): kfake closes the connection instead of
// answering SASL_AUTHENTICATION_FAILED as Kafka does.
func TestKafkaClientOptionsTLSAndSASL(t *testing.T) {
	ca := newTestCA(t, "broker.test")
	other := newTestCA(t, "broker.test")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "cdcd", "right-password"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()

	good := KafkaConfig{
		Brokers: cluster.ListenAddrs(),
		TLS:     KafkaTLSConfig{Enabled: true, CAFile: ca.caFile},
		SASL:    &KafkaSASLConfig{Mechanism: "SCRAM-SHA-512", Username: "cdcd", Password: "right-password"},
	}
	if problems := good.securityProblems(); len(problems) > 0 {
		t.Fatalf("a valid section has problems: %v", problems)
	}
	ping := func(k KafkaConfig) error {
		client, err := kgo.NewClient(append(kafkaClientOptions(&Config{Kafka: k}), kgo.RequestRetries(1))...)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return client.Ping(ctx)
	}
	if err := ping(good); err != nil {
		t.Fatalf("ping through TLS and SCRAM-SHA-512: %v", err)
	}

	for _, tc := range []struct {
		name    string
		edit    func(k *KafkaConfig)
		mention string
	}{
		{"unknown CA", func(k *KafkaConfig) { k.TLS.CAFile = other.caFile }, "unknown authority"},
		{"wrong server name", func(k *KafkaConfig) { k.TLS.ServerName = "elsewhere.test" }, "elsewhere.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := good
			tc.edit(&k)
			start := time.Now()
			err := ping(k)
			if err == nil {
				t.Fatal("ping succeeded")
			}
			if !isKafkaSecurityError(err) {
				t.Errorf("%v: not seen as a security error, cdcd would retry it", err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
			t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
		})
	}
}

func TestKafkaSecurityProblems(t *testing.T) {
	ca := newTestCA(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		k       KafkaConfig
		mention string // empty: valid
	}{
		{"tls, system roots", KafkaConfig{TLS: KafkaTLSConfig{Enabled: true}}, ""},
		{"tls, ca file", KafkaConfig{TLS: KafkaTLSConfig{Enabled: true, CAFile: ca.caFile}}, ""},
		{"tls settings without enabled", KafkaConfig{TLS: KafkaTLSConfig{CAFile: ca.caFile}}, "kafka.tls.enabled"},
		{"unreadable ca file", KafkaConfig{TLS: KafkaTLSConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"}}, "kafka.tls.ca_file: open /nonexistent/ca.pem"},
		{"ca file without a certificate", KafkaConfig{TLS: KafkaTLSConfig{Enabled: true, CAFile: token}}, "holds no PEM certificate"},
		{"cert without key", KafkaConfig{TLS: KafkaTLSConfig{Enabled: true, CertFile: ca.caFile}}, "kafka.tls.key_file"},
		{"unknown mechanism", KafkaConfig{SASL: &KafkaSASLConfig{Mechanism: "GSSAPI"}}, `kafka.sasl.mechanism: "GSSAPI" is not one of OAUTHBEARER, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{"no password", KafkaConfig{SASL: &KafkaSASLConfig{Mechanism: "PLAIN", Username: "u"}}, "kafka.sasl.password: required by PLAIN"},
		{"no username", KafkaConfig{SASL: &KafkaSASLConfig{Mechanism: "SCRAM-SHA-256", Password: "p"}}, "kafka.sasl.username"},
		{"oauth token file", KafkaConfig{SASL: &KafkaSASLConfig{Mechanism: "OAUTHBEARER", TokenFile: token}}, ""},
		{"oauth without token", KafkaConfig{SASL: &KafkaSASLConfig{Mechanism: "OAUTHBEARER"}}, "token_file or token_command"},
		{"oauth unreadable token", KafkaConfig{SASL: &KafkaSASLConfig{Mechanism: "OAUTHBEARER", TokenFile: "/nonexistent/token"}}, "kafka.sasl.token_file: open /nonexistent/token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := strings.Join(tc.k.securityProblems(), "\n")
			switch {
			case tc.mention == "" && problems != "":
				t.Errorf("problems: %s", problems)
			case tc.mention != "" && !strings.Contains(problems, tc.mention):
				t.Errorf("problems %q do not mention %q", problems, tc.mention)
			}
		})
	}
}

// TestParseConfigKafkaSecurity reads the sections from YAML, as the file gives them.
func TestParseConfigKafkaSecurity(t *testing.T) {
	ca := newTestCA(t)
	raw := strings.Replace(validConfig, "  brokers: [127.0.0.1:19092]\n", "  brokers: [127.0.0.1:19092]\n"+
		"  tls:\n    enabled: true\n    ca_file: "+ca.caFile+"\n    server_name: kafka.internal\n"+
		"  sasl:\n    mechanism: SCRAM-SHA-512\n    username: cdcd\n    password: kafka-s3cret\n", 1)
	cfg, err := parseConfig([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Kafka.TLS.Enabled || cfg.Kafka.TLS.ServerName != "kafka.internal" || cfg.Kafka.SASL.Password != "kafka-s3cret" ||
		cfg.Kafka.securityProtocol() != "SASL_SSL" {
		t.Errorf("kafka section %+v", cfg.Kafka)
	}
	_, err = parseConfig([]byte(strings.Replace(raw, "SCRAM-SHA-512", "SCRAM-SHA-1", 1)))
	if err == nil || !strings.Contains(err.Error(), "kafka.sasl.mechanism") {
		t.Errorf("an unknown mechanism: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "kafka-s3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestReadTokenCommand runs sasl.token_command and keeps its output's token only.
func TestReadTokenCommand(t *testing.T) {
	token, err := readToken(context.Background(), "", "echo '  tok-123 '")
	if err != nil || token != "tok-123" {
		t.Errorf("readToken = %q, %v", token, err)
	}
	if _, err := readToken(context.Background(), "", "true"); err == nil {
		t.Error("a command printing nothing gave a token")
	}
}

// TestFlatConnectorKafkaProperties: a connector carrying a Kafka client security property is
// told which setting of the daemon's file stands for it.
func TestFlatConnectorKafkaProperties(t *testing.T) {
	_, errs := unflattenConnector("c", map[string]string{
		"type":                               "postgres",
		"security.protocol":                  "SASL_SSL",
		"producer.override.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
		"consumer.override.ssl.truststore.location": "/ca.jks",
	})
	want := map[string]string{
		"security.protocol":                         "kafka.tls.enabled",
		"producer.override.sasl.jaas.config":        "kafka.sasl.username and kafka.sasl.password",
		"consumer.override.ssl.truststore.location": "kafka.tls.ca_file",
	}
	for _, e := range errs {
		if setting, ok := want[e.Name]; ok {
			if !strings.Contains(e.Message, setting) {
				t.Errorf("%s: %q does not name %s", e.Name, e.Message, setting)
			}
			delete(want, e.Name)
		}
	}
	for key := range want {
		t.Errorf("%s: no error", key)
	}
}

// TestOAuthBearerReadsTokenAtEachAuthentication: OAUTHBEARER sends the token file's content,
// read again at each authentication, so that a token refreshed in place is used by the next
// connection.
func TestOAuthBearerReadsTokenAtEachAuthentication(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	s := &KafkaSASLConfig{Mechanism: "OAUTHBEARER", TokenFile: file}
	m := saslMechanisms[s.Mechanism].build(s)
	for _, token := range []string{"first-token", "rotated-token"} {
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, msg, err := m.Authenticate(context.Background(), "broker:9093")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(msg), "auth=Bearer "+token+"\x01") {
			t.Errorf("the initial message %q does not carry the token %s", msg, token)
		}
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Authenticate(context.Background(), "broker:9093"); err == nil || !strings.Contains(err.Error(), "kafka.sasl.token_file") {
		t.Errorf("a missing token file: %v, want an error naming kafka.sasl.token_file", err)
	}
}

// TestInsecureSkipVerifyWarns: insecure_skip_verify is logged as a warning at start.
func TestInsecureSkipVerifyWarns(t *testing.T) {
	var buf strings.Builder
	log := zerolog.New(&buf)
	warnInsecureKafka(&Config{Kafka: KafkaConfig{Brokers: []string{"b:9093"}, TLS: KafkaTLSConfig{Enabled: true}}}, log)
	if buf.Len() != 0 {
		t.Errorf("a verified TLS warned: %s", buf.String())
	}
	warnInsecureKafka(&Config{Kafka: KafkaConfig{Brokers: []string{"b:9093"}, TLS: KafkaTLSConfig{Enabled: true, InsecureSkipVerify: true}}}, log)
	if got := buf.String(); !strings.Contains(got, `"level":"warn"`) || !strings.Contains(got, "kafka.tls.insecure_skip_verify") || !strings.Contains(got, "b:9093") {
		t.Errorf("insecure_skip_verify logged %q, want a warning naming the setting and the brokers", got)
	}
}
