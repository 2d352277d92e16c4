package transform

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/decoder"
)

// outboxTable is Debezium's outbox table: id uuid, aggregatetype, aggregateid, type text,
// payload jsonb, created timestamptz, tenant text NULL.
func outboxTable() *decoder.Table {
	return &decoder.Table{ID: 7, Namespace: "public", Name: "outbox", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeUUID, Key: true},
		{Name: "aggregatetype", Type: decoder.TypeString},
		{Name: "aggregateid", Type: decoder.TypeString},
		{Name: "type", Type: decoder.TypeString},
		{Name: "payload", Type: decoder.TypeJSON, Optional: true},
		{Name: "created", Type: decoder.TypeTimestampMicros},
		{Name: "tenant", Type: decoder.TypeString, Optional: true},
	}}
}

const eventID = "4d47e190-0402-4048-bc2c-89dd54343cdc"

func outboxRow(aggType, aggID, payload string) []decoder.Value {
	p := decoder.Value{}
	if payload != "" {
		p = str(payload)
	}
	return []decoder.Value{str(eventID), str(aggType), str(aggID), str("OrderCreated"), p, i64(created.UnixMicro()), str("acme")}
}

func outboxSpec(t *testing.T, settings map[string]string) *Outbox {
	t.Helper()
	ch, err := FromConfig([]Spec{{Name: "outbox", Type: TypeOutbox, Settings: settings}})
	mustNoErr(t, err)
	return ch[0].(*Outbox)
}

func applyOutbox(t *testing.T, o *Outbox, c *decoder.Change) (*Record, error) {
	t.Helper()
	rec := &Record{}
	rec.Reset(c, "shop")
	return Chain{o}.ApplyRecord(rec)
}

func header(rec *Record, key string) (string, bool) {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func TestOutboxDefaults(t *testing.T) {
	o := outboxSpec(t, nil)
	rec, err := applyOutbox(t, o, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "123", `{"a":1}`)))
	mustNoErr(t, err)
	if rec.Topic != "outbox.event.Order" {
		t.Errorf("topic %q", rec.Topic)
	}
	if rec.Shape != ShapeOutbox || rec.Outbox == nil || rec.Outbox.Key != 2 || rec.Outbox.Payload != 4 || len(rec.Outbox.Envelope) != 0 || rec.Outbox.ExpandJSON {
		t.Errorf("shape %v %+v", rec.Shape, rec.Outbox)
	}
	if id, ok := header(rec, "id"); !ok || id != eventID || len(rec.Headers) != 1 {
		t.Errorf("headers %+v", rec.Headers)
	}
	if !rec.Timestamp.IsZero() || rec.Tombstone != TombstoneDefault {
		t.Errorf("timestamp %v tombstone %v", rec.Timestamp, rec.Tombstone)
	}
	// A snapshot read is an event too.
	if rec, err := applyOutbox(t, o, change(outboxTable(), decoder.OpRead, nil, outboxRow("Customer", "1", `{}`))); err != nil || rec.Topic != "outbox.event.Customer" {
		t.Errorf("read: %v %v", rec, err)
	}
	// Deletes and truncates of the outbox are housekeeping: no event, no error.
	for _, op := range []decoder.Op{decoder.OpDelete, decoder.OpTruncate} {
		if rec, err := applyOutbox(t, o, change(outboxTable(), op, outboxRow("Order", "1", ""), nil)); rec != nil || err != nil {
			t.Errorf("%v: %v %v", op, rec, err)
		}
	}
	// Other tables pass unchanged.
	other := change(ordersTable(), decoder.OpCreate, nil, orderRow(1, 100, "a"))
	if rec, err := applyOutbox(t, o, other); err != nil || rec.Shape != ShapeEnvelope || rec.Topic != "" || rec.Outbox != nil {
		t.Errorf("other table: %+v %v", rec, err)
	}
	if _, err := o.Apply(other); !errors.Is(err, ErrRecordLevel) {
		t.Errorf("Apply: %v", err)
	}
}

