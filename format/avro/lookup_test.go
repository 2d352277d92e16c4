package avro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

// encodeItems encodes one insert of the items table version with its price column of type
// price, through e.
func encodeItems(ctx context.Context, e *Encoder, version uint64, price decoder.Type) error {
	_, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(version, price),
		After: itemsRow(set(decoder.Value{Int: 3}))})
	return err
}

// TestEncoderReusesAnOlderRegisteredVersion is a restart after a process was killed between
// registering a table's new schema and committing its records: the subject's latest version is
// the newer schema (price long), and the rows replayed first still have the older one (price
// int), already registered as an earlier version. The older schema must be found and reused,
// not checked as a new version against the newer one (int after long fails BACKWARD).
func TestEncoderReusesAnOlderRegisteredVersion(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	reg.rewrite = true // a registry answers its own rendering of a schema, never our text
	if err := encodeItems(ctx, newTestEncoder(t, reg), 1, decoder.TypeInt32); err != nil {
		t.Fatal(err)
	}
	if err := encodeItems(ctx, newTestEncoder(t, reg), 2, decoder.TypeInt64); err != nil {
		t.Fatal(err) // the killed run's registration
	}
	n := reg.callCount()
	restarted := newTestEncoder(t, reg)
	if err := encodeItems(ctx, restarted, 1, decoder.TypeInt32); err != nil {
		t.Fatalf("replaying a row of the older schema after a restart: %v", err)
	}
	for _, c := range reg.calls[n:] {
		if !strings.HasPrefix(c, "lookup ") {
			t.Errorf("registry call %q for schemas the subject already has: only lookups are needed", c)
		}
	}
	if got := len(reg.subjects["cdc.public.items-value"]); got != 2 {
		t.Errorf("value subject has %d versions, want 2", got)
	}
	// The newer rows that follow reuse the newer version.
	if err := encodeItems(ctx, restarted, 2, decoder.TypeInt64); err != nil {
		t.Fatal(err)
	}
	if got := len(reg.subjects["cdc.public.items-value"]); got != 2 {
		t.Errorf("value subject has %d versions after the newer rows, want 2", got)
	}
	// A schema new to the subject is still checked.
	err := encodeItems(ctx, restarted, 3, decoder.TypeString)
	if !errors.Is(err, ErrIncompatible) {
		t.Errorf("a new incompatible schema: err %v, want ErrIncompatible", err)
	}
}

// standIn is a Confluent-compatible registry on loopback that, like Confluent's, stores and
// answers its own rendering of a schema (here the JSON with sorted keys) and checks nothing.
type standIn struct {
	mu       sync.Mutex
	subjects map[string][]Schema
	texts    map[int]string
	failWith int // when set, every lookup answers this status (a registry in trouble)
	srv      *httptest.Server
}

