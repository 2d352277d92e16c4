package schemaregistry

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	avroformat "github.com/cdcd-dev/cdcd/format/avro"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		ok   bool
	}{
		{"defaults with brokers", []Option{WithBrokers("b:9092")}, true},
		{"everything set", []Option{WithBrokers("b:9092"), WithTopic("t"), WithReplicationFactor(3),
			WithDefaultCompatibility(avroformat.CompatFull), WithWriteTimeout(time.Second)}, true},
		{"no brokers", nil, false},
		{"empty topic", []Option{WithBrokers("b"), WithTopic("")}, false},
		{"zero replication", []Option{WithBrokers("b"), WithReplicationFactor(0)}, false},
		{"negative replication", []Option{WithBrokers("b"), WithReplicationFactor(-2)}, false},
		{"unknown level", []Option{WithBrokers("b"), WithDefaultCompatibility("SIDEWAYS")}, false},
		{"zero timeout", []Option{WithBrokers("b"), WithWriteTimeout(0)}, false},
		{"nil logger", []Option{WithBrokers("b"), WithLogger(nil)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			for _, o := range tt.opts {
				o(&cfg)
			}
			err := cfg.validate()
			if (err == nil) != tt.ok {
				t.Fatalf("validate() = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("validate() = %v, not ErrInvalidOption", err)
			}
		})
	}
}

