package json

import (
	"context"
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

func outboxTable() *decoder.Table {
	return &decoder.Table{Namespace: "public", Name: "outbox", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeUUID, Key: true, SourceType: "uuid"},
		{Name: "aggregatetype", Type: decoder.TypeString, SourceType: "text"},
		{Name: "aggregateid", Type: decoder.TypeString, SourceType: "text"},
		{Name: "type", Type: decoder.TypeString, SourceType: "text"},
		{Name: "payload", Type: decoder.TypeJSON, Optional: true, SourceType: "jsonb"},
	}}
}

func str(s string) decoder.Value { return decoder.Value{State: decoder.ValueSet, Bytes: []byte(s)} }

// routed runs an insert of the outbox table through an outbox router with settings.
func routed(t *testing.T, settings map[string]string, payload decoder.Value) *transform.Record {
	t.Helper()
	ch, err := transform.FromConfig([]transform.Spec{{Type: transform.TypeOutbox, Settings: settings}})
	if err != nil {
		t.Fatal(err)
	}
	c := &decoder.Change{Op: decoder.OpCreate, Table: outboxTable(),
		After: []decoder.Value{str("4d47e190-0402-4048-bc2c-89dd54343cdc"), str("Order"), str("123"), str("OrderCreated"), payload}}
	rec := &transform.Record{}
	rec.Reset(c, "cdc")
	out, err := ch.ApplyRecord(rec)
	if err != nil || out == nil {
		t.Fatalf("router: %v %v", out, err)
	}
	return out
}

func TestOutboxEncode(t *testing.T) {
	ctx := context.Background()
	payload := str(`{"total": 3}`)
	for _, tc := range []struct {
		name     string
		settings map[string]string
		router   map[string]string
		key      string
		value    string
	}{
		{"plain", map[string]string{SettingKeySchemas: "false", SettingValueSchemas: "false"}, nil,
			`"123"`, `"{\"total\": 3}"`},
		{"schemas", nil, nil,
			`{"schema":{"type":"string","optional":false},"payload":"123"}`,
			`{"schema":{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1},"payload":"{\"total\": 3}"}`},
		{"expanded", map[string]string{SettingValueSchemas: "false"}, map[string]string{transform.OutboxExpandJSONPayload: "true"},
			`{"schema":{"type":"string","optional":false},"payload":"123"}`, `{"total": 3}`},
		{"envelope", map[string]string{SettingKeySchemas: "false"}, map[string]string{transform.OutboxFieldsAdditional: "type:envelope:eventType"},
			`"123"`,
			`{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"payload"},` +
				`{"type":"string","optional":false,"field":"eventType"}],"optional":false,"name":"outbox.event.Order.Value"},` +
				`"payload":{"payload":"{\"total\": 3}","eventType":"OrderCreated"}}`},
		{"envelope expanded", map[string]string{SettingKeySchemas: "false", SettingValueSchemas: "false"},
			map[string]string{transform.OutboxFieldsAdditional: "type:envelope:eventType", transform.OutboxExpandJSONPayload: "true"},
			`"123"`, `{"payload":{"total": 3},"eventType":"OrderCreated"}`},
	} {
		e := newEncoder(t, tc.settings)
		topic, key, value, err := e.EncodeRecord(ctx, routed(t, tc.router, payload))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if topic != "outbox.event.Order" || string(key) != tc.key || string(value) != tc.value {
			t.Errorf("%s:\n topic %s\n key   %s\n value %s", tc.name, topic, key, value)
		}
	}

	// A NULL payload: null, or a tombstone with route.tombstone.on.empty.payload.
	e := newEncoder(t, map[string]string{SettingKeySchemas: "false", SettingValueSchemas: "false"})
	_, key, value, err := e.EncodeRecord(ctx, routed(t, nil, decoder.Value{}))
	if err != nil || string(key) != `"123"` || string(value) != "null" {
		t.Errorf("null payload: %s %s %v", key, value, err)
	}
	_, key, value, err = e.EncodeRecord(ctx, routed(t, map[string]string{transform.OutboxTombstoneOnEmpty: "true"}, decoder.Value{}))
	if err != nil || string(key) != `"123"` || value != nil {
		t.Errorf("tombstone: %s %v %v", key, value, err)
	}
	// An expanded payload that is not JSON stays a string.
	_, _, value, err = e.EncodeRecord(ctx, routed(t, map[string]string{transform.OutboxExpandJSONPayload: "true"}, str("not json")))
	if err != nil || string(value) != `"not json"` {
		t.Errorf("not JSON: %s %v", value, err)
	}
	// Expanding under value schemas is refused: its schema is not inferred.
	_, _, _, err = newEncoder(t, nil).EncodeRecord(ctx, routed(t, map[string]string{transform.OutboxExpandJSONPayload: "true"}, payload))
	if !errors.Is(err, format.ErrSchema) {
		t.Errorf("expanded with schemas: %v", err)
	}
}
