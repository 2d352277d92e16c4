package main

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/cdcd-dev/cdcd/worker"
)

// dials counts the connections each component's Kafka clients open through a marked dialer.
type dials struct {
	mu sync.Mutex
	n  map[string]int
}

// marked returns the daemon's client options for cfg with, added to them, a dialer that
// counts the connections of who.
func (d *dials) marked(cfg *Config, who string) []kgo.Opt {
	var dialer net.Dialer
	return append(kafkaClientOptions(cfg), kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
		d.mu.Lock()
		d.n[who]++
		d.mu.Unlock()
		return dialer.DialContext(ctx, network, host)
	}))
}

func (d *dials) count(who string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[who]
}

// waitDialed waits until who's clients have connected through the marked dialer.
func (d *dials) waitDialed(t *testing.T, who string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for d.count(who) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s's Kafka clients never dialed through the options they were given", who)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// idleSource streams nothing until its context ends.
type idleSource struct{}

func (idleSource) Stream(ctx context.Context, _ offsets.Position, _ *connectors.Queue) error {
	<-ctx.Done()
	return ctx.Err()
}

func (idleSource) Ack(offsets.Position) error { return nil }

// noEncoder is never called: the idle source sends nothing.
type noEncoder struct{}

func (noEncoder) EncodeRecord(context.Context, *transform.Record) (string, []byte, []byte, error) {
	return "", nil, nil, errors.New("no encoder")
}

// TestKafkaClientOptionsReachEveryClient: the client options the daemon makes from its
// configuration (kafkaClientOptions, here with a dialer that marks each component's
// connections added) are those of the Kafka clients of the worker (config store, offsets), of
// the embedded registry's store and of a connector's pipeline (offsets read, hanging
// transaction watch, producer): a TLS or SASL option added there reaches them all.
func TestKafkaClientOptionsReachEveryClient(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := &Config{
		Kafka:    KafkaConfig{Brokers: cluster.ListenAddrs(), OffsetsTopic: "offs", ConfigTopic: "cfgs"},
		Registry: RegistryConfig{Listen: "127.0.0.1:0", Topic: "schemas", Compatibility: defaultCompatibility},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	d := &dials{n: make(map[string]int)}

	t.Run("embedded registry", func(t *testing.T) {
		_, stop, err := serveEmbeddedRegistry(ctx, cfg, d.marked(cfg, "registry"), zerolog.Nop())
		if err != nil {
			t.Fatalf("serving the embedded registry: %v", err)
		}
		defer stop()
		d.waitDialed(t, "registry")
	})

	t.Run("worker", func(t *testing.T) {
		withURL := *cfg
		withURL.Registry.URL = "http://127.0.0.1:1" // no embedded registry: the worker's clients alone
		mgr, stop, err := startWorker(ctx, &withURL, d.marked(cfg, "worker"), nil, zerolog.Nop(), nil,
			worker.ConfigTopic(cfg.Kafka.ConfigTopic))
		if err != nil {
			t.Fatalf("starting the worker: %v", err)
		}
		defer stop()
		defer mgr.Close()
		d.waitDialed(t, "worker")
	})

	t.Run("pipeline", func(t *testing.T) {
		conn := ConnectorConfig{Name: "c", Type: "postgres", TopicPrefix: "p"}
		opts, err := pipelineOptions(cfg, d.marked(cfg, "pipeline"), conn, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		p, err := pipeline.New(idleSource{}, noEncoder{}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stopRun := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- p.Run(runCtx) }()
		d.waitDialed(t, "pipeline")
		stopRun()
		<-ran
	})
}

// TestKafkaClientOptionsMadeInOnePlace: no file of cmd/cdcd but kafka.go builds Kafka client
// options from the configuration's brokers (kgo.SeedBrokers, or a component's seed-broker
// option); the others take kafkaClientOptions' result.
func TestKafkaClientOptionsMadeInOnePlace(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	banned := map[string]bool{"kgo.SeedBrokers": true, "pipeline.SeedBrokers": true, "worker.SeedBrokers": true,
		"schemaregistry.WithBrokers": true}
	fset := token.NewFileSet()
	for _, name := range files {
		if name == "kafka.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && banned[x.Name+"."+sel.Sel.Name] {
				t.Errorf("%s: %s.%s: Kafka client options are made in kafkaClientOptions (kafka.go) only",
					fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
			}
			return true
		})
	}
}

// TestFailuresAllWhenEveryConnectorFailed: with the API off, cdcd exits once every connector
// of its file has failed for good, with each one's error in the file's order.
func TestFailuresAllWhenEveryConnectorFailed(t *testing.T) {
	var logs strings.Builder
	f := newFailures([]ConnectorConfig{{Name: "b"}, {Name: "a"}}, zerolog.New(&logs))
	closed := func() bool {
		select {
		case <-f.all:
			return true
		default:
			return false
		}
	}
	f.add("a", errors.New("schema incompatible"))
	if closed() {
		t.Fatal("all closed with one connector of two failed")
	}
	f.add("a", errors.New("again")) // a connector failing twice counts once
	if closed() {
		t.Fatal("all closed with one connector of two failed twice")
	}
	f.add("b", errors.New("fenced"))
	if !closed() {
		t.Fatal("all not closed with both connectors failed")
	}
	f.add("b", errors.New("later")) // no second close
	if got, want := f.err().Error(), "connector b: later\nconnector a: again"; got != want {
		t.Fatalf("err = %q, want %q", got, want)
	}
	// Each failure says that its connector stopped, with its error, as cdcd always has.
	if n := strings.Count(logs.String(), `"message":"connector stopped"`); n != 4 ||
		!strings.Contains(logs.String(), `"error":"schema incompatible","connector":"a"`) {
		t.Fatalf("logs:\n%s\nwant 4 lines \"connector stopped\" with the connector and its error", logs.String())
	}
}