func newStandIn(t *testing.T) *standIn {
	t.Helper()
	s := &standIn{subjects: map[string][]Schema{}, texts: map[int]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config/{subject}", func(w http.ResponseWriter, _ *http.Request) {
		standInJSON(w, 200, map[string]any{"compatibilityLevel": "BACKWARD"})
	})
	mux.HandleFunc("GET /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		vs := s.subjects[r.PathValue("subject")]
		if len(vs) == 0 {
			standInJSON(w, 404, map[string]any{"error_code": 40401, "message": "Subject not found."})
			return
		}
		nums := make([]int, len(vs))
		for i, v := range vs {
			nums[i] = v.Version
		}
		standInJSON(w, 200, nums)
	})
	mux.HandleFunc("GET /subjects/{subject}/versions/{v}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		n, _ := strconv.Atoi(r.PathValue("v"))
		for _, v := range s.subjects[r.PathValue("subject")] {
			if v.Version == n {
				standInJSON(w, 200, map[string]any{"subject": r.PathValue("subject"), "id": v.ID, "version": v.Version, "schema": v.Schema})
				return
			}
		}
		standInJSON(w, 404, map[string]any{"error_code": 40402, "message": "Version not found."})
	})
	mux.HandleFunc("POST /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		text, ok := standInBody(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		subject := r.PathValue("subject")
		for _, v := range s.subjects[subject] {
			if v.Schema == text {
				standInJSON(w, 200, map[string]any{"id": v.ID})
				return
			}
		}
		id := len(s.texts) + 1
		s.texts[id] = text
		s.subjects[subject] = append(s.subjects[subject], Schema{ID: id, Version: len(s.subjects[subject]) + 1, Schema: text})
		standInJSON(w, 200, map[string]any{"id": id})
	})
	mux.HandleFunc("POST /subjects/{subject}", func(w http.ResponseWriter, r *http.Request) {
		text, ok := standInBody(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.failWith != 0 {
			standInJSON(w, s.failWith, map[string]any{"error_code": s.failWith * 100, "message": "trouble"})
			return
		}
		subject := r.PathValue("subject")
		vs := s.subjects[subject]
		if len(vs) == 0 {
			standInJSON(w, 404, map[string]any{"error_code": 40401, "message": "Subject not found."})
			return
		}
		for _, v := range vs {
			if v.Schema == text {
				standInJSON(w, 200, map[string]any{"subject": subject, "id": v.ID, "version": v.Version, "schema": v.Schema})
				return
			}
		}
		standInJSON(w, 404, map[string]any{"error_code": 40403, "message": "Schema not found"})
	})
	mux.HandleFunc("GET /schemas/ids/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		id, _ := strconv.Atoi(r.PathValue("id"))
		standInJSON(w, 200, map[string]any{"schema": s.texts[id]})
	})
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func standInJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// standInBody reads a request's schema and renders it as the stand-in stores schemas.
func standInBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var body struct {
		Schema string `json:"schema"`
	}
	var v any
	err := json.NewDecoder(r.Body).Decode(&body)
	if err == nil {
		err = json.Unmarshal([]byte(body.Schema), &v)
	}
	if err != nil {
		standInJSON(w, 422, map[string]any{"error_code": 42201, "message": fmt.Sprintf("Invalid schema: %v", err)})
		return "", false
	}
	b, _ := json.Marshal(v)
	return string(b), true
}

func (s *standIn) versions(subject string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subjects[subject])
}

// TestSRClientReusesAnOlderRegisteredVersion is TestEncoderReusesAnOlderRegisteredVersion
// through the HTTP client against a Confluent-compatible registry.
func TestSRClientReusesAnOlderRegisteredVersion(t *testing.T) {
	ctx := context.Background()
	reg := newStandIn(t)
	client := NewSRClient(reg.srv.URL, nil)
	if err := encodeItems(ctx, newTestEncoder(t, client), 1, decoder.TypeInt32); err != nil {
		t.Fatal(err)
	}
	if err := encodeItems(ctx, newTestEncoder(t, client), 2, decoder.TypeInt64); err != nil {
		t.Fatal(err)
	}
	if err := encodeItems(ctx, newTestEncoder(t, NewSRClient(reg.srv.URL, nil)), 1, decoder.TypeInt32); err != nil {
		t.Fatalf("replaying a row of the older schema after a restart: %v", err)
	}
	if got := reg.versions("cdc.public.items-value"); got != 2 {
		t.Errorf("value subject has %d versions, want 2", got)
	}
}

// TestSRClientLookup checks what Lookup makes of the registry's answers.
func TestSRClientLookup(t *testing.T) {
	ctx := context.Background()
	reg := newStandIn(t)
	c := NewSRClient(reg.srv.URL, nil)
	const v1 = `{"type":"record","name":"K","fields":[{"name":"id","type":"int"}]}`
	const v2 = `{"type":"record","name":"K","fields":[{"name":"id","type":"long"}]}`
	if _, ok, err := c.Lookup(ctx, "t-value", v1); ok || err != nil {
		t.Errorf("Lookup in an unknown subject = %v, %v; want not found", ok, err)
	}
	id, err := c.Register(ctx, "t-value", v1)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Lookup(ctx, "t-value", v1)
	if !ok || err != nil || got.ID != id || got.Version != 1 {
		t.Errorf("Lookup of a registered schema = %+v, %v, %v; want id %d version 1", got, ok, err, id)
	}
	if _, ok, err := c.Lookup(ctx, "t-value", v2); ok || err != nil {
		t.Errorf("Lookup of a schema the subject lacks = %v, %v; want not found", ok, err)
	}
	reg.mu.Lock()
	reg.failWith = 500
	reg.mu.Unlock()
	_, _, err = c.Lookup(ctx, "t-value", v2)
	var re *RegistryError
	if !errors.As(err, &re) || re.Op != "lookup" || !IsRetryable(err) {
		t.Errorf("Lookup while the registry fails = %v; want a retryable *RegistryError", err)
	}
}
