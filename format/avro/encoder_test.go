package avro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riferrei/srclient"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
)

func itemsTable(version uint64, price decoder.Type) *decoder.Table {
	return &decoder.Table{Namespace: "public", Name: "items", Version: version, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "price", Type: price},
	}}
}

func itemsRow(price decoder.Value) []decoder.Value {
	return []decoder.Value{set(decoder.Value{Int: 1}), price}
}

func TestEncoderRegistersOnceAndCaches(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	v1 := itemsTable(1, decoder.TypeInt32)
	if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: v1, After: itemsRow(set(decoder.Value{Int: 3}))}); err != nil {
		t.Fatal(err)
	}
	if len(reg.subjects["cdc.public.items-key"]) != 1 || len(reg.subjects["cdc.public.items-value"]) != 1 {
		t.Fatalf("subjects after first encode: %v", reg.subjects)
	}
	n := reg.callCount()
	for range 3 {
		if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: v1, After: itemsRow(set(decoder.Value{Int: 4}))}); err != nil {
			t.Fatal(err)
		}
	}
	// A new description with the same schema (a relation message sent again) costs nothing.
	same := itemsTable(2, decoder.TypeInt32)
	if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: same, After: itemsRow(set(decoder.Value{Int: 4}))}); err != nil {
		t.Fatal(err)
	}
	if reg.callCount() != n {
		t.Errorf("registry called %d more times for known schemas: %v", reg.callCount()-n, reg.calls[n:])
	}
	// A new encoder (a restart) finds its schemas already registered and registers nothing.
	e2 := newTestEncoder(t, reg)
	if _, _, _, err := e2.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: v1, After: itemsRow(set(decoder.Value{Int: 4}))}); err != nil {
		t.Fatal(err)
	}
	for _, c := range reg.calls[n:] {
		if strings.HasPrefix(c, "register") {
			t.Errorf("restart registered again: %s", c)
		}
	}
}

func TestEncoderRejectsIncompatibleChange(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(1, decoder.TypeInt32), After: itemsRow(set(decoder.Value{Int: 3}))}); err != nil {
		t.Fatal(err)
	}
	v2 := itemsTable(2, decoder.TypeString)
	_, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: v2, After: itemsRow(set(decoder.Value{Bytes: []byte("3")}))})
	var ie *IncompatibleError
	if !errors.As(err, &ie) {
		t.Fatalf("want *IncompatibleError, got %v", err)
	}
	if ie.Subject != "cdc.public.items-value" || ie.Table != "public.items" || ie.Column != "price" || ie.Level != CompatBackward {
		t.Errorf("error %+v", ie)
	}
	if !strings.Contains(err.Error(), `table public.items: column "price" changed from int to string, which BACKWARD forbids`) {
		t.Errorf("message %q", err)
	}
	if IsRetryable(err) {
		t.Error("an incompatible change is not retryable")
	}
	for _, s := range []string{"cdc.public.items-value", "cdc.public.items-key"} {
		if len(reg.subjects[s]) != 1 {
			t.Errorf("%s has %d versions, want 1: nothing may be registered", s, len(reg.subjects[s]))
		}
	}

	// The subject's own level wins over the default.
	reg.levels["cdc.public.items-value"] = CompatNone
	if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: v2, After: itemsRow(set(decoder.Value{Bytes: []byte("3")}))}); err != nil {
		t.Fatalf("level NONE: %v", err)
	}
	if len(reg.subjects["cdc.public.items-value"]) != 2 {
		t.Errorf("value versions %d, want 2", len(reg.subjects["cdc.public.items-value"]))
	}
}

