package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
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
	env  []string
}

// StartPrivateKafka starts a private broker and registers its stop when the test ends, whatever
// state the test left it in.
func StartPrivateKafka(t testing.TB) *PrivateKafka {
	t.Helper()
	// Two distinct free ports: the listener and the KRaft controller.
	addr, controller := FreeAddr(t), FreeAddr(t)
	for controller == addr {
		controller = FreeAddr(t)
	}
	_, port, _ := strings.Cut(addr, ":")
	_, controllerPort, _ := strings.Cut(controller, ":")
	k := &PrivateKafka{
		addr: addr,
		env: append(os.Environ(),
			"CDCD_STACK_DIR="+filepath.Join(t.TempDir(), "stack"),
			"CDCD_KAFKA_PORT="+port,
			"CDCD_KAFKA_CONTROLLER_PORT="+controllerPort,
			// Half the shared broker's heap: the test's traffic is small, and the machine
			// runs the shared stack too.
			"CDCD_KAFKA_HEAP=-Xms256m -Xmx512m",
		),
	}
	// Registered after t.TempDir, so it runs before the folder is removed.
	t.Cleanup(func() {
		if out, err := k.script("down"); err != nil {
			t.Errorf("stopping the private Kafka on %s: %v\n%s", k.addr, err, out)
		}
	})
	k.Start(t)
	return k
}

// Addr is the broker's host:port.
func (k *PrivateKafka) Addr() string { return k.addr }

// Start starts the broker, or starts it again after Stop with the data it had, and returns once
// it answers metadata requests.
func (k *PrivateKafka) Start(t testing.TB) {
	t.Helper()
	if out, err := k.script("up"); err != nil {
		t.Fatalf("starting the private Kafka on %s: %v\n%s", k.addr, err, out)
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
