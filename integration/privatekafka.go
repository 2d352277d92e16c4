package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// privateKafkaScript is the stack script that runs a broker, relative to this package's folder
// (where `go test` runs the tests).
const privateKafkaScript = "../deploy/dev/kafka.sh"

// privateKafkaTimeout bounds one run of the script: a start includes the JVM and, the first time,
// formatting the data folder; a stop waits up to 60 s for a clean shutdown before SIGKILL.
const privateKafkaTimeout = 5 * time.Minute

// PrivateKafka is a Kafka broker of the calling test's own, run by deploy/dev/kafka.sh in a
// private stack folder on free ports, beside the shared stack's broker. A test may stop it and
// start it again (the same broker, with its data) to see how cdcd lives through an outage, which
// the shared broker, used by every other test, must never go through.
type PrivateKafka struct {
	addr string
	// saslAddr is the SASL_SSL listener's host:port; stackDir the private stack's folder.
	saslAddr string
	stackDir string
	env      []string
}

// The SASL user of the stack's SASL_SSL listener (deploy/dev/kafka.sh): PLAIN, SCRAM-SHA-256
// and SCRAM-SHA-512.
const (
	KafkaSASLUser     = "cdcd"
	KafkaSASLPassword = "cdcd-secret"
)

// PrivateKafkaListener is one more PLAINTEXT listener of a private broker: it listens on Addr
// and tells the clients that connect through it to connect to Advertised, so that a proxy
// there carries every connection of those clients (the brokers' metadata names Advertised).
type PrivateKafkaListener struct {
	// Name is the listener's name, upper case (MEMBER0); Addr and Advertised are host:port.
	Name, Addr, Advertised string
}

// StartPrivateKafka starts a private broker, with the extra listeners given, and registers its
// stop when the test ends, whatever state the test left it in. A free port can be taken by
// another process between the moment it is chosen and the broker's bind (other tests' servers,
// on a shared machine): a first start that fails on a port in use is tried again on new ports.
func StartPrivateKafka(t testing.TB, listeners ...PrivateKafkaListener) *PrivateKafka {
	t.Helper()
	for attempt := 1; ; attempt++ {
		k := newPrivateKafka(t, listeners)
		out, err := k.script("up")
		if err == nil {
			return k
		}
		log := k.logTail()
		if attempt < 3 && strings.Contains(log, "Address already in use") {
			t.Logf("the private Kafka's port was taken (attempt %d), trying new ports:\n%s", attempt, log)
			continue
		}
		t.Fatalf("starting the private Kafka on %s: %v\n%s\nkafka.log:\n%s", k.addr, err, out, log)
	}
}

// newPrivateKafka chooses a private broker's ports and folder, and registers its stop.
func newPrivateKafka(t testing.TB, listeners []PrivateKafkaListener) *PrivateKafka {
	t.Helper()
	// Three distinct free ports: the listener, the KRaft controller and the SASL_SSL listener.
	addr, controller, sasl := FreeAddr(t), FreeAddr(t), FreeAddr(t)
	for controller == addr {
		controller = FreeAddr(t)
	}
	for sasl == addr || sasl == controller {
		sasl = FreeAddr(t)
	}
	_, port, _ := strings.Cut(addr, ":")
	_, controllerPort, _ := strings.Cut(controller, ":")
	_, saslPort, _ := strings.Cut(sasl, ":")
	stackDir := filepath.Join(t.TempDir(), "stack")
	k := &PrivateKafka{
		addr:     addr,
		saslAddr: sasl,
		stackDir: stackDir,
		env: append(os.Environ(),
			"CDCD_STACK_DIR="+stackDir,
			"CDCD_KAFKA_PORT="+port,
			"CDCD_KAFKA_CONTROLLER_PORT="+controllerPort,
			"CDCD_KAFKA_SASL_PORT="+saslPort,
			// Half the shared broker's heap: the test's traffic is small, and the machine
			// runs the shared stack too.
			"CDCD_KAFKA_HEAP=-Xms256m -Xmx512m",
		),
	}
	var extra []string
	for _, l := range listeners {
		_, port, _ := strings.Cut(l.Addr, ":")
		_, advertised, _ := strings.Cut(l.Advertised, ":")
		extra = append(extra, l.Name+":"+port+":"+advertised)
	}
	k.env = append(k.env, "CDCD_KAFKA_EXTRA_LISTENERS="+strings.Join(extra, " "))
	// Registered after t.TempDir, so it runs before the folder is removed.
	t.Cleanup(func() {
		if out, err := k.script("down"); err != nil {
			t.Errorf("stopping the private Kafka on %s: %v\n%s", k.addr, err, out)
		}
	})
	return k
}

