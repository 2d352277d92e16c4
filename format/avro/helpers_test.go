package avro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/cdcd-dev/cdcd/decoder"
)

// fakeRegistry is an in-memory Registry: subjects with versions, per-subject levels, a call
// log, and an injectable failure. With rewrite set it stores and answers its own rendering of a
// schema (the JSON re-written with its keys sorted), not the text it was given, as real
// registries do, and compares schemas in that rendering.
type fakeRegistry struct {
	mu       sync.Mutex
	nextID   int
	subjects map[string][]Schema
	levels   map[string]Compatibility
	global   Compatibility
	fail     error
	calls    []string
	rewrite  bool
}

var _ Registry = (*fakeRegistry)(nil)

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{nextID: 1, subjects: map[string][]Schema{}, levels: map[string]Compatibility{}}
}

func (f *fakeRegistry) record(op, subject string) error {
	f.calls = append(f.calls, op+" "+subject)
	if f.fail != nil {
		return &RegistryError{URL: "http://fake", Subject: subject, Op: op, Err: f.fail}
	}
	return nil
}

func (f *fakeRegistry) Compatibility(_ context.Context, subject string) (Compatibility, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("compatibility", subject); err != nil {
		return "", err
	}
	if l, ok := f.levels[subject]; ok {
		return l, nil
	}
	return f.global, nil
}

func (f *fakeRegistry) Versions(_ context.Context, subject string) ([]Schema, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("versions", subject); err != nil {
		return nil, err
	}
	return append([]Schema(nil), f.subjects[subject]...), nil
}

