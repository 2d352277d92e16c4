package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcd-dev/cdcd/schemaregistry"
)

// openEmbeddedRegistry opens the embedded registry on the stack's Kafka and serves it over
// HTTP; the returned stop closes both (also called when the test ends; calling it twice is
// harmless).
func openEmbeddedRegistry(t *testing.T, topic string) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	reg, err := schemaregistry.Open(ctx, schemaregistry.WithBrokers(StackFromEnv().KafkaAddr), schemaregistry.WithTopic(topic))
	if err != nil {
		t.Fatalf("opening the embedded registry on topic %s: %v", topic, err)
	}
	srv := httptest.NewServer(reg.Handler())
	stop = func() {
		srv.Close()
		reg.Close()
	}
	t.Cleanup(stop)
	return srv.URL, stop
}

// deleteTopicAtEnd deletes the registry's topic, which the registry created itself, when the
// test ends.
func deleteTopicAtEnd(t *testing.T, topic string) {
	t.Helper()
	admin := kadm.NewClient(NewKafkaClient(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.DeleteTopic(ctx, topic); err != nil {
			t.Errorf("deleting topic %s: %v", topic, err)
		}
	})
}

// TestEmbeddedRegistryServesConfluentClient drives the embedded registry on the real Kafka
// through a third-party Confluent client (srclient): register, read back by subject and by id,
// idempotence, a 409 for an incompatible schema, then a restart on the same topic that must
// answer the same, and a second process that sees a schema registered by the first.
func TestEmbeddedRegistryServesConfluentClient(t *testing.T) {
	topic := Name(t, "schemas")
	deleteTopicAtEnd(t, topic)
	url, stop := openEmbeddedRegistry(t, topic)

	const subject = "shop.public.users-value"
	v1 := `{"type":"record","name":"Value","namespace":"shop.public.users",
		"fields":[{"name":"id","type":"long"},{"name":"name","type":["null","string"],"default":null}]}`
	v2 := `{"type":"record","name":"Value","namespace":"shop.public.users",
		"fields":[{"name":"id","type":"long"},{"name":"name","type":["null","string"],"default":null},
		{"name":"email","type":["null","string"],"default":null}]}`
	bad := `{"type":"record","name":"Value","namespace":"shop.public.users",
		"fields":[{"name":"id","type":"string"}]}`

	client := srclient.CreateSchemaRegistryClient(url)
	created, err := client.CreateSchema(subject, v1, srclient.Avro)
	if err != nil {
		t.Fatalf("CreateSchema v1: %v", err)
	}
	if created.Codec() == nil {
		t.Fatal("srclient built no Avro codec from the schema the registry answered")
	}
	again, err := srclient.CreateSchemaRegistryClient(url).CreateSchema(subject, v1, srclient.Avro)
	if err != nil {
		t.Fatalf("CreateSchema v1 again: %v", err)
	}
	if again.ID() != created.ID() {
		t.Fatalf("registering v1 twice gave ids %d and %d", created.ID(), again.ID())
	}
	created2, err := client.CreateSchema(subject, v2, srclient.Avro)
	if err != nil {
		t.Fatalf("CreateSchema v2: %v", err)
	}
	if created2.ID() == created.ID() {
		t.Fatalf("v2 got v1's id %d", created.ID())
	}
	_, err = client.CreateSchema(subject, bad, srclient.Avro)
	var srErr srclient.Error
	if !errors.As(err, &srErr) || srErr.Code != 409 {
		t.Fatalf("incompatible schema: error %v, want a 409", err)
	}

	check := func(url, when string) {
		t.Helper()
		c := srclient.CreateSchemaRegistryClient(url)
		c.CachingEnabled(false)
		latest, err := c.GetLatestSchema(subject)
		if err != nil {
			t.Fatalf("%s: GetLatestSchema: %v", when, err)
		}
		if latest.ID() != created2.ID() || latest.Version() != 2 {
			t.Fatalf("%s: latest is id %d version %d, want id %d version 2", when, latest.ID(), latest.Version(), created2.ID())
		}
		byID, err := c.GetSchema(created.ID())
		if err != nil {
			t.Fatalf("%s: GetSchema(%d): %v", when, created.ID(), err)
		}
		if byID.Schema() != created.Schema() {
			t.Fatalf("%s: schema %d is %s, want %s", when, created.ID(), byID.Schema(), created.Schema())
		}
		// The codec decodes what it encodes: the registry's text is a usable Avro schema.
		bin, err := byID.Codec().BinaryFromNative(nil, map[string]any{"id": int64(42), "name": map[string]any{"string": "ada"}})
		if err != nil {
			t.Fatalf("%s: encoding with schema %d: %v", when, created.ID(), err)
		}
		if _, _, err := byID.Codec().NativeFromBinary(bin); err != nil {
			t.Fatalf("%s: decoding with schema %d: %v", when, created.ID(), err)
		}
		versions, err := c.GetSchemaVersions(subject)
		if err != nil || fmt.Sprint(versions) != "[1 2]" {
			t.Fatalf("%s: versions %v, %v", when, versions, err)
		}
	}
	check(url, "before restart")

	// A second process on the same topic sees what the first registers from now on.
	otherURL, _ := openEmbeddedRegistry(t, topic)
	other := srclient.CreateSchemaRegistryClient(otherURL)
	other.CachingEnabled(false)
	keySchema := `{"type":"record","name":"Key","namespace":"shop.public.users","fields":[{"name":"id","type":"long"}]}`
	key, err := client.CreateSchema("shop.public.users-key", keySchema, srclient.Avro)
	if err != nil {
		t.Fatalf("CreateSchema key: %v", err)
	}
	WaitFor(t, 30*time.Second, "the second registry to serve the key schema", func() error {
		got, err := other.GetLatestSchema("shop.public.users-key")
		if err != nil {
			return err
		}
		if got.ID() != key.ID() {
			return fmt.Errorf("id %d, want %d", got.ID(), key.ID())
		}
		return nil
	})

	// Restart: everything comes back from the topic alone.
	stop()
	restartedURL, _ := openEmbeddedRegistry(t, topic)
	check(restartedURL, "after restart")
	restarted := srclient.CreateSchemaRegistryClient(restartedURL)
	keyAgain, err := restarted.CreateSchema("shop.public.users-key", keySchema, srclient.Avro)
	if err != nil || keyAgain.ID() != key.ID() {
		t.Fatalf("re-registering the key after restart: id %v, %v; want %d", keyAgain, err, key.ID())
	}
}