// logTail is the end of the broker's log, which says why a start failed (the folder goes with
// the test).
func (k *PrivateKafka) logTail() string {
	raw, err := os.ReadFile(filepath.Join(k.stackDir, "kafka", "kafka.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

// Addr is the broker's host:port.
func (k *PrivateKafka) Addr() string { return k.addr }

// SASLAddr is the host:port of the broker's SASL_SSL listener (users KafkaSASLUser).
func (k *PrivateKafka) SASLAddr() string { return k.saslAddr }

// CAFile is the PEM file of the CA that signed the SASL_SSL listener's certificate (made by
// kafka.sh at the first start; the certificate is for localhost and 127.0.0.1).
func (k *PrivateKafka) CAFile() string { return filepath.Join(k.stackDir, "kafka", "tls", "ca.pem") }

// Start starts the broker, or starts it again after Stop with the data it had, and returns once
// it answers metadata requests.
func (k *PrivateKafka) Start(t testing.TB) {
	t.Helper()
	if out, err := k.script("up"); err != nil {
		t.Fatalf("starting the private Kafka on %s: %v\n%s\nkafka.log:\n%s", k.addr, err, out, k.logTail())
	}
}

// Stop stops the broker (SIGTERM, a clean shutdown) and returns once its process has exited.
// Its data folder stays, for Start.
func (k *PrivateKafka) Stop(t testing.TB) {
	t.Helper()
	if out, err := k.script("down"); err != nil {
		t.Fatalf("stopping the private Kafka on %s: %v\n%s", k.addr, err, out)
	}
}

// Client returns a client of this broker with opts added, closed when the test ends.
func (k *PrivateKafka) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	// NewKafkaClient seeds the shared broker first; a later SeedBrokers replaces it.
	return NewKafkaClient(t, append([]kgo.Opt{kgo.SeedBrokers(k.addr)}, opts...)...)
}

// NewAvroConsumer is [NewAvroConsumer] reading this broker.
func (k *PrivateKafka) NewAvroConsumer(t testing.TB, registryURL string, topics ...string) *AvroConsumer {
	t.Helper()
	return &AvroConsumer{
		client: k.Client(t,
			kgo.ConsumeTopics(topics...),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		),
		registryURL: registryURL,
		schemas:     map[uint32]avro.Schema{},
	}
}

// UseIn returns config, a cdcd config written for the shared stack (its kafka section's brokers
// line names the shared broker), pointed at this broker instead.
func (k *PrivateKafka) UseIn(t testing.TB, config string) string {
	t.Helper()
	shared := "  brokers: [" + StackFromEnv().KafkaAddr + "]\n"
	if n := strings.Count(config, shared); n != 1 {
		t.Fatalf("the config has %d brokers lines %q, want 1:\n%s", n, shared, config)
	}
	return strings.Replace(config, shared, "  brokers: ["+k.addr+"]\n", 1)
}

// script runs kafka.sh with command on this broker's stack, returning its output. It does not
// use the test's context: the cleanup's stop runs after that context is cancelled.
func (k *PrivateKafka) script(command string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), privateKafkaTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, privateKafkaScript, command)
	cmd.Env = k.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kafka.sh %s: %w", command, err)
	}
	return out.String(), nil
}

// UseSASLIn returns config, a cdcd config written for the shared stack, pointed at this
// broker's SASL_SSL listener with the given mechanism and password (of KafkaSASLUser) and tls,
// the lines of the kafka section's tls block (enabled: true and the CA, unless given).
func (k *PrivateKafka) UseSASLIn(t testing.TB, config, mechanism, password string, tls ...string) string {
	t.Helper()
	if len(tls) == 0 {
		tls = []string{"enabled: true", "ca_file: " + k.CAFile()}
	}
	section := "  brokers: [" + k.saslAddr + "]\n  tls:\n" + indentLines(tls, "    ") +
		"  sasl:\n    mechanism: " + mechanism + "\n    username: " + KafkaSASLUser + "\n    password: " + password + "\n"
	shared := "  brokers: [" + StackFromEnv().KafkaAddr + "]\n"
	if n := strings.Count(config, shared); n != 1 {
		t.Fatalf("the config has %d brokers lines %q, want 1:\n%s", n, shared, config)
	}
	return strings.Replace(config, shared, section, 1)
}

// SASLClient returns a client of this broker's SASL_SSL listener (SCRAM-SHA-512, the CA of
// CAFile) with opts added, closed when the test ends.
func (k *PrivateKafka) SASLClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	pem, err := os.ReadFile(k.CAFile())
	if err != nil {
		t.Fatalf("reading the private Kafka's CA: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", k.CAFile())
	}
	return NewKafkaClient(t, append([]kgo.Opt{
		kgo.SeedBrokers(k.saslAddr),
		kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
		kgo.SASL(scram.Auth{User: KafkaSASLUser, Pass: KafkaSASLPassword}.AsSha512Mechanism()),
	}, opts...)...)
}

// NewSASLAvroConsumer is [PrivateKafka.NewAvroConsumer] reading through the SASL_SSL listener.
func (k *PrivateKafka) NewSASLAvroConsumer(t testing.TB, registryURL string, topics ...string) *AvroConsumer {
	t.Helper()
	return &AvroConsumer{
		client: k.SASLClient(t,
			kgo.ConsumeTopics(topics...),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		),
		registryURL: registryURL,
		schemas:     map[uint32]avro.Schema{},
	}
}