// TestIncompatibleErrorNamesRegistryVersions: the error names the subject's versions, not the
// decoder's count of table descriptions, which restarts at 1 with each run of the stream.
func TestIncompatibleErrorNamesRegistryVersions(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	for i, typ := range []decoder.Type{decoder.TypeInt32, decoder.TypeInt64} {
		if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(uint64(i+1), typ),
			After: itemsRow(set(decoder.Value{Int: 3}))}); err != nil {
			t.Fatal(err)
		}
	}
	restarted := newTestEncoder(t, reg)
	_, _, _, err := restarted.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(1, decoder.TypeString),
		After: itemsRow(set(decoder.Value{Bytes: []byte("3")}))})
	var ie *IncompatibleError
	if !errors.As(err, &ie) || ie.Version != 2 || ie.NewVersion != 3 {
		t.Fatalf("want an *IncompatibleError against version 2 for version 3, got %+v", err)
	}
	want := `(subject cdc.public.items-value: the new schema, which would be version 3, breaks with version 2)`
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "version 1") {
		t.Errorf("message %q, want it to contain %q and no version 1", err, want)
	}
}

func TestEncoderDefaultCompatibility(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg, WithDefaultCompatibility(CompatNone))
	for i, typ := range []decoder.Type{decoder.TypeInt32, decoder.TypeString} {
		v := set(decoder.Value{Int: 3, Bytes: []byte("3")})
		if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(uint64(i+1), typ), After: itemsRow(v)}); err != nil {
			t.Fatalf("version %d: %v", i+1, err)
		}
	}
	reg.global = CompatBackward // the registry's level wins over the default
	_, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(3, decoder.TypeBool), After: itemsRow(set(decoder.Value{Int: 1}))})
	if !errors.Is(err, ErrIncompatible) {
		t.Fatalf("global BACKWARD: err %v", err)
	}
}

func TestEncoderRegistryOutage(t *testing.T) {
	reg := newFakeRegistry()
	reg.fail = errOutage
	e := newTestEncoder(t, reg)
	_, _, _, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(1, decoder.TypeInt32), After: itemsRow(set(decoder.Value{Int: 3}))})
	var re *RegistryError
	if !errors.As(err, &re) || !errors.Is(err, errOutage) {
		t.Fatalf("want *RegistryError, got %v", err)
	}
	if !strings.Contains(err.Error(), "http://fake") || !strings.Contains(err.Error(), "cdc.public.items-value") {
		t.Errorf("message %q does not name registry and subject", err)
	}
	if !IsRetryable(err) {
		t.Error("an outage is retryable")
	}
	// Once the registry is back, the same table encodes.
	reg.fail = nil
	if _, _, _, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(1, decoder.TypeInt32), After: itemsRow(set(decoder.Value{Int: 3}))}); err != nil {
		t.Fatal(err)
	}
}

func TestSubjectStrategies(t *testing.T) {
	for _, tc := range []struct {
		s          SubjectStrategy
		key, value string
	}{
		{TopicNameStrategy, "cdc.public.items-key", "cdc.public.items-value"},
		{RecordNameStrategy, "cdc.public.items.Key", "cdc.public.items.Envelope"},
		{TopicRecordNameStrategy, "cdc.public.items-cdc.public.items.Key", "cdc.public.items-cdc.public.items.Envelope"},
	} {
		reg := newFakeRegistry()
		e := newTestEncoder(t, reg, WithSubjectStrategy(tc.s))
		if _, _, _, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(1, decoder.TypeInt32), After: itemsRow(set(decoder.Value{Int: 3}))}); err != nil {
			t.Fatal(err)
		}
		if len(reg.subjects[tc.key]) != 1 || len(reg.subjects[tc.value]) != 1 {
			t.Errorf("strategy %d: subjects %v", tc.s, reg.calls)
		}
	}
}