func TestCanonicalize(t *testing.T) {
	_, a, err := canonicalize(userV1)
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := canonicalize(userV1b)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("spacing and attribute order changed the identity:\n%s\n%s", a, b)
	}
	_, again, err := canonicalize(a)
	if err != nil || again != a {
		t.Fatalf("canonical form is not a fixed point: %q, %v", again, err)
	}
	// A default, a doc, a logical type and a custom property are part of the schema.
	withDefault := `{"type":"record","name":"User","namespace":"t","fields":[{"name":"id","type":"long","default":0}]}`
	withProps := `{"type":"record","name":"User","namespace":"t","connect.name":"t.User","fields":[{"name":"id","type":{"type":"long","logicalType":"timestamp-millis"},"doc":"d"}]}`
	for _, s := range []string{withDefault, withProps} {
		_, c, err := canonicalize(s)
		if err != nil {
			t.Fatal(err)
		}
		if c == a {
			t.Fatalf("%s has the identity of %s", s, userV1)
		}
	}
	_, c, err := canonicalize(withProps)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"connect.name":"t.User"`, `"logicalType":"timestamp-millis"`, `"doc":"d"`} {
		if !strings.Contains(c, want) {
			t.Errorf("canonical form %s lost %s", c, want)
		}
	}
	// Named types do not leak from one schema into another through a shared cache.
	if _, _, err := canonicalize(`{"type":"record","name":"Ref","fields":[{"name":"u","type":"t.User"}]}`); err == nil {
		t.Fatal("a schema using a type it does not define parsed")
	}
}

func mustCanonical(t *testing.T, s string) string {
	t.Helper()
	_, c, err := canonicalize(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func schemaRec(subject string, version, id int, schema string, deleted bool) record {
	return record{key: schemaKey(subject, version),
		schema: &schemaValue{Subject: subject, Version: version, ID: id, Schema: schema, Deleted: deleted}}
}

func TestStateApply(t *testing.T) {
	u1, o1 := mustCanonical(t, userV1), mustCanonical(t, orderV1)
	s := newState()
	apply := func(r record) error { t.Helper(); return s.apply(r) }
	if err := apply(schemaRec("a", 1, 1, u1, false)); err != nil {
		t.Fatal(err)
	}
	if err := apply(schemaRec("b", 1, 1, u1, false)); err != nil {
		t.Fatal(err)
	}
	if s.ids[1].refs != 2 || s.byText[u1] != 1 {
		t.Fatalf("shared id: refs %d byText %d", s.ids[1].refs, s.byText[u1])
	}
	// Another schema under a taken id loses: the first in the log keeps it.
	if err := apply(schemaRec("c", 1, 1, o1, false)); !errors.Is(err, errIDConflict) {
		t.Fatalf("id clash: %v", err)
	}
	if _, ok := s.subjects["c"]; ok {
		t.Fatal("the losing record was applied")
	}
	// A schema written in another form is the same schema.
	if err := apply(schemaRec("c", 1, 1, userV1b, false)); err != nil {
		t.Fatalf("non-canonical form of the same schema: %v", err)
	}
	if s.ids[1].refs != 3 {
		t.Fatalf("refs %d after a non-canonical copy, want 3", s.ids[1].refs)
	}
	if err := apply(record{key: schemaKey("c", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := apply(schemaRec("c", 1, 2, `{"type":"record"`, false)); !errors.Is(err, errBadRecord) {
		t.Fatalf("unparsable schema: %v", err)
	}
	// Soft delete keeps the id; hard delete of every holder forgets it, not the max.
	if err := apply(schemaRec("a", 1, 1, u1, true)); err != nil {
		t.Fatal(err)
	}
	if !s.subjects["a"][1].deleted || s.ids[1].refs != 2 {
		t.Fatalf("soft delete: %+v refs %d", s.subjects["a"][1], s.ids[1].refs)
	}
	for _, subject := range []string{"a", "b"} {
		if err := apply(record{key: schemaKey(subject, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.subjects) != 0 || len(s.ids) != 0 || len(s.byText) != 0 || s.maxID != 1 {
		t.Fatalf("after hard deletes: %d subjects %d ids %d texts max %d", len(s.subjects), len(s.ids), len(s.byText), s.maxID)
	}

	// What compaction leaves of a topic whose highest id was hard-deleted: the watermark.
	compacted := newState()
	for _, r := range []record{
		schemaRec("o", 1, 3, o1, false),
		{key: watermarkKey(), watermark: &watermarkValue{MaxID: 9}},
		{key: configKey(""), config: &configValue{CompatibilityLevel: "full"}},
		{key: configKey("o"), config: &configValue{CompatibilityLevel: "NONE"}},
	} {
		if err := compacted.apply(r); err != nil {
			t.Fatal(err)
		}
	}
	if compacted.maxID != 9 {
		t.Fatalf("max id %d after compaction, want 9", compacted.maxID)
	}
	if compacted.level("o", avroformat.CompatBackward) != avroformat.CompatNone ||
		compacted.level("p", avroformat.CompatBackward) != avroformat.CompatFull {
		t.Fatalf("levels %v global %v", compacted.levels, compacted.global)
	}
	if err := compacted.apply(record{key: configKey("o"), config: &configValue{CompatibilityLevel: "nope"}}); !errors.Is(err, errBadRecord) {
		t.Fatalf("bad level: %v", err)
	}
	if err := compacted.apply(record{key: configKey("o")}); err != nil {
		t.Fatal(err)
	}
	if err := compacted.apply(record{key: configKey("")}); err != nil {
		t.Fatal(err)
	}
	if got := compacted.level("o", avroformat.CompatBackward); got != avroformat.CompatBackward {
		t.Fatalf("level after config tombstones %q", got)
	}
}

// TestCanonicalizeBytesDefaults: a bytes default (a decimal's unscaled bytes, a record's bytes
// field) keeps the specification's spelling, code points 0-255, through the canonical form,
// and reads back as the same bytes.
func TestCanonicalizeBytesDefaults(t *testing.T) {
	s := `{"type":"record","name":"R","namespace":"t","fields":[
		{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2},"default":"\u0004\u00e2"},
		{"name":"num","type":{"type":"record","name":"V","fields":[{"name":"scale","type":"int"},{"name":"value","type":"bytes","default":"\u00ff"}]},
		 "default":{"scale":1,"value":"\u00ff"}},
		{"name":"opt","type":["bytes","null"],"default":"\u0001"}]}`
	parsed, c, err := canonicalize(s)
	if err != nil {
		t.Fatal(err)
	}
	again, c2, err := canonicalize(c)
	if err != nil || c2 != c {
		t.Fatalf("not a fixed point: %q, %v", c2, err)
	}
	for _, p := range []avro.Schema{parsed, again} {
		f := p.(*avro.RecordSchema).Fields()
		if got := f[0].Default(); string(got.([]byte)) != "\x04\xe2" {
			t.Errorf("price default %q in %s", got, c)
		}
		if got := f[1].Default().(map[string]any)["value"]; string(got.([]byte)) != "\xff" {
			t.Errorf("num default %q in %s", got, c)
		}
		if got := f[2].Default(); string(got.([]byte)) != "\x01" {
			t.Errorf("opt default %q in %s", got, c)
		}
	}
}