func TestOutboxRouting(t *testing.T) {
	o := outboxSpec(t, map[string]string{
		OutboxRouteByField:      "type",
		OutboxRouteTopicRegex:   `(?P<kind>[A-Za-z]+)Created`,
		OutboxRouteTopicReplace: "events.${kind}",
	})
	rec, err := applyOutbox(t, o, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "1", `{}`)))
	mustNoErr(t, err)
	if rec.Topic != "events.Order" {
		t.Errorf("topic %q", rec.Topic)
	}
	// An unmatched value leaves the table's topic.
	row := outboxRow("Order", "1", `{}`)
	row[3] = str("Shipped")
	if rec, err := applyOutbox(t, o, change(outboxTable(), decoder.OpCreate, nil, row)); err != nil || rec.Topic != "" {
		t.Errorf("unmatched: %q %v", rec.Topic, err)
	}
	// A value that makes no topic name is a poison change.
	bad := outboxSpec(t, nil)
	_, err = applyOutbox(t, bad, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order Lines", "1", `{}`)))
	var ce *ChangeError
	if !errors.Is(err, ErrTopicName) || !errors.As(err, &ce) || ce.Column != "aggregatetype" {
		t.Errorf("bad topic: %v", err)
	}
	// A NULL route-by value is one too.
	row = outboxRow("Order", "1", `{}`)
	row[1] = decoder.Value{}
	if _, err := applyOutbox(t, bad, change(outboxTable(), decoder.OpCreate, nil, row)); !errors.Is(err, ErrOutboxValue) {
		t.Errorf("null route: %v", err)
	}
}

func TestOutboxFields(t *testing.T) {
	tbl := &decoder.Table{Namespace: "app", Name: "events", Version: 1, Columns: []decoder.Column{
		{Name: "event_id", Type: decoder.TypeInt64, Key: true},
		{Name: "kind", Type: decoder.TypeString},
		{Name: "agg", Type: decoder.TypeInt64},
		{Name: "body", Type: decoder.TypeString},
		{Name: "at", Type: decoder.TypeTimestampMillis},
		{Name: "etype", Type: decoder.TypeString},
	}}
	o := outboxSpec(t, map[string]string{
		OutboxTables:              "app.events",
		OutboxFieldEventID:        "event_id",
		OutboxFieldEventKey:       "agg",
		OutboxFieldEventType:      "etype",
		OutboxFieldEventPayload:   "body",
		OutboxFieldEventTimestamp: "at",
		OutboxRouteByField:        "kind",
		OutboxFieldsAdditional:    "etype:header:eventType, etype:envelope:eventType ,kind:envelope",
		OutboxExpandJSONPayload:   "true",
	})
	at := time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	row := []decoder.Value{i64(42), str("Invoice"), i64(9), str(`{"n":1}`), i64(at.UnixMilli()), str("Paid")}
	rec, err := applyOutbox(t, o, change(tbl, decoder.OpCreate, nil, row))
	mustNoErr(t, err)
	if rec.Topic != "outbox.event.Invoice" || !rec.Timestamp.Equal(at) {
		t.Errorf("topic %q timestamp %v", rec.Topic, rec.Timestamp)
	}
	if id, _ := header(rec, "id"); id != "42" {
		t.Errorf("id header %q", id)
	}
	if et, _ := header(rec, "eventType"); et != "Paid" || len(rec.Headers) != 2 {
		t.Errorf("headers %+v", rec.Headers)
	}
	s := rec.Outbox
	want := []OutboxEnvelopeField{{Name: "eventType", Column: 5}, {Name: "kind", Column: 1}}
	if s.Key != 2 || s.Payload != 3 || !s.ExpandJSON || len(s.Envelope) != 2 || s.Envelope[0] != want[0] || s.Envelope[1] != want[1] {
		t.Errorf("shape %+v", s)
	}
	// The default table pattern does not match app.events.
	if rec, _ := applyOutbox(t, outboxSpec(t, nil), change(tbl, decoder.OpCreate, nil, row)); rec.Shape != ShapeEnvelope {
		t.Errorf("default tables matched app.events")
	}
}

func TestOutboxMissingColumns(t *testing.T) {
	o := outboxSpec(t, map[string]string{OutboxFieldsAdditional: "region:header"})
	_, err := applyOutbox(t, o, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "1", `{}`)))
	var ce *ChangeError
	if !errors.Is(err, ErrOutboxColumn) || !errors.As(err, &ce) || ce.Column != "region" {
		t.Errorf("missing additional column: %v", err)
	}
	lenient := outboxSpec(t, map[string]string{OutboxFieldsAdditional: "region:header,tenant:header", OutboxAdditionalMissing: "false"})
	rec, err := applyOutbox(t, lenient, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "1", `{}`)))
	mustNoErr(t, err)
	if v, ok := header(rec, "tenant"); !ok || v != "acme" || len(rec.Headers) != 2 {
		t.Errorf("headers %+v", rec.Headers)
	}
	// A NULL additional header field is left out.
	row := outboxRow("Order", "1", `{}`)
	row[6] = decoder.Value{}
	rec, err = applyOutbox(t, lenient, change(outboxTable(), decoder.OpCreate, nil, row))
	if _, ok := header(rec, "tenant"); err != nil || ok {
		t.Errorf("NULL header: %+v %v", rec.Headers, err)
	}
	noPayload := outboxSpec(t, map[string]string{OutboxFieldEventPayload: "body"})
	if _, err := applyOutbox(t, noPayload, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "1", `{}`))); !errors.Is(err, ErrOutboxColumn) {
		t.Errorf("missing payload column: %v", err)
	}
	// No id column: no id header (Debezium requires one; a table without leaves it out).
	noID := outboxSpec(t, map[string]string{OutboxFieldEventID: "uuid"})
	rec, err = applyOutbox(t, noID, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "1", `{}`)))
	if err != nil || len(rec.Headers) != 0 {
		t.Errorf("no id column: %+v %v", rec, err)
	}
}

