package avro

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

func TestOutboxEncode(t *testing.T) {
	ctx := context.Background()
	table := &decoder.Table{Namespace: "public", Name: "outbox", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeUUID, Key: true, SourceType: "uuid"},
		{Name: "aggregatetype", Type: decoder.TypeString, SourceType: "text"},
		{Name: "aggregateid", Type: decoder.TypeInt64, SourceType: "int8"},
		{Name: "type", Type: decoder.TypeString, SourceType: "text", Optional: true},
		{Name: "payload", Type: decoder.TypeJSON, Optional: true, SourceType: "jsonb"},
	}}
	s := func(v string) decoder.Value { return decoder.Value{State: decoder.ValueSet, Bytes: []byte(v)} }
	row := []decoder.Value{s("4d47e190-0402-4048-bc2c-89dd54343cdc"), s("Order"), {State: decoder.ValueSet, Int: 123}, s("OrderCreated"), s(`{"total":3}`)}
	route := func(settings map[string]string) *transform.Record {
		ch, err := transform.FromConfig([]transform.Spec{{Type: transform.TypeOutbox, Settings: settings}})
		if err != nil {
			t.Fatal(err)
		}
		rec := &transform.Record{}
		rec.Reset(&decoder.Change{Op: decoder.OpCreate, Table: table, After: row}, "cdc")
		out, err := ch.ApplyRecord(rec)
		if err != nil || out == nil {
			t.Fatalf("router: %v %v", out, err)
		}
		return out
	}
	reg := newFakeRegistry()
	enc := newTestEncoder(t, reg)
	dec := NewDecoder(reg)
	decode := func(b []byte) string {
		t.Helper()
		v, err := dec.DecodeJSON(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(v)
		return string(out)
	}

	topic, key, value, err := enc.EncodeRecord(ctx, route(nil))
	if err != nil {
		t.Fatal(err)
	}
	if topic != "outbox.event.Order" || decode(key) != `123` || decode(value) != `"{\"total\":3}"` {
		t.Errorf("plain: %s %s %s", topic, decode(key), decode(value))
	}
	keySchema := reg.subjects["outbox.event.Order-key"]
	valueSchema := reg.subjects["outbox.event.Order-value"]
	if len(keySchema) != 1 || keySchema[0].Schema != `"long"` || len(valueSchema) != 1 ||
		valueSchema[0].Schema != `["null",{"type":"string","connect.version":1,"connect.name":"io.debezium.data.Json"}]` {
		t.Errorf("schemas: %+v %+v", keySchema, valueSchema)
	}

	// A value record is not a compatible change of a string value (BACKWARD refuses it).
	envelope := route(map[string]string{transform.OutboxFieldsAdditional: "type:envelope:eventType,aggregatetype:header"})
	var inc *IncompatibleError
	if _, _, _, err = enc.EncodeRecord(ctx, envelope); !errors.As(err, &inc) {
		t.Errorf("envelope on a string subject: %v", err)
	}
	reg2 := newFakeRegistry()
	_, key, value, err = newTestEncoder(t, reg2).EncodeRecord(ctx, envelope)
	if err != nil {
		t.Fatal(err)
	}
	dec2 := NewDecoder(reg2)
	k, _ := dec2.DecodeJSON(ctx, key)
	v, _ := dec2.DecodeJSON(ctx, value)
	kj, _ := json.Marshal(k)
	vj, _ := json.Marshal(v)
	if string(kj) != `123` || string(vj) != `{"eventType":"OrderCreated","payload":"{\"total\":3}"}` {
		t.Errorf("envelope: %s %s", kj, vj)
	}
	if vs := reg2.subjects["outbox.event.Order-value"]; len(vs) != 1 || vs[0].Schema != `{"type":"record","name":"Value","namespace":"outbox.event.Order",`+
		`"fields":[{"name":"payload","type":["null",{"type":"string","connect.version":1,"connect.name":"io.debezium.data.Json"}]},`+
		`{"name":"eventType","type":["null","string"]}],"connect.name":"outbox.event.Order.Value"}` {
		t.Errorf("envelope schema: %+v", vs)
	}

	_, _, value, err = enc.EncodeRecord(ctx, route(map[string]string{transform.OutboxTombstoneOnEmpty: "true"}))
	if err != nil || value == nil {
		t.Errorf("payload set: %v %v", value, err)
	}
	row[4] = decoder.Value{}
	_, key, value, err = enc.EncodeRecord(ctx, route(map[string]string{transform.OutboxTombstoneOnEmpty: "true"}))
	if err != nil || value != nil || decode(key) != `123` {
		t.Errorf("tombstone: %v %v", value, err)
	}
	_, _, value, err = enc.EncodeRecord(ctx, route(nil))
	if err != nil || decode(value) != `null` {
		t.Errorf("null payload: %v %v", value, err)
	}

	if _, _, _, err := enc.EncodeRecord(ctx, route(map[string]string{transform.OutboxExpandJSONPayload: "true"})); !errors.Is(err, format.ErrSchema) {
		t.Errorf("expand: %v", err)
	}
}