func TestNewEncoderValidate(t *testing.T) {
	reg := newFakeRegistry()
	ok := []Option{WithTopicPrefix("cdc"), WithRegistry(reg), WithSource(postgres.SourceBlock)}
	for _, tc := range []struct {
		name  string
		opts  []Option
		valid bool
	}{
		{"minimal", ok, true},
		{"no prefix", []Option{WithRegistry(reg), WithSource(postgres.SourceBlock)}, false},
		{"no registry", []Option{WithTopicPrefix("cdc"), WithSource(postgres.SourceBlock)}, false},
		{"no source", []Option{WithTopicPrefix("cdc"), WithRegistry(reg)}, false},
		{"bad kind", append(ok[:3:3], WithSource(&decoder.SourceBlock{Connector: "oracle"})), false},
		{"mysql", append(ok[:3:3], WithSource(mysql.SourceBlock)), true},
		{"bad strategy", append(ok[:3:3], WithSubjectStrategy(9)), false},
		{"bad compat", append(ok[:3:3], WithDefaultCompatibility("SIDEWAYS")), false},
		{"empty compat", append(ok[:3:3], WithDefaultCompatibility("")), false},
		{"nil clock", append(ok[:3:3], WithClock(nil)), false},
		{"empty placeholder", append(ok[:3:3], WithPlaceholder("")), true},
	} {
		_, err := NewEncoder(tc.opts...)
		if tc.valid != (err == nil) {
			t.Errorf("%s: err %v", tc.name, err)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v does not wrap ErrConfig", tc.name, err)
		}
	}
}

