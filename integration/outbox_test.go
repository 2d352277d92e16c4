package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The outbox: services write outbox events in the same transaction as their business rows,
// into an outbox table or as logical decoding messages, and cdcd's outbox router (transform
// outbox) turns each into one record of outbox.event.<aggregatetype>, keyed by the aggregate
// id, valued by the payload, with the event id in the "id" header, as Debezium's EventRouter.

// outboxCrashCycles is how many times TestOutboxExactlyOnceThroughSIGKILL kills cdcd.
const outboxCrashCycles = 4

// outboxEvent is one outbox record read back from Kafka (format json, schemas off).
type outboxEvent struct {
	topic, key, value, id, eventType string
}

// outboxSchema creates the business tables and Debezium's outbox table.
const outboxSchema = `CREATE TABLE orders (id int PRIMARY KEY, total int NOT NULL);
	CREATE TABLE invoices (id int PRIMARY KEY, amount int NOT NULL);
	CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
		type text NOT NULL, payload jsonb)`

// eventUUID makes the event id of event n of a writer (0: the table's, 1: the messages').
func eventUUID(writer, n int) string { return fmt.Sprintf("00000000-0000-0000-%04d-%012d", writer, n) }

// outboxWriter commits, until stopped, transactions of one business row and its outbox event;
// written counts those committed.
type outboxWriter struct {
	written atomic.Int64
	err     error
	done    chan struct{}
	wg      sync.WaitGroup
}

func startOutboxWriter(t *testing.T, write func(ctx context.Context, n int) error) *outboxWriter {
	t.Helper()
	w := &outboxWriter{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		pace := time.NewTicker(10 * time.Millisecond)
		defer pace.Stop()
		for n := 1; ; n++ {
			select {
			case <-w.done:
				return
			case <-pace.C:
			}
			if err := write(t.Context(), n); err != nil {
				w.err = err
				return
			}
			w.written.Add(1)
		}
	}()
	return w
}

func (w *outboxWriter) stop(t *testing.T) int {
	t.Helper()
	close(w.done)
	w.wg.Wait()
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
	return int(w.written.Load())
}

