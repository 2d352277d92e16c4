package avro

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

func TestEncodeTransactionEvents(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	commit := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

	topic, key, value, err := e.EncodeTransactionEvent(ctx, &format.TransactionEvent{Status: format.TransactionBegin, ID: "571:22", Time: commit})
	if err != nil {
		t.Fatal(err)
	}
	if topic != "cdc.transaction" {
		t.Errorf("topic %q, want cdc.transaction", topic)
	}
	if got := decodeWire(t, reg, "cdc.transaction-key", key); got["id"] != "571:22" {
		t.Errorf("key %v", got)
	}
	begin := decodeWire(t, reg, "cdc.transaction-value", value)
	want := map[string]any{"status": "BEGIN", "id": "571:22", "event_count": nil, "data_collections": nil, "ts_ms": commit.UnixMilli()}
	if !reflect.DeepEqual(begin, want) {
		t.Errorf("BEGIN decodes as %v, want %v", begin, want)
	}
	n := reg.callCount()

	_, _, value, err = e.EncodeTransactionEvent(ctx, &format.TransactionEvent{Status: format.TransactionEnd, ID: "571:22", EventCount: 3,
		DataCollections: []format.DataCollectionCount{{DataCollection: "public.a", EventCount: 2}, {DataCollection: "public.b", EventCount: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	end := decodeWire(t, reg, "cdc.transaction-value", value)
	if end["status"] != "END" || unwrap(end["event_count"]) != int64(3) || end["ts_ms"] != fixedNow.UnixMilli() {
		t.Errorf("END decodes as %v", end)
	}
	dcs, _ := unwrap(end["data_collections"]).([]any)
	var got []string
	for _, dc := range dcs {
		m, _ := unwrap(dc).(map[string]any)
		got = append(got, fmt.Sprintf("%v=%v", m["data_collection"], m["event_count"]))
	}
	if strings.Join(got, ",") != "public.a=2,public.b=1" {
		t.Errorf("data_collections %v", dcs)
	}
	if reg.callCount() != n {
		t.Errorf("the second event called the registry: %v", reg.calls[n:])
	}

	// An END whose per-table counts are unknown writes null, an empty list an empty array.
	_, _, value, err = e.EncodeTransactionEvent(ctx, &format.TransactionEvent{Status: format.TransactionEnd, ID: "x", EventCount: 7})
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeWire(t, reg, "cdc.transaction-value", value); got["data_collections"] != nil || unwrap(got["event_count"]) != int64(7) {
		t.Errorf("END without counts decodes as %v", got)
	}
	_, _, value, err = e.EncodeTransactionEvent(ctx, &format.TransactionEvent{Status: format.TransactionEnd, ID: "x", DataCollections: []format.DataCollectionCount{}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := unwrap(decodeWire(t, reg, "cdc.transaction-value", value)["data_collections"]).([]any); got == nil || len(got) != 0 {
		t.Errorf("empty data_collections decodes as %v", got)
	}

	for _, bad := range []*format.TransactionEvent{nil, {Status: "MIDDLE", ID: "1"}, {Status: format.TransactionBegin}} {
		if _, _, _, err := e.EncodeTransactionEvent(ctx, bad); !errors.Is(err, ErrBadValue) {
			t.Errorf("EncodeTransactionEvent(%v) = %v, want ErrBadValue", bad, err)
		}
	}
}

func TestTransactionSchemasAreDebeziums(t *testing.T) {
	key, value, err := TransactionSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"TransactionMetadataKey","namespace":"io.debezium.connector.common"`,
		`"connect.name":"io.debezium.connector.common.TransactionMetadataKey"`} {
		if !strings.Contains(key, want) {
			t.Errorf("key schema %s lacks %s", key, want)
		}
	}
	for _, want := range []string{`"connect.name":"io.debezium.connector.common.TransactionMetadataValue"`,
		`{"name":"event_count","type":["null","long"],"default":null}`,
		`"items":["null",{"type":"record","name":"collection","namespace":"event"`,
		`"connect.name":"event.collection"`, `{"name":"ts_ms","type":"long"}`} {
		if !strings.Contains(value, want) {
			t.Errorf("value schema %s lacks %s", value, want)
		}
	}
	// The envelope's block is Debezium's event.block.
	s, err := DeriveSchemas(Naming{TopicPrefix: "cdc", Source: postgres.SourceBlock}, itemsTable(1, decoder.TypeInt32))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.ValueJSON, `{"name":"transaction","type":["null",{"type":"record","name":"block","namespace":"event"`) {
		t.Errorf("envelope %s has no event.block transaction field", s.ValueJSON)
	}
}

func TestEncodeRecordInTransaction(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	c := &decoder.Change{Op: decoder.OpCreate, Table: itemsTable(1, decoder.TypeInt32), After: itemsRow(set(decoder.Value{Int: 3}))}
	var rec transform.Record
	rec.Reset(c, "cdc")

	_, _, value, err := e.EncodeRecordInTransaction(ctx, &rec, &format.TransactionBlock{ID: "9:4", TotalOrder: 5, DataCollectionOrder: 2})
	if err != nil {
		t.Fatal(err)
	}
	env := decodeWire(t, reg, "cdc.public.items-value", value)
	block, _ := unwrap(env["transaction"]).(map[string]any)
	want := map[string]any{"id": "9:4", "total_order": int64(5), "data_collection_order": int64(2)}
	if !reflect.DeepEqual(block, want) {
		t.Errorf("transaction %v, want %v", env["transaction"], want)
	}
	if env["op"] != "c" || unwrap(env["after"]) == nil {
		t.Errorf("the fields after the block moved: %v", env)
	}

	_, _, value, err = e.EncodeRecord(ctx, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if env := decodeWire(t, reg, "cdc.public.items-value", value); env["transaction"] != nil || env["op"] != "c" {
		t.Errorf("EncodeRecord wrote transaction %v, want null", env["transaction"])
	}

	// A flat value has no block: the same bytes with or without one.
	rec.Shape, rec.Fields, rec.Topic = transform.ShapeFlat, transform.FieldOp, "cdc.flat"
	_, _, flatTx, err := e.EncodeRecordInTransaction(ctx, &rec, &format.TransactionBlock{ID: "9:4", TotalOrder: 1, DataCollectionOrder: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, _, flat, err := e.EncodeRecord(ctx, &rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(flat) != string(flatTx) {
		t.Errorf("flat value with a block % x, without % x", flatTx, flat)
	}
}