func TestOutboxTombstoneOnEmptyPayload(t *testing.T) {
	plain := outboxSpec(t, nil)
	rec, err := applyOutbox(t, plain, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "1", "")))
	if err != nil || rec.Tombstone != TombstoneDefault {
		t.Errorf("default: %+v %v", rec, err)
	}
	tomb := outboxSpec(t, map[string]string{OutboxTombstoneOnEmpty: "true"})
	rec, err = applyOutbox(t, tomb, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "1", "")))
	if err != nil || rec.Tombstone != TombstoneOnly || rec.Topic != "outbox.event.Order" {
		t.Errorf("empty payload: %+v %v", rec, err)
	}
	rec, err = applyOutbox(t, tomb, change(outboxTable(), decoder.OpCreate, nil, outboxRow("Order", "1", "{}")))
	if err != nil || rec.Tombstone != TombstoneDefault {
		t.Errorf("payload: %+v %v", rec, err)
	}
}

func TestOutboxInvalidOp(t *testing.T) {
	upd := func() *decoder.Change {
		return change(outboxTable(), decoder.OpUpdate, outboxRow("Order", "1", "{}"), outboxRow("Order", "1", `{"b":2}`))
	}
	for _, tc := range []struct {
		behavior string
		level    string
		fails    bool
	}{{"", "warn", false}, {"warn", "warn", false}, {"error", "error", false}, {"fatal", "", true}} {
		var logs bytes.Buffer
		l := zerolog.New(&logs)
		ch, err := FromConfig([]Spec{{Type: TypeOutbox, Settings: map[string]string{OutboxOpInvalidBehavior: tc.behavior}}}, WithLogger(l))
		mustNoErr(t, err)
		rec := &Record{}
		rec.Reset(upd(), "shop")
		out, err := ch.ApplyRecord(rec)
		if out != nil {
			t.Errorf("%s: update routed", tc.behavior)
		}
		if tc.fails != errors.Is(err, ErrOutboxOp) {
			t.Errorf("%s: %v", tc.behavior, err)
		}
		if tc.level != "" && !strings.Contains(logs.String(), `"level":"`+tc.level+`"`) {
			t.Errorf("%s: logs %q", tc.behavior, logs.String())
		}
		if tc.level == "" && logs.Len() != 0 {
			t.Errorf("%s: logs %q", tc.behavior, logs.String())
		}
		if got := ch[0].(*Outbox).invalid.Load(); got != 1 {
			t.Errorf("%s: counted %d", tc.behavior, got)
		}
	}
}

func TestOutboxSettings(t *testing.T) {
	for _, tc := range []struct {
		settings map[string]string
		setting  string
	}{
		{map[string]string{OutboxOpInvalidBehavior: "ignore"}, OutboxOpInvalidBehavior},
		{map[string]string{OutboxFieldsAdditional: "type"}, OutboxFieldsAdditional},
		{map[string]string{OutboxFieldsAdditional: "type:body"}, OutboxFieldsAdditional},
		{map[string]string{OutboxFieldsAdditional: "type:header:"}, OutboxFieldsAdditional},
		{map[string]string{OutboxFieldsAdditional: "type:header:id"}, OutboxFieldsAdditional},
		{map[string]string{OutboxFieldsAdditional: "type:envelope:payload"}, OutboxFieldsAdditional},
		{map[string]string{OutboxFieldsAdditional: "a:header:x,b:header:x"}, OutboxFieldsAdditional},
		{map[string]string{OutboxRouteTopicRegex: "("}, OutboxRouteTopicRegex},
		{map[string]string{OutboxTombstoneOnEmpty: "yes"}, OutboxTombstoneOnEmpty},
		{map[string]string{OutboxExpandJSONPayload: "1x"}, OutboxExpandJSONPayload},
		{map[string]string{OutboxAdditionalMissing: "maybe"}, OutboxAdditionalMissing},
		{map[string]string{OutboxTables: " , "}, OutboxTables},
		{map[string]string{"route.topic": "x"}, "route.topic"},
	} {
		_, err := FromConfig([]Spec{{Name: "ob", Type: TypeOutbox, Settings: tc.settings}})
		var se *SettingError
		if !errors.As(err, &se) || se.Setting != tc.setting || !strings.Contains(se.Transform, "ob (outbox)") {
			t.Errorf("%v: %v", tc.settings, err)
		}
	}
	// The flat form reads the outbox's settings by Debezium's names.
	specs, err := ParseFlat(map[string]string{
		"transforms": "outbox", "transforms.outbox.type": "outbox",
		"transforms.outbox.route.by.field": "aggregatetype", "transforms.outbox.table.expand.json.payload": "true",
	})
	mustNoErr(t, err)
	if _, err := FromConfig(specs); err != nil || specs[0].Settings[OutboxExpandJSONPayload] != "true" {
		t.Errorf("flat: %+v %v", specs, err)
	}
}

