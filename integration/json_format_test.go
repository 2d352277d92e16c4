package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/format"
)

// jsonRecord is one Kafka record of format json, decoded with encoding/json alone (numbers as
// json.Number); a tombstone's Value is nil.
type jsonRecord struct {
	Topic      string
	Key, Value map[string]any
}

// collectJSON reads n committed records of topics from their start.
func collectJSON(t *testing.T, n int, topics ...string) []jsonRecord {
	t.Helper()
	client := NewKafkaClient(t, kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(250*time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	decode := func(b []byte) map[string]any {
		if b == nil {
			return nil
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("record is not a JSON object: %v: %s", err, b)
		}
		return m
	}
	var out []jsonRecord
	for len(out) < n {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming: got %d of %d records before the deadline", len(out), n)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("consuming %s: %v", errs[0].Topic, errs[0].Err)
		}
		for _, r := range fetches.Records() {
			out = append(out, jsonRecord{Topic: r.Topic, Key: decode(r.Key), Value: decode(r.Value)})
		}
	}
	return out
}

// TestPostgresJSONFormatThroughTheBinary streams a PostgreSQL table through cdcd with format
// json (values with their schema, keys without: json.key_schemas_enable false) and transaction
// metadata; a consumer decoding with encoding/json alone finds the insert, the update (an
// unchanged TOASTed column as the placeholder), the delete and its tombstone, with the values
// written, each column's schema its Connect type and Debezium's name, and the BEGIN and END
// records of each transaction.
func TestPostgresJSONFormatThroughTheBinary(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2),
		nu numeric, data bytea, d date, ts timestamp, tstz timestamptz, f8 float8, tags text[], big text)`)
	c := NewPostgresConnector(t, db, "public.widgets")
	c.ConnectorExtra = []string{"format: json", "json:", "  key_schemas_enable: false", "provide_transaction_metadata: true"}
	cdcd := c.StartStreaming(t, conn)

	mustExec(t, conn, `INSERT INTO widgets VALUES (1, 'gadget "x"', 12.34, 3.14159, '\xdeadbeef', '2024-02-29',
		'2024-02-29 11:14:15.123456', '2024-02-29 13:14:15.1+02', 2.25, '{"a b",NULL}',
		(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 500) i))`)
	mustExec(t, conn, `UPDATE widgets SET name = 'changed', price = -0.5 WHERE id = 1`)
	mustExec(t, conn, `DELETE FROM widgets WHERE id = 1`)

	topic, txTopic := c.Topic("widgets"), format.TransactionTopic(c.Prefix)
	waitTopics(t, topic, txTopic)
	// Three transactions: 3 events and a tombstone, 3 BEGIN and 3 END records.
	all := collectJSON(t, 10, topic, txTopic)
	var recs, txs []jsonRecord
	for _, r := range all {
		if r.Topic == topic {
			recs = append(recs, r)
		} else {
			txs = append(txs, r)
		}
	}
	if len(recs) != 4 || len(txs) != 6 {
		t.Fatalf("%d data and %d transaction records, want 4 and 6", len(recs), len(txs))
	}

	// Every data record's key is the payload alone; the value has schema and payload.
	for i, r := range recs {
		if fmt.Sprint(r.Key) != "map[id:1]" {
			t.Errorf("record %d: key %v, want {\"id\":1} without schema", i, r.Key)
		}
	}
	if recs[3].Value != nil {
		t.Errorf("record 3: %v, want the delete's tombstone", recs[3].Value)
	}
	payload := func(i int) map[string]any {
		p, _ := recs[i].Value["payload"].(map[string]any)
		if p == nil {
			t.Fatalf("record %d has no payload: %v", i, recs[i].Value)
		}
		return p
	}
	ops := []string{}
	for i := range 3 {
		ops = append(ops, fmt.Sprint(payload(i)["op"]))
	}
	if !reflect.DeepEqual(ops, []string{"c", "u", "d"}) {
		t.Fatalf("ops %v, want [c u d]", ops)
	}

	// The schema: the envelope's fields, and each column's Connect type and name.
	schema, _ := recs[0].Value["schema"].(map[string]any)
	if schema["name"] != c.Prefix+".public.widgets.Envelope" || schema["type"] != "struct" {
		t.Errorf("value schema %v %v", schema["name"], schema["type"])
	}
	fieldTypes := map[string]string{}
	var envFields []string
	for _, f := range schema["fields"].([]any) {
		f := f.(map[string]any)
		envFields = append(envFields, fmt.Sprint(f["field"]))
		if f["field"] != "after" {
			continue
		}
		for _, col := range f["fields"].([]any) {
			col := col.(map[string]any)
			name, _ := col["name"].(string)
			fieldTypes[col["field"].(string)] = fmt.Sprintf("%v %s %v", col["type"], name, col["optional"])
		}
	}
	if !reflect.DeepEqual(envFields, []string{"before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"}) {
		t.Errorf("envelope fields %v", envFields)
	}
	wantTypes := map[string]string{
		"id": "int32  false", "name": "string  false", "price": "bytes org.apache.kafka.connect.data.Decimal true",
		"nu": "struct io.debezium.data.VariableScaleDecimal true", "data": "bytes  true",
		"d": "int32 io.debezium.time.Date true", "ts": "int64 io.debezium.time.MicroTimestamp true",
		"tstz": "string io.debezium.time.ZonedTimestamp true", "f8": "double  true", "tags": "array  true",
		"big": "string  true",
	}
	if !reflect.DeepEqual(fieldTypes, wantTypes) {
		t.Errorf("column schemas:\n got %v\nwant %v", fieldTypes, wantTypes)
	}

	unscaled := func(v any) string {
		b, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
		if err != nil || len(b) == 0 {
			t.Fatalf("decimal %v is not base64: %v", v, err)
		}
		n := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return n.String()
	}
	var bigText string
	if err := conn.QueryRow(t.Context(), `SELECT string_agg(md5(i::text), '') FROM generate_series(1, 500) i`).Scan(&bigText); err != nil {
		t.Fatal(err)
	}
	after := payload(0)["after"].(map[string]any)
	got := map[string]string{}
	for k, v := range after {
		got[k] = fmt.Sprint(v)
	}
	got["price"] = unscaled(after["price"])
	nu := after["nu"].(map[string]any)
	got["nu"] = fmt.Sprint(nu["scale"]) + " " + unscaled(nu["value"])
	data, _ := base64.StdEncoding.DecodeString(fmt.Sprint(after["data"]))
	got["data"] = fmt.Sprintf("%x", data)
	want := map[string]string{
		"id": "1", "name": `gadget "x"`, "price": "1234", "nu": "5 314159", "data": "deadbeef", "d": "19782",
		"ts": "1709205255123456", "tstz": "2024-02-29T11:14:15.100000Z", "f8": "2.25", "tags": "[a b <nil>]",
		"big": bigText,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("insert after:\n got %v\nwant %v", got, want)
	}
	if payload(0)["before"] != nil {
		t.Errorf("insert before %v, want null", payload(0)["before"])
	}
	if src := payload(0)["source"].(map[string]any); src["connector"] != "postgresql" || src["db"] != db.Name || src["table"] != "widgets" {
		t.Errorf("source %v", src)
	}

	upd := payload(1)["after"].(map[string]any)
	if upd["name"] != "changed" || unscaled(upd["price"]) != "-50" || upd["big"] != "__debezium_unavailable_value" {
		t.Errorf("update after: name %v, price %v, big %.40v", upd["name"], upd["price"], upd["big"])
	}
	del := payload(2)
	if del["after"] != nil || fmt.Sprint(del["before"].(map[string]any)["id"]) != "1" {
		t.Errorf("delete: before %v after %v", del["before"], del["after"])
	}

	// Each event's transaction block names a transaction whose BEGIN and END are on the
	// transaction topic, the END counting one event of public.widgets.
	ends := map[string]string{}
	for _, r := range txs {
		p := r.Value["payload"].(map[string]any)
		if p["status"] == "END" {
			ends[fmt.Sprint(p["id"])] = fmt.Sprint(p["event_count"], p["data_collections"])
		}
		if r.Key["id"] != p["id"] {
			t.Errorf("transaction record key %v, value id %v", r.Key, p["id"])
		}
	}
	for i := range 3 {
		block := payload(i)["transaction"].(map[string]any)
		if e := ends[fmt.Sprint(block["id"])]; e != "1[map[data_collection:public.widgets event_count:1]]" {
			t.Errorf("event %d in transaction %v: END %q", i, block["id"], e)
		}
	}

	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}
