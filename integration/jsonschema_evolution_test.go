package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/schemaregistry"
)

// jsonRegistryRecord is a json-registry record read raw: the schema ids of its key and value
// and the value's document.
type jsonRegistryRecord struct {
	keyID, valueID int
	value          map[string]any
}

// readJSONRegistry reads every committed record of topic until none comes for quiet, at least
// n of them, and splits Confluent's wire format of each.
func readJSONRegistry(t *testing.T, topic string, n int, quiet time.Duration) []jsonRegistryRecord {
	t.Helper()
	waitTopics(t, topic)
	client := NewKafkaClient(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	deadline := time.Now().Add(2 * time.Minute)
	var out []jsonRegistryRecord
	for {
		wait := quiet
		if len(out) < n {
			wait = time.Until(deadline)
		}
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		fetches := client.PollFetches(ctx)
		cancel()
		records := fetches.Records()
		if len(records) == 0 {
			if len(out) < n {
				t.Fatalf("reading %s: %d of %d records before the deadline", topic, len(out), n)
			}
			return out
		}
		for _, r := range records {
			var rec jsonRegistryRecord
			for _, part := range []struct {
				b  []byte
				id *int
			}{{r.Key, &rec.keyID}, {r.Value, &rec.valueID}} {
				if len(part.b) < 5 || part.b[0] != 0 {
					t.Fatalf("%s@%d: %q is not Confluent's wire format", topic, r.Offset, part.b)
				}
				*part.id = int(binary.BigEndian.Uint32(part.b[1:5]))
			}
			if err := json.Unmarshal(r.Value[5:], &rec.value); err != nil {
				t.Fatalf("%s@%d: the document: %v", topic, r.Offset, err)
			}
			out = append(out, rec)
		}
	}
}

// TestPostgresJSONRegistryEvolution streams a table in json-registry while it changes: a
// nullable column added registers a second version of the value subject (JSON Schema, a closed
// content model, so the change is BACKWARD-compatible) and the records carry its id; then a
// column's type changed to one BACKWARD forbids stops the connector with an error naming the
// table, the column and the rule, as the avro format does
// (TestPostgresIncompatibleSchemaChangeStopsTheConnector), and nothing more is written.
func TestPostgresJSONRegistryEvolution(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.items")
	c.ConnectorExtra = []string{"format: json-registry"}
	cdcd := c.StartStreaming(t, conn)
	topic := c.Topic("items")
	subject := c.RegistryURL() + "/subjects/" + topic + "-value/versions"

	mustExec(t, conn, `INSERT INTO items VALUES (1, 10)`)
	first := readJSONRegistry(t, topic, 1, time.Second)
	mustExec(t, conn, `ALTER TABLE items ADD COLUMN note text`)
	mustExec(t, conn, `INSERT INTO items VALUES (2, 20, 'twenty')`)
	got := readJSONRegistry(t, topic, 2, time.Second)
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	after := got[1].value["after"].(map[string]any)
	if got[1].valueID == first[0].valueID || after["note"] != "twenty" || got[1].keyID != first[0].keyID {
		t.Errorf("after the column was added: value id %d (first %d), key id %d (first %d), after %v",
			got[1].valueID, first[0].valueID, got[1].keyID, first[0].keyID, after)
	}
	versions, err := httpGetBody(t.Context(), subject)
	if err != nil || strings.TrimSpace(string(versions)) != "[1,2]" {
		t.Fatalf("the value subject's versions = %s (%v), want [1,2]", versions, err)
	}
	v2, err := httpGetBody(t.Context(), subject+"/2")
	if err != nil || !strings.Contains(string(v2), `"schemaType":"JSON"`) || !strings.Contains(string(v2), fmt.Sprintf(`"id":%d`, got[1].valueID)) {
		t.Errorf("version 2 = %s (%v), want the JSON Schema of id %d", v2, err, got[1].valueID)
	}

	mustExec(t, conn, `ALTER TABLE items ALTER COLUMN qty TYPE text`)
	mustExec(t, conn, `INSERT INTO items VALUES (3, 'thirty', NULL)`)
	if code := cdcd.Wait(time.Minute); code == 0 {
		t.Errorf("cdcd exited 0 after an incompatible change; want a failure")
	}
	for _, want := range []string{"public.items", `column "qty"`, "BACKWARD", topic + "-value"} {
		if !cdcd.LogsContain(want) {
			t.Errorf("the error does not name %s; log:\n%s", want, cdcd.Logs())
		}
	}
	if all := readJSONRegistry(t, topic, 2, 2*time.Second); len(all) != 2 {
		t.Errorf("records after the incompatible change: %d in all, want 2", len(all))
	}
	versions, err = httpGetBody(t.Context(), c.RegistryURLWhileDown(t)+"/subjects/"+topic+"-value/versions")
	if err != nil || strings.TrimSpace(string(versions)) != "[1,2]" {
		t.Errorf("the value subject's versions = %s (%v), want only [1,2]", versions, err)
	}
}

// TestPostgresJSONRegistryExternalRegistry runs json-registry against a registry of its own at
// registry.url (a registry served by the test, which records what cdcd sends): every schema is
// registered with schemaType JSON, and the records carry the ids that registry gave.
func TestPostgresJSONRegistryExternalRegistry(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.items")
	c.ConnectorExtra = []string{"format: json-registry"}

	reg, err := schemaregistry.Open(t.Context(), schemaregistry.WithBrokers(StackFromEnv().KafkaAddr),
		schemaregistry.WithTopic(c.Prefix+"_external_schemas"))
	if err != nil {
		t.Fatalf("opening the external registry: %v", err)
	}
	t.Cleanup(reg.Close)
	var mu sync.Mutex
	var registered []string // "<subject path> <schemaType>" of each registration
	inner := reg.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct{ SchemaType string }
			_ = json.Unmarshal(body, &req)
			mu.Lock()
			registered = append(registered, r.URL.Path+" "+req.SchemaType)
			mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	embedded := "registry:\n  listen: " + c.Registry + "\n  topic: " + c.Prefix + "_schemas\n"
	cfg := c.Config()
	if !strings.Contains(cfg, embedded) {
		t.Fatalf("the connector's config has no embedded registry section to replace:\n%s", cfg)
	}
	cdcd := StartCDCD(t, strings.Replace(cfg, embedded, "registry:\n  url: "+srv.URL+"\n", 1))
	c.WaitStreaming(t, conn)
	mustExec(t, conn, `INSERT INTO items VALUES (1, 10)`)
	got := readJSONRegistry(t, c.Topic("items"), 1, time.Second)

	var latest struct {
		ID         int
		SchemaType string
	}
	body, err := httpGetBody(t.Context(), srv.URL+"/subjects/"+c.Topic("items")+"-value/versions/latest")
	if err != nil || json.Unmarshal(body, &latest) != nil || latest.ID != got[0].valueID || latest.SchemaType != "JSON" {
		t.Errorf("the external registry's value subject = %s (%v), want the record's id %d as JSON", body, err, got[0].valueID)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/subjects/" + c.Topic("items") + "-value/versions JSON", "/subjects/" + c.Topic("items") + "-key/versions JSON"}
	for _, w := range want {
		found := false
		for _, r := range registered {
			found = found || r == w
		}
		if !found {
			t.Errorf("registrations %v, want %s among them", registered, w)
		}
	}
	for _, r := range registered {
		if !strings.HasSuffix(r, " JSON") {
			t.Errorf("a registration without schemaType JSON: %s", r)
		}
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}