// tableOutbox writes order n and its event into the outbox table; every other event's row is
// deleted in the same transaction, as services that keep the outbox empty do (the delete is no
// event).
func tableOutbox(conn *pgx.Conn, aggType string) func(context.Context, int) error {
	return func(ctx context.Context, n int) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, $2)`, n, 10*n); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox VALUES ($1, $2, $3, 'OrderCreated', $4)`,
			eventUUID(0, n), aggType, fmt.Sprintf("order-%d", n), fmt.Sprintf(`{"order": %d, "total": %d}`, n, 10*n)); err != nil {
			return err
		}
		if n%2 == 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE id = $1`, eventUUID(0, n)); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	}
}

// messageOutbox writes invoice n and its event as a transactional logical decoding message,
// plus a non-transactional one that must not become an event.
func messageOutbox(conn *pgx.Conn, aggType string) func(context.Context, int) error {
	return func(ctx context.Context, n int) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `INSERT INTO invoices VALUES ($1, $2)`, n, 5*n); err != nil {
			return err
		}
		event, _ := json.Marshal(map[string]any{"id": eventUUID(1, n), "aggregatetype": aggType,
			"aggregateid": fmt.Sprintf("invoice-%d", n), "type": "InvoiceIssued", "payload": map[string]int{"invoice": n, "amount": 5 * n}})
		if _, err := tx.Exec(ctx, `SELECT pg_logical_emit_message(true, 'outbox', $1::text)`, string(event)); err != nil {
			return err
		}
		if n%10 == 0 {
			stray := `{"id": "ffffffff-0000-0000-0000-000000000000", "aggregatetype": "` + aggType + `", "payload": {}}`
			if _, err := tx.Exec(ctx, `SELECT pg_logical_emit_message(false, 'outbox', $1::text)`, stray); err != nil {
				return err
			}
		}
		return tx.Commit(ctx)
	}
}

// outboxConsumer reads the committed records of the outbox topics.
type outboxConsumer struct{ client *kgo.Client }

func newOutboxConsumer(t *testing.T, topics ...string) *outboxConsumer {
	t.Helper()
	return &outboxConsumer{client: NewKafkaClient(t, kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(250*time.Millisecond))}
}

func header(r *kgo.Record, name string) string {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value)
		}
	}
	return ""
}

// collect reads until n more records arrived, or, with n 0, until quiet passes with nothing.
func (c *outboxConsumer) collect(t *testing.T, n int, quiet time.Duration) []outboxEvent {
	t.Helper()
	var out []outboxEvent
	deadline := time.Now().Add(2 * time.Minute)
	for n == 0 || len(out) < n {
		wait := quiet
		if n > 0 {
			wait = time.Until(deadline)
		}
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		fetches := c.client.PollFetches(ctx)
		cancel()
		if errs := fetches.Errors(); len(errs) > 0 && ctx.Err() == nil {
			t.Fatalf("consuming %s: %v", errs[0].Topic, errs[0].Err)
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			if n == 0 {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("consuming: got %d of %d outbox records before the deadline", len(out), n)
			}
		}
		for _, r := range recs {
			out = append(out, outboxEvent{topic: r.Topic, key: string(r.Key), value: string(r.Value),
				id: header(r, "id"), eventType: header(r, "eventType")})
		}
	}
	return out
}

// TestOutboxExactlyOnceThroughSIGKILL has one service write outbox rows in the transactions of
// its orders, and another emit its events as transactional logical decoding messages with its
// invoices, while cdcd is killed with SIGKILL a few times. Every event arrives exactly once on
// outbox.event.<aggregatetype>, with the aggregate id as key, the payload as value (expanded
// JSON), the event id in the id header and the type where table.fields.additional.placement
// put it; deletes of outbox rows and non-transactional messages are no events.
func TestOutboxExactlyOnceThroughSIGKILL(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, outboxSchema)
	orderType, invoiceType := Name(t, "Order"), Name(t, "Invoice")
	c := NewPostgresConnector(t, db, "public.outbox")
	c.Extra = []string{"message_prefixes: [outbox]"}
	c.ConnectorExtra = []string{
		"format: json", "json:", "  schemas_enable: false",
		"transforms:",
		`  - {name: outbox, type: outbox, tables: public.outbox, "table.expand.json.payload": "true", "table.fields.additional.placement": "type:header:eventType"}`,
	}
	cdcd := c.StartStreaming(t, conn)
	orderTopic, invoiceTopic := "outbox.event."+orderType, "outbox.event."+invoiceType
	consumer := newOutboxConsumer(t, orderTopic, invoiceTopic)

	orders := startOutboxWriter(t, tableOutbox(db.Conn(t), orderType))
	invoices := startOutboxWriter(t, messageOutbox(db.Conn(t), invoiceType))
	var events []outboxEvent
	for range outboxCrashCycles {
		events = append(events, consumer.collect(t, 1+rand.IntN(150), 0)...)
		cdcd.Kill()
		cdcd = cdcd.Restart()
	}
	nOrders, nInvoices := orders.stop(t), invoices.stop(t)
	if want := nOrders + nInvoices; len(events) < want {
		events = append(events, consumer.collect(t, want-len(events), 0)...)
	}
	events = append(events, consumer.collect(t, 0, 3*time.Second)...)
	t.Logf("%d order and %d invoice events written across %d SIGKILLs, %d records read", nOrders, nInvoices, outboxCrashCycles, len(events))

	seen := map[string]int{}
	for _, e := range events {
		seen[e.id]++
		var n int
		switch e.topic {
		case orderTopic:
			if _, err := fmt.Sscanf(e.id, "00000000-0000-0000-0000-%012d", &n); err != nil {
				t.Fatalf("order event with id %q", e.id)
			}
			want := fmt.Sprintf(`{"order": %d, "total": %d}`, n, 10*n)
			if e.key != fmt.Sprintf(`"order-%d"`, n) || e.value != want || e.eventType != "OrderCreated" {
				t.Fatalf("order event %d: key %s value %s eventType %q, want key \"order-%d\" value %s", n, e.key, e.value, e.eventType, n, want)
			}
		case invoiceTopic:
			if _, err := fmt.Sscanf(e.id, "00000000-0000-0000-0001-%012d", &n); err != nil {
				t.Fatalf("invoice event with id %q (a non-transactional message?)", e.id)
			}
			want := fmt.Sprintf(`{"amount":%d,"invoice":%d}`, 5*n, n)
			if e.key != fmt.Sprintf(`"invoice-%d"`, n) || e.value != want || e.eventType != "InvoiceIssued" {
				t.Fatalf("invoice event %d: key %s value %s eventType %q, want key \"invoice-%d\" value %s", n, e.key, e.value, e.eventType, n, want)
			}
		default:
			t.Fatalf("record on topic %s", e.topic)
		}
	}
	for w, count := range map[int]int{0: nOrders, 1: nInvoices} {
		for n := 1; n <= count; n++ {
			if got := seen[eventUUID(w, n)]; got != 1 {
				t.Errorf("event %s arrived %d times, want once", eventUUID(w, n), got)
			}
		}
	}
	if len(events) != nOrders+nInvoices {
		t.Errorf("%d records, want %d", len(events), nOrders+nInvoices)
	}
	cdcd.Stop(time.Minute)
}

// TestOutboxAvroAsDebeziumWritesIt routes an outbox row and an outbox message with the avro
// format: the key is an Avro string (the aggregate id), the value the payload as Debezium's
// io.debezium.data.Json string, each under the subjects <topic>-key and <topic>-value, and the
// event id is the id header.
func TestOutboxAvroAsDebeziumWritesIt(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, outboxSchema)
	aggType := Name(t, "Order")
	c := NewPostgresConnector(t, db, "public.outbox")
	c.Extra = []string{"message_prefixes: [outbox, audit]"}
	c.ConnectorExtra = []string{"transforms:", "  - {name: outbox, type: outbox}"}
	cdcd := c.StartStreaming(t, conn)
	topic := "outbox.event." + aggType

	mustExec(t, conn, `BEGIN; INSERT INTO orders VALUES (1, 10);
		INSERT INTO outbox VALUES ('`+eventUUID(0, 1)+`', '`+aggType+`', 'order-1', 'OrderCreated', '{"total": 10}'); COMMIT`)
	mustExec(t, conn, `SELECT pg_logical_emit_message(true, 'outbox', '{"id": "`+eventUUID(1, 2)+`", "aggregatetype": "`+aggType+
		`", "aggregateid": "order-2", "type": "OrderCreated", "payload": {"total": 20}}')`)
	mustExec(t, conn, `UPDATE outbox SET type = 'changed'`) // no event: warned
	// A listed prefix no transform takes: an envelope of table pg_logical.message, op m.
	mustExec(t, conn, `SELECT pg_logical_emit_message(true, 'audit', 'login by ann')`)

	reader := NewAvroConsumer(t, c.RegistryURL())
	client := NewKafkaClient(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(250*time.Millisecond))
	decode := func(b []byte) (any, string) {
		t.Helper()
		if len(b) < 5 || b[0] != 0 {
			t.Fatalf("not in the Confluent wire format: % x", b)
		}
		schema, err := reader.fetchSchema(binary.BigEndian.Uint32(b[1:5]))
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := avro.Unmarshal(schema, b[5:], &v); err != nil {
			t.Fatal(err)
		}
		if m, ok := v.(map[string]any); ok && len(m) == 1 { // a union with null: its branch
			for _, inner := range m {
				v = inner
			}
		}
		return v, schema.String()
	}
	var got []string
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for len(got) < 2 {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming %s: got %d of 2 records", topic, len(got))
		}
		for _, r := range fetches.Records() {
			key, keySchema := decode(r.Key)
			value, _ := decode(r.Value)
			got = append(got, fmt.Sprintf("%v %v id=%s", key, value, header(r, "id")))
			// The table's aggregateid is NOT NULL, a message's field may be absent.
			if keySchema != `"string"` && keySchema != `["null","string"]` {
				t.Errorf("key schema %s", keySchema)
			}
		}
	}
	want := []string{`order-1 {"total": 10} id=` + eventUUID(0, 1), `order-2 {"total": 20} id=` + eventUUID(1, 2)}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for subject, want := range map[string]string{topic + "-key": `string`, topic + "-value": `io.debezium.data.Json`} {
		body, err := httpGetBody(t.Context(), c.RegistryURL()+"/subjects/"+subject+"/versions/latest")
		if err != nil || !strings.Contains(string(body), want) {
			t.Errorf("subject %s: %s %v, want a schema with %s", subject, body, err, want)
		}
	}
	audit := NewAvroConsumer(t, c.RegistryURL(), c.Prefix+".pg_logical.message").Collect(t, 1, 2*time.Minute)[0]
	if audit.Op() != "m" || audit.After()["prefix"] != "audit" || string(audit.After()["content"].([]byte)) != "login by ann" || audit.Key["prefix"] != "audit" {
		t.Errorf("audit message: key %v value %v", audit.Key, audit.Value)
	}
	WaitFor(t, time.Minute, "the warning of the outbox update", func() error {
		if !cdcd.LogsContain("update of an outbox table ignored") {
			return fmt.Errorf("not logged yet")
		}
		return nil
	})
	cdcd.Stop(time.Minute)
}
