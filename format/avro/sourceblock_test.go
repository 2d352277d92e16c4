package avro

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
)

// toyBlock is a source kind the encoder has never heard of: its source block is written from
// the description alone.
var toyBlock = &decoder.SourceBlock{
	Connector: "toy",
	DB:        decoder.SourceDatabase,
	Fields: []decoder.SourceField{
		{Name: "table", Type: decoder.SourceFieldString, Value: decoder.SourceTableName},
		{Name: "seq", Type: decoder.SourceFieldLong, Value: decoder.SourceSlotInt, Slot: 2},
		{Name: "batch", Type: decoder.SourceFieldInt, Optional: true, Value: decoder.SourceSlotInt, Slot: 0},
		{Name: "origin", Type: decoder.SourceFieldString, Optional: true, Value: decoder.SourceSlotStr, Slot: 1},
		{Name: "node", Type: decoder.SourceFieldString, Optional: true, Value: decoder.SourceSlotStr, Slot: 0},
		{Name: "schema", Type: decoder.SourceFieldString, Optional: true, Value: decoder.SourceNamespace},
		{Name: "unused", Type: decoder.SourceFieldLong, Optional: true, Value: decoder.SourceNull},
	},
	TransactionID: func(s *decoder.SourceInfo) string { return "toy" },
}

// TestEncodeToySourceKind checks that a kind's source block, fields and values, is written
// from its SourceBlock: names, types, optional zero values as null, table-decided fields
// after the slots.
func TestEncodeToySourceKind(t *testing.T) {
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg, WithSource(toyBlock))
	tab := &decoder.Table{Namespace: "ns", Name: "things", Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt64, Key: true}}}
	commit := time.UnixMilli(1_700_000_000_000)
	src := decoder.SourceInfo{CommitTime: commit, Block: toyBlock}
	src.Ints[2], src.Strs[1] = 77, "north"
	ch := &decoder.Change{Op: decoder.OpCreate, Table: tab, After: []decoder.Value{set(decoder.Value{Int: 1})}, Source: src}
	_, _, value, err := e.Encode(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	v := decodeWire(t, reg, "cdc.ns.things-value", value)
	want := map[string]any{
		"version": "test-1", "connector": "toy", "name": "cdc", "ts_ms": commit.UnixMilli(),
		"snapshot": "false", "db": "shop", "sequence": nil, "ts_us": commit.UnixMicro(), "ts_ns": commit.UnixNano(),
		"table": "things", "seq": int64(77), "batch": nil, "origin": "north", "node": nil, "schema": "ns", "unused": nil,
	}
	if !reflect.DeepEqual(v["source"], want) {
		t.Errorf("source\n got %#v\nwant %#v", v["source"], want)
	}
	schemas, err := e.Schemas(tab)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(schemas.ValueJSON, `"name":"Source","namespace":"io.debezium.connector.toy"`) ||
		!strings.Contains(schemas.ValueJSON, `{"name":"batch","type":["null","int"],"default":null}`) ||
		!strings.Contains(schemas.ValueJSON, `{"name":"seq","type":"long"}`) {
		t.Errorf("value schema %s", schemas.ValueJSON)
	}
	ch.Source = postgres.NewSourceInfo(commit, decoder.SnapshotFalse, 1, 2)
	if _, _, _, err := e.Encode(context.Background(), ch); !errors.Is(err, ErrBadValue) || format.IsPoison(err) {
		t.Errorf("a PostgreSQL change to a toy encoder: %v, want a stopping ErrBadValue", err)
	}
	if _, err := NewEncoder(WithTopicPrefix("cdc"), WithRegistry(reg), WithSource(&decoder.SourceBlock{Connector: "toy"})); err == nil {
		t.Error("an encoder of an invalid source block")
	}
}

// TestEnvelopeFieldsAreTheFormatsOnes checks that the Avro envelope and source records have the
// fields format describes, in its order, then the kind's own.
func TestEnvelopeFieldsAreTheFormatsOnes(t *testing.T) {
	for _, b := range []*decoder.SourceBlock{postgres.SourceBlock, mysql.SourceBlock, toyBlock} {
		s, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: b}, allTypesTable())
		if err != nil {
			t.Fatal(err)
		}
		env := s.Value.(*avro.RecordSchema)
		var names, want []string
		for _, f := range env.Fields() {
			names = append(names, f.Name())
		}
		if want = format.EnvelopeFields[:]; !slices.Equal(names, want) {
			t.Errorf("%s: envelope fields %v, want %v", b.Connector, names, want)
		}
		names = names[:0]
		src := env.Fields()[2].Type().(*avro.RecordSchema)
		for _, f := range src.Fields() {
			names = append(names, f.Name())
		}
		want = append([]string(nil), format.CommonSourceFields[:]...)
		for _, f := range b.Fields {
			want = append(want, f.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s: source fields %v, want %v", b.Connector, names, want)
		}
	}
}

// BenchmarkEncodeValueMySQL encodes a MySQL update, whose source block has strings (file,
// GTID), through the hot path.
func BenchmarkEncodeValueMySQL(b *testing.B) {
	tab := &decoder.Table{Namespace: "shop", Name: "orders", Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true},
		{Name: "status", Type: decoder.TypeString, Optional: true},
	}}
	row := []decoder.Value{set(decoder.Value{Int: 123456}), set(decoder.Value{Bytes: []byte("shipped")})}
	e := newTestEncoder(b, newFakeRegistry(), WithSource(mysql.SourceBlock))
	ch := &decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: row, After: row,
		Source: mysql.NewSourceInfo(fixedNow, decoder.SnapshotFalse, "binlog.000003", 7758, "0-1-42", 1, 2)}
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
