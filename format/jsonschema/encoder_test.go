package jsonschema_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
	jsonformat "github.com/cdcd-dev/cdcd/format/json"
	"github.com/cdcd-dev/cdcd/format/jsonschema"
	"github.com/cdcd-dev/cdcd/schemaregistry"
	"github.com/cdcd-dev/cdcd/transform"
)

var fixedNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func set(v decoder.Value) decoder.Value { v.State = decoder.ValueSet; return v }

// embedded starts cdcd's embedded registry on a fake Kafka and returns its address.
func embedded(t testing.TB) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	reg, err := schemaregistry.Open(ctx, schemaregistry.WithBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, url string, out any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %s: %v", url, b, err)
	}
}

// split reads the wire format: magic byte 0, the id, the document.
func split(t *testing.T, what string, b []byte) (int, []byte) {
	t.Helper()
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("%s: %q is not Confluent's wire format", what, b)
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:]
}

func TestEncoderRegistersJSONSchemasAndEvolves(t *testing.T) {
	url := embedded(t)
	client := avro.NewSRClient(url, nil)
	cfg := format.Config{TopicPrefix: "cdc", Source: postgres.SourceBlock, Database: "shop"}
	o, err := jsonschema.ParseSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	o.JSON.Now = func() time.Time { return fixedNow }
	enc, err := jsonschema.NewEncoder(cfg, client, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v1 := &decoder.Table{Namespace: "public", Name: "items", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt32, Key: true},
		{Name: "price", Type: decoder.TypeDecimal, Precision: 10, Scale: 2, Optional: true},
		{Name: "qty", Type: decoder.TypeInt32},
	}}
	src := postgres.NewSourceInfo(fixedNow, decoder.SnapshotFalse, 771, 0x16B3748)
	row := []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Bytes: []byte{0x04, 0xd2}}), set(decoder.Value{Int: 10})}
	rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: v1, After: row, Source: src}}
	topic, key, value, err := enc.EncodeRecord(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if topic != "cdc.public.items" {
		t.Fatalf("topic %s", topic)
	}
	keyID, keyDoc := split(t, "key", key)
	valueID, valueDoc := split(t, "value", value)
	if string(keyDoc) != `{"id":1}` {
		t.Errorf("key document %s", keyDoc)
	}
	// The document is the json format's, schemas off, decimals numeric.
	plain, err := jsonformat.NewEncoder(cfg, jsonformat.Options{DecimalNumeric: true, Now: o.JSON.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, _, want, err := plain.EncodeRecord(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if string(valueDoc) != string(want) || !strings.Contains(string(valueDoc), `"price":12.34`) {
		t.Errorf("value document\n%s\nwant\n%s", valueDoc, want)
	}

	var byID struct{ SchemaType, Schema string }
	get(t, url+"/schemas/ids/"+strconv.Itoa(valueID), &byID)
	if byID.SchemaType != "JSON" {
		t.Fatalf("value schema type %q", byID.SchemaType)
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(byID.Schema), &schema); err != nil {
		t.Fatal(err)
	}
	after := schema["properties"].(map[string]any)["after"].(map[string]any)
	row1 := after["oneOf"].([]any)[1].(map[string]any)
	price := row1["properties"].(map[string]any)["price"].(map[string]any)["oneOf"].([]any)[1].(map[string]any)
	if schema["title"] != "cdc.public.items.Envelope" || row1["title"] != "cdc.public.items.Value" ||
		row1["additionalProperties"] != false || price["type"] != "number" ||
		price["connect.name"] != "org.apache.kafka.connect.data.Decimal" || after["connect.index"] != 1.0 {
		t.Errorf("value schema %s", byID.Schema)
	}
	var ids struct{ ID int }
	get(t, url+"/subjects/cdc.public.items-key/versions/latest", &ids)
	if ids.ID != keyID {
		t.Errorf("key subject id %d, record's %d", ids.ID, keyID)
	}

	// A nullable column added: a new version of the value subject, the key's unchanged.
	v2 := &decoder.Table{Namespace: "public", Name: "items", Version: 2, Columns: append(append([]decoder.Column(nil), v1.Columns...),
		decoder.Column{Name: "note", Type: decoder.TypeString, Optional: true})}
	_, key2, value2, err := enc.EncodeRecord(ctx, &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: v2,
		After: append(append([]decoder.Value(nil), row...), set(decoder.Value{Bytes: []byte("n")})), Source: src}})
	if err != nil {
		t.Fatalf("adding a nullable column: %v", err)
	}
	if id, _ := split(t, "key", key2); id != keyID {
		t.Errorf("key id %d after a value change, want %d", id, keyID)
	}
	if id, _ := split(t, "value", value2); id == valueID {
		t.Errorf("value id unchanged after a column was added")
	}
	var versions []int
	get(t, url+"/subjects/cdc.public.items-value/versions", &versions)
	if len(versions) != 2 {
		t.Errorf("value versions %v, want two", versions)
	}
	// The first version's records still encode with their id (a replay after a restart).
	if _, _, again, err := enc.EncodeRecord(ctx, rec); err != nil {
		t.Fatal(err)
	} else if id, _ := split(t, "value", again); id != valueID {
		t.Errorf("replayed record id %d, want %d", id, valueID)
	}
	fresh, err := jsonschema.NewEncoder(cfg, client, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, again, err := fresh.EncodeRecord(ctx, rec); err != nil {
		t.Fatalf("an older schema after a restart: %v", err)
	} else if id, _ := split(t, "value", again); id != valueID {
		t.Errorf("replayed record after a restart: id %d, want %d", id, valueID)
	}

	// qty's type changed: BACKWARD refuses it, naming the table, the column and the rule.
	v3 := &decoder.Table{Namespace: "public", Name: "items", Version: 3, Columns: append([]decoder.Column(nil), v2.Columns...)}
	v3.Columns[2] = decoder.Column{Name: "qty", Type: decoder.TypeString}
	_, _, _, err = enc.EncodeRecord(ctx, &transform.Record{Change: &decoder.Change{Op: decoder.OpCreate, Table: v3,
		After: []decoder.Value{row[0], row[1], set(decoder.Value{Bytes: []byte("ten")}), {}}, Source: src}})
	var inc *avro.IncompatibleError
	if !errors.As(err, &inc) || !errors.Is(err, format.ErrIncompatible) {
		t.Fatalf("a type change: %v, want an incompatible schema", err)
	}
	for _, s := range []string{"public.items", `column "qty"`, "BACKWARD", "cdc.public.items-value"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if inc.Retryable() {
		t.Errorf("an incompatible schema is retryable")
	}

	// The transaction topic's records are framed too.
	txTopic, txKey, txValue, err := enc.EncodeTransactionEvent(ctx, &format.TransactionEvent{Status: format.TransactionBegin, ID: "771:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, doc := split(t, "tx key", txKey); string(doc) != `{"id":"771:1"}` || txTopic != "cdc.transaction" {
		t.Errorf("tx key %s on %s", doc, txTopic)
	}
	split(t, "tx value", txValue)

	// An outbox event is refused for good.
	_, _, _, err = enc.EncodeRecord(ctx, &transform.Record{Shape: transform.ShapeOutbox, Change: rec.Change})
	if !errors.Is(err, format.ErrSchema) || !strings.Contains(err.Error(), "outbox") {
		t.Errorf("an outbox event: %v", err)
	} else if r, ok := err.(interface{ Retryable() bool }); !ok || r.Retryable() {
		t.Errorf("an outbox event's error is retryable")
	}
}

func TestParseSettings(t *testing.T) {
	o, err := jsonschema.ParseSettings(map[string]string{"key.subject.name.strategy": "RecordNameStrategy", "decimal.format": "base64"})
	if err != nil || o.KeyStrategy != avro.RecordNameStrategy || o.JSON.DecimalNumeric {
		t.Fatalf("%+v %v", o, err)
	}
	for _, bad := range []map[string]string{{"value.converter.schemas.enable": "true"}, {"nope": "1"}, {"value.subject.name.strategy": "X"}} {
		if _, err := jsonschema.ParseSettings(bad); !errors.Is(err, jsonschema.ErrConfig) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// BenchmarkEncodeValue is format/json's BenchmarkEncodeValue (its noschemas case is the same
// document) in json-registry: the schema is registered at the first record, each record then
// costs the json format's work, a cache lookup and the header.
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
	url := embedded(b)
	o, err := jsonschema.ParseSettings(map[string]string{"decimal.format": "base64"})
	if err != nil {
		b.Fatal(err)
	}
	o.JSON.Now = func() time.Time { return fixedNow }
	e, err := jsonschema.NewEncoder(format.Config{TopicPrefix: "cdc", Source: postgres.SourceBlock, Database: "shop"}, avro.NewSRClient(url, nil), o)
	if err != nil {
		b.Fatal(err)
	}
	rec := &transform.Record{Change: &decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: row, After: row,
		Source: postgres.NewSourceInfo(fixedNow, decoder.SnapshotFalse, 1, 1)}}
	ctx := context.Background()
	if _, _, _, err := e.EncodeRecord(ctx, rec); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := e.EncodeRecord(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}
