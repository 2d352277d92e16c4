package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// KafkaTLSConfig is how cdcd's Kafka clients speak TLS to the brokers (Kafka's
// security.protocol SSL, or SASL_SSL with a sasl section). docs/security.md shows each field
// beside the Kafka client property it stands for.
type KafkaTLSConfig struct {
	// Enabled turns TLS on; the other fields need it.
	Enabled bool `json:"enabled"`
	// CAFile is a PEM file of the certificates that may sign the brokers' (ssl.truststore.*);
	// empty: the system's roots, as a managed Kafka with a public certificate needs.
	CAFile string `json:"ca_file"`
	// CertFile and KeyFile are the client's certificate and key, PEM, for a broker that
	// authenticates its clients by certificate (ssl.keystore.*, ssl.client.auth=required).
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ServerName is the name the brokers' certificates must carry; empty: each broker's host,
	// as it is dialed.
	ServerName string `json:"server_name"`
	// InsecureSkipVerify accepts any certificate (ssl.endpoint.identification.algorithm empty,
	// and no trust check at all): for a test bench only, and logged as a warning.
	InsecureSkipVerify bool `json:"insecure_skip_verify"`
}

// KafkaSASLConfig is how cdcd's Kafka clients authenticate (Kafka's sasl.mechanism and
// sasl.jaas.config).
type KafkaSASLConfig struct {
	// Mechanism is one of saslMechanisms' names: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or
	// OAUTHBEARER.
	Mechanism string `json:"mechanism"`
	// Username and Password are PLAIN's and SCRAM's credentials.
	Username string `json:"username"`
	Password string `json:"password"`
	// TokenFile is a file whose content (trimmed) is OAUTHBEARER's token, read at every
	// authentication, so that a token refreshed in place is used by the next connection.
	TokenFile string `json:"token_file"`
	// TokenCommand is a command run (through sh -c) at every authentication, whose standard
	// output (trimmed) is OAUTHBEARER's token; one of TokenFile and TokenCommand.
	TokenCommand string `json:"token_command"`
}

// tokenCommandTimeout bounds one run of sasl.token_command.
const tokenCommandTimeout = 30 * time.Second

// saslMechanism is one SASL mechanism cdcd knows: what its section needs, and how to build it.
// A new mechanism (a cloud's IAM, AWS_MSK_IAM) is one more entry of saslMechanisms, with the
// fields it needs added to KafkaSASLConfig.
type saslMechanism struct {
	// problems lists what s lacks for this mechanism, each "field: problem".
	problems func(s *KafkaSASLConfig) []string
	// build returns the franz-go mechanism of s (checked).
	build func(s *KafkaSASLConfig) sasl.Mechanism
}

// saslMechanisms are the mechanisms of kafka.sasl.mechanism, by Kafka's name for each.
var saslMechanisms = map[string]saslMechanism{
	"PLAIN": {problems: needUserPassword, build: func(s *KafkaSASLConfig) sasl.Mechanism {
		return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
	}},
	"SCRAM-SHA-256": {problems: needUserPassword, build: func(s *KafkaSASLConfig) sasl.Mechanism {
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
	}},
	"SCRAM-SHA-512": {problems: needUserPassword, build: func(s *KafkaSASLConfig) sasl.Mechanism {
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
	}},
	"OAUTHBEARER": {problems: needToken, build: func(s *KafkaSASLConfig) sasl.Mechanism {
		file, command := s.TokenFile, s.TokenCommand
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			token, err := readToken(ctx, file, command)
			return oauth.Auth{Token: token}, err
		})
	}},
}