func TestIsRetryable(t *testing.T) {
	wrap := func(err error) error { return &RegistryError{URL: "u", Subject: "s", Op: "register", Err: err} }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"server error", wrap(srclient.Error{Code: 50001}), true},
		{"too many requests", wrap(srclient.Error{Code: 429}), true},
		{"subject not found", wrap(srclient.Error{Code: 40401}), false},
		{"invalid schema", wrap(srclient.Error{Code: 42201}), false},
		{"transport", wrap(&url.Error{Op: "Post", URL: "u", Err: errOutage}), true},
		{"deadline", wrap(context.DeadlineExceeded), true},
		{"canceled", wrap(context.Canceled), false},
		{"bare status", wrap(errors.New("502 Bad Gateway")), true},
		{"bad json", wrap(fmt.Errorf("x: %w", &json.SyntaxError{})), false},
		{"incompatible", fmt.Errorf("x: %w", &IncompatibleError{}), false},
		{"other", errors.New("boom"), false},
	} {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("%s: IsRetryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSRClient runs the srclient-backed Registry against a stand-in registry on loopback.
func TestSRClient(t *testing.T) {
	const schema = `{"type":"record","name":"K","fields":[{"name":"id","type":"int"}]}`
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	registered := false
	mux.HandleFunc("GET /config/{subject}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("subject") == "bare-value" {
			writeJSON(w, 404, map[string]any{"error_code": 40408, "message": "no level"})
			return
		}
		writeJSON(w, 200, map[string]any{"compatibilityLevel": "FULL_TRANSITIVE"})
	})
	mux.HandleFunc("GET /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		if !registered {
			writeJSON(w, 404, map[string]any{"error_code": 40401, "message": "Subject not found"})
			return
		}
		writeJSON(w, 200, []int{1})
	})
	mux.HandleFunc("GET /subjects/{subject}/versions/{v}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"subject": r.PathValue("subject"), "id": 7, "version": 1, "schema": schema})
	})
	mux.HandleFunc("POST /subjects/{subject}/versions", func(w http.ResponseWriter, r *http.Request) {
		registered = true
		writeJSON(w, 200, map[string]any{"id": 7})
	})
	mux.HandleFunc("GET /schemas/ids/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"schema": schema})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx := context.Background()
	c := NewSRClient(srv.URL, nil)
	if lvl, err := c.Compatibility(ctx, "t-value"); err != nil || lvl != CompatFullTransitive {
		t.Errorf("Compatibility = %q, %v", lvl, err)
	}
	if lvl, err := c.Compatibility(ctx, "bare-value"); err != nil || lvl != "" {
		t.Errorf("Compatibility without level = %q, %v", lvl, err)
	}
	if vs, err := c.Versions(ctx, "t-value"); err != nil || len(vs) != 0 {
		t.Errorf("Versions of unknown subject = %v, %v", vs, err)
	}
	if id, err := c.Register(ctx, "t-value", schema); err != nil || id != 7 {
		t.Errorf("Register = %d, %v", id, err)
	}
	vs, err := c.Versions(ctx, "t-value")
	if err != nil || len(vs) != 1 || vs[0] != (Schema{ID: 7, Version: 1, Schema: schema}) {
		t.Errorf("Versions = %v, %v", vs, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Versions(cancelled, "t-value"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}

	srv.Close() // the registry goes away
	_, err = NewSRClient(srv.URL, &http.Client{Timeout: time.Second}).Register(ctx, "t-value", schema)
	var re *RegistryError
	if !errors.As(err, &re) || re.URL != srv.URL || re.Subject != "t-value" || !IsRetryable(err) {
		t.Errorf("outage: %v", err)
	}
}

// BenchmarkEncodeValue encodes an update of a 10-column table through the hot path.
func BenchmarkEncodeValue(b *testing.B) {
	tab := &decoder.Table{Namespace: "public", Name: "orders", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true},
		{Name: "customer", Type: decoder.TypeInt32},
		{Name: "status", Type: decoder.TypeString, Optional: true},
		{Name: "total", Type: decoder.TypeDecimal, Precision: 12, Scale: 2},
		{Name: "paid", Type: decoder.TypeBool},
		{Name: "created", Type: decoder.TypeTimestampMicros},
		{Name: "updated", Type: decoder.TypeZonedTimestamp, Optional: true},
		{Name: "weight", Type: decoder.TypeFloat64, Optional: true},
		{Name: "note", Type: decoder.TypeString, Optional: true},
		{Name: "ref", Type: decoder.TypeUUID, Optional: true},
	}}
	row := []decoder.Value{
		set(decoder.Value{Int: 123456}), set(decoder.Value{Int: 42}), set(decoder.Value{Bytes: []byte("shipped")}),
		set(decoder.Value{Bytes: []byte{0x01, 0xe2, 0x40}}), set(decoder.Value{Int: 1}),
		set(decoder.Value{Int: 1_700_000_000_123_456}), set(decoder.Value{Bytes: []byte("2023-11-14T22:13:20.123456Z")}),
		set(decoder.Value{Float: 12.5}), {}, set(decoder.Value{Bytes: []byte("123e4567-e89b-12d3-a456-426614174000")}),
	}
	e := newTestEncoder(b, newFakeRegistry())
	ch := &decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: row, After: row,
		Source: postgres.NewSourceInfo(fixedNow, decoder.SnapshotFalse, 1, 1)}
	ctx := context.Background()
	if _, _, _, err := e.Encode(ctx, ch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, _, err := e.Encode(ctx, ch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncoderSizesLargeValuesOnce checks that a large value is written into one buffer of
// about its size, not grown by doubling (each copy stays until the collector runs, and the
// last one may be up to twice the value), and that the table's later small values do not get
// buffers as large as it.
func TestEncoderSizesLargeValuesOnce(t *testing.T) {
	ctx := context.Background()
	e := newTestEncoder(t, newFakeRegistry())
	tab := itemsTable(1, decoder.TypeBytes)
	big := make([]byte, 4<<20)
	_, _, value, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: tab, After: itemsRow(set(decoder.Value{Bytes: big}))})
	if err != nil {
		t.Fatal(err)
	}
	if len(value) < len(big) || cap(value)-len(value) > 4096 {
		t.Errorf("a %d-byte value in a buffer of %d, want at most 4 KiB spare", len(value), cap(value))
	}
	_, _, value, err = e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: tab, After: itemsRow(set(decoder.Value{Bytes: []byte("x")}))})
	if err != nil {
		t.Fatal(err)
	}
	if cap(value) > 128<<10 {
		t.Errorf("the small value after the large one has a buffer of %d bytes", cap(value))
	}
}