// rendering is how the fake registry writes a schema: as given, or, with rewrite, the same
// JSON with its keys sorted.
func (f *fakeRegistry) rendering(schema string) (string, error) {
	if !f.rewrite {
		return schema, nil
	}
	var v any
	if err := json.Unmarshal([]byte(schema), &v); err != nil {
		return "", fmt.Errorf("schema is not JSON: %w", err)
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func (f *fakeRegistry) Lookup(_ context.Context, subject, schema string) (Schema, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("lookup", subject); err != nil {
		return Schema{}, false, err
	}
	schema, err := f.rendering(schema)
	if err != nil {
		return Schema{}, false, err
	}
	for _, s := range f.subjects[subject] {
		if s.Schema == schema {
			return s, true, nil
		}
	}
	return Schema{}, false, nil
}

func (f *fakeRegistry) Register(_ context.Context, subject, schema string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("register", subject); err != nil {
		return 0, err
	}
	schema, err := f.rendering(schema)
	if err != nil {
		return 0, err
	}
	for _, s := range f.subjects[subject] {
		if s.Schema == schema {
			return s.ID, nil
		}
	}
	id := f.nextID
	f.nextID++
	f.subjects[subject] = append(f.subjects[subject], Schema{ID: id, Version: len(f.subjects[subject]) + 1, Schema: schema})
	return id, nil
}

func (f *fakeRegistry) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

var errOutage = errors.New("connection refused")

// allTypesTable has a column of every decoder.Type (and a second variable decimal, so that
// its named record is defined once and referenced after).
func allTypesTable() *decoder.Table {
	return &decoder.Table{
		ID: 16384, Namespace: "public", Name: "all_types", Version: 1,
		Columns: []decoder.Column{
			{Name: "id", Type: decoder.TypeInt32, SourceType: "int4", Key: true},
			{Name: "flag", Type: decoder.TypeBool, SourceType: "bool", Optional: true},
			{Name: "small", Type: decoder.TypeInt16, SourceType: "int2", Optional: true},
			{Name: "big", Type: decoder.TypeInt64, SourceType: "int8"},
			{Name: "real_col", Type: decoder.TypeFloat32, SourceType: "float4", Optional: true},
			{Name: "dbl", Type: decoder.TypeFloat64, SourceType: "float8", Optional: true},
			{Name: "price", Type: decoder.TypeDecimal, SourceType: "numeric", Precision: 10, Scale: 2, Optional: true},
			{Name: "amount", Type: decoder.TypeVariableDecimal, SourceType: "numeric", Optional: true},
			{Name: "amount2", Type: decoder.TypeVariableDecimal, SourceType: "numeric", Optional: true},
			{Name: "name", Type: decoder.TypeString, SourceType: "text", Optional: true},
			{Name: "blob", Type: decoder.TypeBytes, SourceType: "bytea", Optional: true},
			{Name: "doc", Type: decoder.TypeJSON, SourceType: "jsonb", Optional: true},
			{Name: "uid", Type: decoder.TypeUUID, SourceType: "uuid", Optional: true},
			{Name: "mood", Type: decoder.TypeEnum, SourceType: "mood", EnumValues: []string{"sad", "ok", "happy"}, Optional: true},
			{Name: "day", Type: decoder.TypeDate, SourceType: "date", Optional: true},
			{Name: "t_ms", Type: decoder.TypeTimeMillis, SourceType: "time(3)", Optional: true},
			{Name: "t_us", Type: decoder.TypeTimeMicros, SourceType: "time", Optional: true},
			{Name: "t_tz", Type: decoder.TypeZonedTime, SourceType: "timetz", Optional: true},
			{Name: "ts_ms", Type: decoder.TypeTimestampMillis, SourceType: "timestamp(3)", Optional: true},
			{Name: "ts_us", Type: decoder.TypeTimestampMicros, SourceType: "timestamp", Optional: true},
			{Name: "ts_tz", Type: decoder.TypeZonedTimestamp, SourceType: "timestamptz", Optional: true},
			{Name: "span", Type: decoder.TypeIntervalMicros, SourceType: "interval", Optional: true},
			{Name: "tags", Type: decoder.TypeArray, SourceType: "_text", Optional: true,
				Elem: &decoder.Column{Type: decoder.TypeString, SourceType: "text", Optional: true}},
			{Name: "nums", Type: decoder.TypeArray, SourceType: "_int4", Optional: true,
				Elem: &decoder.Column{Type: decoder.TypeInt32, SourceType: "int4"}},
			{Name: "flags", Type: decoder.TypeBits, SourceType: "bit(12)", Precision: 12, Optional: true},
			{Name: "yr", Type: decoder.TypeYear, SourceType: "year", Optional: true},
			{Name: "perms", Type: decoder.TypeEnumSet, SourceType: "set('r','w','x')", EnumValues: []string{"r", "w", "x"}, Optional: true},
			{Name: "xdoc", Type: decoder.TypeXML, SourceType: "xml", Optional: true},
			{Name: "path", Type: decoder.TypeLtree, SourceType: "ltree", Optional: true},
			{Name: "geom", Type: decoder.TypeGeometry, SourceType: "geometry", Optional: true},
			{Name: "geom2", Type: decoder.TypeGeometry, SourceType: "geometry", Optional: true},
			{Name: "geog", Type: decoder.TypeGeography, SourceType: "geography", Optional: true},
			{Name: "embedding", Type: decoder.TypeFloatVector, SourceType: "halfvec", Optional: true},
			{Name: "dvec", Type: decoder.TypeDoubleVector, SourceType: "vector", Optional: true},
			{Name: "svec", Type: decoder.TypeSparseVector, SourceType: "sparsevec", Optional: true},
			{Name: "custom", Type: decoder.TypeString, SourceType: "mytype", Unmapped: true, TextForm: true, Optional: true},
			{Name: "vbits", Type: decoder.TypeBits, SourceType: "varbit", Precision: 2147483647, Scale: 1, Optional: true},
			{Name: "hmap", Type: decoder.TypeStringMap, SourceType: "hstore", Optional: true},
			{Name: "2nd-col", Type: decoder.TypeString, SourceType: "text", Optional: true},
		},
	}
}

func set(v decoder.Value) decoder.Value { v.State = decoder.ValueSet; return v }

// allTypesRow is a row of allTypesTable with every column set.
func allTypesRow() []decoder.Value {
	return []decoder.Value{
		set(decoder.Value{Int: 42}),
		set(decoder.Value{Int: 1}),
		set(decoder.Value{Int: -7}),
		set(decoder.Value{Int: 1 << 40}),
		set(decoder.Value{Float: 1.5}),
		set(decoder.Value{Float: -2.25}),
		set(decoder.Value{Bytes: []byte{0x30, 0x39}}),           // 12345 -> 123.45
		set(decoder.Value{Bytes: []byte{0xff, 0x85}, Scale: 3}), // -123 -> -0.123
		set(decoder.Value{Bytes: []byte{0x01}, Scale: 0}),
		set(decoder.Value{Bytes: []byte("héllo")}),
		set(decoder.Value{Bytes: []byte{0, 1, 2, 255}}),
		set(decoder.Value{Bytes: []byte(`{"a":1}`)}),
		set(decoder.Value{Bytes: []byte("123e4567-e89b-12d3-a456-426614174000")}),
		set(decoder.Value{Bytes: []byte("happy")}),
		set(decoder.Value{Int: 19000}),
		set(decoder.Value{Int: 3_600_123}),
		set(decoder.Value{Int: 3_600_123_456}),
		set(decoder.Value{Bytes: []byte("10:00:00+02:00")}),
		set(decoder.Value{Int: 1_700_000_000_123}),
		set(decoder.Value{Int: 1_700_000_000_123_456}),
		set(decoder.Value{Bytes: []byte("2023-11-14T22:13:20.123456Z")}),
		set(decoder.Value{Int: 86_400_000_000}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Bytes: []byte("a")}), {}, set(decoder.Value{Bytes: []byte("c")})}}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Int: -2})}}),
		set(decoder.Value{Bytes: []byte{0x03, 0x0a}}), // b'101000000011', little-endian
		set(decoder.Value{Int: 2024}),
		set(decoder.Value{Bytes: []byte("r,x")}),
		set(decoder.Value{Bytes: []byte("<a/>")}),
		set(decoder.Value{Bytes: []byte("a.b")}),
		set(decoder.Value{Bytes: []byte{1, 1, 0, 0, 0}, Int: 4326, Scale: 1}),
		set(decoder.Value{Bytes: []byte{1, 2, 0, 0, 0}}),
		set(decoder.Value{Bytes: []byte{0, 0, 0, 0, 1}, Int: 4326, Scale: 1}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Float: 1.5}), set(decoder.Value{Float: -2})}}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Float: 0.1}), set(decoder.Value{Float: -2})}}),
		set(decoder.Value{Int: 5, Elems: []decoder.Value{set(decoder.Value{Int: 1, Float: 1.5}), set(decoder.Value{Int: 3, Float: -0.1})}}),
		set(decoder.Value{Bytes: []byte("(1,2)")}),
		set(decoder.Value{Bytes: []byte{5}}),
		set(decoder.Value{Elems: []decoder.Value{set(decoder.Value{Bytes: []byte("a")}), set(decoder.Value{Bytes: []byte("1")}),
			set(decoder.Value{Bytes: []byte("b")}), {}}}),
		set(decoder.Value{Bytes: []byte("x")}),
	}
}

// SchemaByID makes the fake a SchemaFetcher too.
func (f *fakeRegistry) SchemaByID(_ context.Context, id int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, versions := range f.subjects {
		for _, s := range versions {
			if s.ID == id {
				return s.Schema, nil
			}
		}
	}
	return "", fmt.Errorf("schema %d not found", id)
}