// saslMechanismNames are saslMechanisms' names, sorted, for messages.
func saslMechanismNames() []string {
	names := make([]string, 0, len(saslMechanisms))
	for name := range saslMechanisms {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func needUserPassword(s *KafkaSASLConfig) []string {
	var problems []string
	if s.Username == "" {
		problems = append(problems, "username: required by "+s.Mechanism)
	}
	if s.Password == "" {
		problems = append(problems, "password: required by "+s.Mechanism)
	}
	if s.TokenFile != "" || s.TokenCommand != "" {
		problems = append(problems, "token_file, token_command: for OAUTHBEARER only, not "+s.Mechanism)
	}
	return problems
}

func needToken(s *KafkaSASLConfig) []string {
	var problems []string
	switch {
	case s.TokenFile == "" && s.TokenCommand == "":
		problems = append(problems, "token_file: OAUTHBEARER needs token_file or token_command")
	case s.TokenFile != "" && s.TokenCommand != "":
		problems = append(problems, "token_command: give token_file or token_command, not both")
	case s.TokenFile != "":
		if err := readable(s.TokenFile); err != nil {
			problems = append(problems, "token_file: "+err.Error())
		}
	}
	if s.Username != "" || s.Password != "" {
		problems = append(problems, "username, password: for PLAIN and SCRAM, not OAUTHBEARER")
	}
	return problems
}

// readToken returns OAUTHBEARER's token, from file or from command's output. Its errors never
// carry the token.
func readToken(ctx context.Context, file, command string) (string, error) {
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("kafka.sasl.token_file: %w", err)
		}
		if token := strings.TrimSpace(string(raw)); token != "" {
			return token, nil
		}
		return "", fmt.Errorf("kafka.sasl.token_file %s is empty", file)
	}
	ctx, cancel := context.WithTimeout(ctx, tokenCommandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kafka.sasl.token_command: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if token := strings.TrimSpace(stdout.String()); token != "" {
		return token, nil
	}
	return "", errors.New("kafka.sasl.token_command printed no token")
}

// readable says why path cannot be read, or nil.
func readable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// securityProblems lists the problems of the kafka section's tls and sasl, each "path: problem".
func (k *KafkaConfig) securityProblems() []string {
	var problems []string
	t := k.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		problems = append(problems, "kafka.tls.enabled: the tls section's settings need enabled: true")
	}
	if t.Enabled {
		if _, err := k.tlsConfig(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if s := k.SASL; s != nil {
		m, ok := saslMechanisms[s.Mechanism]
		if !ok {
			problems = append(problems, fmt.Sprintf("kafka.sasl.mechanism: %q is not one of %s", s.Mechanism, strings.Join(saslMechanismNames(), ", ")))
		} else {
			for _, p := range m.problems(s) {
				problems = append(problems, "kafka.sasl."+p)
			}
		}
	}
	return problems
}

// tlsConfig is the TLS configuration of kafka.tls (enabled), its files read; its errors name
// the field.
func (k *KafkaConfig) tlsConfig() (*tls.Config, error) {
	t := k.TLS
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // InsecureSkipVerify is the user's explicit, logged choice.
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file: %s holds no PEM certificate", t.CAFile)
		}
	}
	switch {
	case t.CertFile != "" && t.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			// LoadX509KeyPair's errors name the files, never the key's bytes.
			return nil, fmt.Errorf("kafka.tls.cert_file, key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	case t.CertFile != "":
		return nil, errors.New("kafka.tls.key_file: cert_file needs its key_file")
	case t.KeyFile != "":
		return nil, errors.New("kafka.tls.cert_file: key_file needs its cert_file")
	}
	return c, nil
}

// securityOptions are the client options of kafka.tls and kafka.sasl.
func (k *KafkaConfig) securityOptions() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if k.TLS.Enabled {
		c, err := k.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(c))
	}
	if s := k.SASL; s != nil {
		m, ok := saslMechanisms[s.Mechanism]
		if !ok {
			return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not one of %s", s.Mechanism, strings.Join(saslMechanismNames(), ", "))
		}
		opts = append(opts, kgo.SASL(m.build(s)))
	}
	return opts, nil
}

// securityProtocol is Kafka's security.protocol of the section: PLAINTEXT, SSL, SASL_PLAINTEXT
// or SASL_SSL, for the logs.
func (k *KafkaConfig) securityProtocol() string {
	switch {
	case k.TLS.Enabled && k.SASL != nil:
		return "SASL_SSL"
	case k.TLS.Enabled:
		return "SSL"
	case k.SASL != nil:
		return "SASL_PLAINTEXT"
	}
	return "PLAINTEXT"
}