func TestOutboxMessage(t *testing.T) {
	o := outboxSpec(t, map[string]string{OutboxFieldsAdditional: "type:header:eventType,tenant:envelope", OutboxFieldEventTimestamp: "ts"})
	msgTable := decoder.NewMessageTable("pg_logical", "message")
	msg := func(prefix, content string) *decoder.Change {
		return &decoder.Change{Op: decoder.OpMessage, Table: msgTable,
			After:  []decoder.Value{str(prefix), {State: decoder.ValueSet, Bytes: []byte(content)}},
			Source: decoder.SourceInfo{CommitTime: created}}
	}
	content := `{"id":"` + eventID + `","aggregatetype":"Order","aggregateid":123,"type":"OrderCreated",` +
		`"payload":{"total":3},"ts":"2025-01-02T03:04:05Z","tenant":null,"extra":true}`
	rec, err := applyOutbox(t, o, msg("outbox", content))
	mustNoErr(t, err)
	c := rec.Change
	if rec.Topic != "outbox.event.Order" || c.Op != decoder.OpCreate || c.Table.Namespace != OutboxMessageNamespace || c.Table.Name != "outbox" || !c.Source.CommitTime.Equal(created) {
		t.Fatalf("record %+v change %+v", rec, c)
	}
	get := func(name string) decoder.Value {
		for i, col := range c.Table.Columns {
			if col.Name == name {
				return c.After[i]
			}
		}
		t.Fatalf("no column %s", name)
		return decoder.Value{}
	}
	if v := get("aggregateid"); string(v.Bytes) != "123" || c.Table.Columns[rec.Outbox.Key].Name != "aggregateid" {
		t.Errorf("key %q", v.Bytes)
	}
	if v := get("payload"); string(v.Bytes) != `{"total":3}` || c.Table.Columns[rec.Outbox.Payload].Type != decoder.TypeJSON {
		t.Errorf("payload %q", v.Bytes)
	}
	if v := get("tenant"); v.State != decoder.ValueNull || len(rec.Outbox.Envelope) != 1 {
		t.Errorf("tenant %+v %+v", v, rec.Outbox)
	}
	if id, _ := header(rec, "id"); id != eventID {
		t.Errorf("id %q", id)
	}
	if et, _ := header(rec, "eventType"); et != "OrderCreated" {
		t.Errorf("eventType %q", et)
	}
	if !rec.Timestamp.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("timestamp %v", rec.Timestamp)
	}
	// A payload that is a JSON string gives its text.
	rec, err = applyOutbox(t, o, msg("outbox", `{"aggregatetype":"A","payload":"plain text","ts":1700000000000}`))
	mustNoErr(t, err)
	if p := rec.Change.After[rec.Outbox.Payload]; string(p.Bytes) != "plain text" || !rec.Timestamp.Equal(time.UnixMilli(1700000000000)) {
		t.Errorf("string payload %q, %v", p.Bytes, rec.Timestamp)
	}
	// Another prefix passes unchanged; a bad content is a poison change.
	other := msg("audit", "x")
	if rec, err := applyOutbox(t, o, other); err != nil || rec.Change != other || rec.Shape != ShapeEnvelope {
		t.Errorf("other prefix: %+v %v", rec, err)
	}
	for _, bad := range []string{"not json", `["a"]`, `{"aggregatetype":"A","ts":"yesterday"}`, `{"aggregatetype":"A","ts":1.5}`, `{"payload":{}}`} {
		if _, err := applyOutbox(t, o, msg("outbox", bad)); !errors.Is(err, ErrOutboxValue) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	// The prefix is configurable.
	custom := outboxSpec(t, map[string]string{OutboxMessagePrefix: "events"})
	if rec, err := applyOutbox(t, custom, msg("events", `{"aggregatetype":"B"}`)); err != nil || rec.Topic != "outbox.event.B" {
		t.Errorf("custom prefix: %+v %v", rec, err)
	}
}
