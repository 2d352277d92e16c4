package schemaregistry

import (
	"errors"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	u1 := mustCanonical(t, userV1)
	for _, r := range []record{
		schemaRec("users-value", 3, 7, u1, true),
		{key: schemaKey("users-value", 2)},
		{key: configKey(""), config: &configValue{CompatibilityLevel: "FULL"}},
		{key: configKey("users-value"), config: &configValue{CompatibilityLevel: "NONE"}},
		{key: configKey("users-value")},
		{key: watermarkKey(), watermark: &watermarkValue{MaxID: 12}},
	} {
		key, value, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := decodeRecord(key, value)
		if err != nil || !ok {
			t.Fatalf("decoding %s / %s: ok=%v %v", key, value, ok, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip of %s: %+v, want %+v", key, got, r)
		}
	}
	// The key layout is Confluent's.
	key, _, err := record{key: schemaKey("s", 1)}.encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`; string(key) != want {
		t.Fatalf("schema key %s, want %s", key, want)
	}
	key, _, err = record{key: configKey("")}.encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"keytype":"CONFIG","magic":0}`; string(key) != want {
		t.Fatalf("global config key %s, want %s", key, want)
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	tests := []struct {
		name       string
		key, value string
		bad        bool // errBadRecord; otherwise skipped as foreign
	}{
		{"empty key", "", "", true},
		{"not json", "{", "", true},
		{"foreign key type", `{"keytype":"NOOP","magic":0}`, `{}`, false},
		{"schema without subject", `{"keytype":"SCHEMA","version":1,"magic":1}`, "", true},
		{"schema version 0", `{"keytype":"SCHEMA","subject":"s","version":0,"magic":1}`, "", true},
		{"value of another key", `{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`,
			`{"subject":"t","version":1,"id":1,"schema":"\"int\""}`, true},
		{"id 0", `{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`,
			`{"subject":"s","version":1,"id":0,"schema":"\"int\""}`, true},
		{"schema value not json", `{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`, `[`, true},
		{"config value not json", `{"keytype":"CONFIG","magic":0}`, `"x`, true},
		{"watermark value not json", `{"keytype":"ID_WATERMARK","magic":0}`, `{"maxId":"x"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := decodeRecord([]byte(tt.key), []byte(tt.value))
			if ok {
				t.Fatal("accepted")
			}
			if tt.bad != errors.Is(err, errBadRecord) {
				t.Fatalf("error %v, want errBadRecord=%v", err, tt.bad)
			}
		})
	}
}

// FuzzDecodeRecord feeds arbitrary keys and values to the topic decoder and to the state: a
// topic written by anyone must never crash the registry.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`),
		[]byte(`{"subject":"s","version":1,"id":1,"schema":"\"int\"","deleted":false}`))
	f.Add([]byte(`{"keytype":"CONFIG","subject":"s","magic":0}`), []byte(`{"compatibilityLevel":"FULL"}`))
	f.Add([]byte(`{"keytype":"ID_WATERMARK","magic":0}`), []byte(`{"maxId":4}`))
	f.Add([]byte(`{"keytype":"SCHEMA","subject":"s","version":2,"magic":1}`), []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		r, ok, err := decodeRecord(key, value)
		if err != nil || !ok {
			return
		}
		s := newState()
		if err := s.apply(r); err != nil {
			return
		}
		if r.schema != nil && s.subjects[r.schema.Subject][r.schema.Version] == nil {
			t.Fatalf("applied schema record not in state: %+v", r.schema)
		}
	})
}