// warnInsecureKafka logs, at each start, that kafka.tls.insecure_skip_verify is set: an
// explicit choice, never a silent one.
func warnInsecureKafka(cfg *Config, log zerolog.Logger) {
	if cfg.Kafka.TLS.Enabled && cfg.Kafka.TLS.InsecureSkipVerify {
		log.Warn().Strs("brokers", cfg.Kafka.Brokers).
			Msg("kafka.tls.insecure_skip_verify: the brokers' certificates are not checked; anyone on the path can read and change what cdcd sends")
	}
}

// isKafkaSecurityError says whether err is the brokers refusing cdcd's credentials or an
// operation (an ACL missing), or cdcd refusing the brokers' certificate: trying again cannot
// help, the configuration must change.
func isKafkaSecurityError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
		alert    tls.AlertError
		eof      *kgo.ErrFirstReadEOF
	)
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) ||
		errors.Is(err, kerr.IllegalSaslState) ||
		// An ACL missing (docs/security.md lists those cdcd needs).
		errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &header) || errors.As(err, &alert) ||
		// The broker hung up at the first request: it wants SASL (or TLS) cdcd did not send.
		errors.As(err, &eof)
}

// kafkaClientProperties are Kafka's client properties of the connection's security, each with
// the setting of the daemon's config file that stands for it. A Kafka Connect connector may
// carry them (producer.override.sasl.jaas.config ...); cdcd's Kafka clients are the daemon's,
// configured once in its file's kafka section, so a connector that gives one is told where it
// goes rather than that the key is unknown.
var kafkaClientProperties = map[string]string{
	"security.protocol":                     "kafka.tls.enabled (SSL), kafka.sasl (SASL_PLAINTEXT), both (SASL_SSL)",
	"sasl.mechanism":                        "kafka.sasl.mechanism",
	"sasl.jaas.config":                      "kafka.sasl.username and kafka.sasl.password",
	"sasl.oauthbearer.token.endpoint.url":   "kafka.sasl.token_command",
	"ssl.truststore.location":               "kafka.tls.ca_file",
	"ssl.truststore.certificates":           "kafka.tls.ca_file",
	"ssl.truststore.type":                   "kafka.tls.ca_file (PEM)",
	"ssl.truststore.password":               "kafka.tls.ca_file (PEM, no password)",
	"ssl.keystore.location":                 "kafka.tls.cert_file and kafka.tls.key_file",
	"ssl.keystore.certificate.chain":        "kafka.tls.cert_file",
	"ssl.keystore.key":                      "kafka.tls.key_file",
	"ssl.keystore.type":                     "kafka.tls.cert_file and kafka.tls.key_file (PEM)",
	"ssl.keystore.password":                 "kafka.tls.key_file (PEM, unencrypted)",
	"ssl.key.password":                      "kafka.tls.key_file (PEM, unencrypted)",
	"ssl.endpoint.identification.algorithm": "kafka.tls.server_name, or kafka.tls.insecure_skip_verify",
}

// kafkaPropertyProblem says, for a connector's flat key that is one of kafkaClientProperties
// (bare, or under Kafka Connect's producer., consumer. or admin. override prefixes), where
// the setting goes instead; ok is false for any other key.
func kafkaPropertyProblem(key string) (problem string, ok bool) {
	bare := key
	for _, prefix := range []string{"producer.override.", "consumer.override.", "admin.override.", "producer.", "consumer.", "admin."} {
		if rest, found := strings.CutPrefix(key, prefix); found {
			bare = rest
			break
		}
	}
	setting, ok := kafkaClientProperties[bare]
	if !ok {
		return "", false
	}
	return "cdcd's Kafka clients are the daemon's, not the connector's: set " + setting +
		" in the daemon's config file (docs/security.md)", true
}
