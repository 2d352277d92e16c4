package schemaregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/format/avro"
)

// snapshot is what a client can see of a registry, for comparing two of them.
type snapshot struct {
	Subjects        []string
	DeletedSubjects []string
	Versions        map[string][]versionInfo
	Global          levelAnswer
	Levels          map[string]levelAnswer
}

func takeSnapshot(t *testing.T, a *api) snapshot {
	t.Helper()
	var s snapshot
	a.ok("GET", "/subjects", nil, &s.Subjects)
	a.ok("GET", "/subjects?deleted=true", nil, &s.DeletedSubjects)
	a.ok("GET", "/config", nil, &s.Global)
	s.Versions = map[string][]versionInfo{}
	s.Levels = map[string]levelAnswer{}
	for _, subject := range s.DeletedSubjects {
		var vs []int
		a.ok("GET", "/subjects/"+subject+"/versions?deleted=true", nil, &vs)
		for _, v := range vs {
			var info versionInfo
			a.ok("GET", fmt.Sprintf("/subjects/%s/versions/%d?deleted=true", subject, v), nil, &info)
			s.Versions[subject] = append(s.Versions[subject], info)
		}
		if ans := a.do("GET", "/config/"+subject, nil); ans.status == 200 {
			var l levelAnswer
			a.ok("GET", "/config/"+subject, nil, &l)
			s.Levels[subject] = l
		}
	}
	return s
}

func TestRestartRebuildsState(t *testing.T) {
	c := newCluster(t)
	first := openRegistry(t, c, WithTopic("schemas_restart"))
	a := newAPI(t, first)
	a.register("users-value", userV1)
	a.register("users-value", userV2)
	a.register("orders-value", orderV1)
	a.register("gone-value", stringV1)
	a.ok("DELETE", "/subjects/users-value/versions/1", nil, nil)
	a.ok("DELETE", "/subjects/gone-value", nil, nil)
	a.ok("DELETE", "/subjects/gone-value?permanent=true", nil, nil)
	a.ok("PUT", "/config", map[string]string{"compatibility": "FULL_TRANSITIVE"}, nil)
	a.ok("PUT", "/config/orders-value", map[string]string{"compatibility": "NONE"}, nil)
	before := takeSnapshot(t, a)
	first.Close()
	// A closed registry refuses writes rather than answering what the topic does not hold.
	a.fails("POST", "/subjects/late-value/versions", map[string]any{"schema": orderV1}, 500, codeStoreError)

	second := openRegistry(t, c, WithTopic("schemas_restart"))
	b := newAPI(t, second)
	after := takeSnapshot(t, b)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("state after restart differs:\nbefore %+v\nafter  %+v", before, after)
	}
	if len(after.Versions["users-value"]) != 2 || after.Global.CompatibilityLevel != "FULL_TRANSITIVE" {
		t.Fatalf("snapshot misses what was written: %+v", after)
	}
	// The next id continues after the highest ever issued, the hard-deleted one included.
	id := b.register("new-value", `{"type":"enum","name":"E","symbols":["A"]}`)
	if id != 5 {
		t.Fatalf("id after restart %d, want 5", id)
	}
}

func TestSecondProcessSeesWrites(t *testing.T) {
	c := newCluster(t)
	a := newAPI(t, openRegistry(t, c))
	b := newAPI(t, openRegistry(t, c))
	id := a.register("users-value", userV1)
	waitFor(t, 10*time.Second, "the second registry to see the schema", func() bool {
		return b.do("GET", fmt.Sprintf("/schemas/ids/%d", id), nil).status == 200
	})
	// Written by b after it has seen a's record: the next id, no clash.
	if id2 := b.register("orders-value", orderV1); id2 != id+1 {
		t.Fatalf("second process issued id %d, want %d", id2, id+1)
	}
	if again := b.register("users-value", userV1); again != id {
		t.Fatalf("second process re-registered with id %d, want %d", again, id)
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	r := openRegistry(t, newCluster(t))
	a := newAPI(t, r)
	a.ok("PUT", "/config", map[string]string{"compatibility": "NONE"}, nil)
	const n = 12
	ids := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			schema := fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"a","type":"int"}]}`, i)
			ids[i] = a.register(fmt.Sprintf("s%d-value", i%3), schema)
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("id %d issued twice: %v", id, ids)
		}
		seen[id] = true
	}
	for i := range 3 {
		var vs []int
		a.ok("GET", fmt.Sprintf("/subjects/s%d-value/versions", i), nil, &vs)
		if !reflect.DeepEqual(vs, []int{1, 2, 3, 4}) {
			t.Fatalf("subject s%d versions %v", i, vs)
		}
	}
}

func TestOpenRefusesUnusableTopic(t *testing.T) {
	c := newCluster(t)
	if err := c.CreateTopic("plain", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic("wide", 3, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"plain", "wide"} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		r, err := Open(ctx, WithBrokers(c.ListenAddrs()...), WithTopic(topic))
		cancel()
		if !errors.Is(err, ErrBadTopic) {
			if r != nil {
				r.Close()
			}
			t.Fatalf("topic %s: Open error %v, want ErrBadTopic", topic, err)
		}
	}
}

func TestOpenSkipsForeignRecords(t *testing.T) {
	c := newCluster(t)
	if err := c.CreateTopic("mixed", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, canonical, err := canonicalize(userV1)
	if err != nil {
		t.Fatal(err)
	}
	good, _, err := record{key: schemaKey("users-value", 1),
		schema: &schemaValue{Subject: "users-value", Version: 1, ID: 7, Schema: canonical}}.encode()
	if err != nil {
		t.Fatal(err)
	}
	goodValue := []byte(`{"subject":"users-value","version":1,"id":7,"schema":` + quote(canonical) + `,"deleted":false}`)
	recs := []*kgo.Record{
		{Topic: "mixed", Key: []byte(`{"keytype":"NOOP","magic":0}`), Value: []byte(`{}`)},
		{Topic: "mixed", Key: []byte(`not json`), Value: []byte(`{}`)},
		{Topic: "mixed", Key: good, Value: goodValue},
		// Same id, another schema: the first in the log keeps the id.
		{Topic: "mixed", Key: []byte(`{"keytype":"SCHEMA","subject":"orders-value","version":1,"magic":1}`),
			Value: []byte(`{"subject":"orders-value","version":1,"id":7,"schema":"\"string\"","deleted":false}`)},
		{Topic: "mixed", Key: []byte(`{"keytype":"CONFIG","magic":0}`), Value: []byte(`{"compatibilityLevel":"FORWARD"}`)},
	}
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, openRegistry(t, c, WithTopic("mixed")))
	var info versionInfo
	a.ok("GET", "/subjects/users-value/versions/1", nil, &info)
	if info.ID != 7 || info.Schema != canonical {
		t.Fatalf("loaded %+v", info)
	}
	a.fails("GET", "/subjects/orders-value/versions", nil, 404, codeSubjectNotFound)
	var level levelAnswer
	a.ok("GET", "/config", nil, &level)
	if level.CompatibilityLevel != avro.CompatForward {
		t.Fatalf("global level %q", level.CompatibilityLevel)
	}
	if id := a.register("orders-value", orderV1); id != 8 {
		t.Fatalf("next id %d, want 8", id)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
