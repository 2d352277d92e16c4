package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTransformsThroughThePipeline runs a connector whose chain filters, drops a column, masks
// and hashes, through the binary and the real servers, and checks each transform's effect on
// the events a consumer decodes.
func TestTransformsThroughThePipeline(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text,
		amount numeric(10,2) NOT NULL, secret text);
		CREATE TABLE orders (id int PRIMARY KEY, total int NOT NULL, note text)`)
	c := NewPostgresConnector(t, db, "public.customers", "public.orders")
	const salt = "a-stable-test-salt"
	c.ConnectorExtra = []string{
		"transforms:",
		`  - {name: big, type: filter, expression: 'table != "public.customers" || op == "d" || after.amount > 100'}`,
		"  - {name: nosecret, type: exclude_columns, tables: public.customers, columns: secret}",
		"  - {name: pii, type: mask, tables: 'public.*', columns: email}",
		"  - {name: names, type: hash, tables: public.customers, columns: name, salt: " + salt + "}",
		"  - {name: slim, type: include_columns, tables: public.orders, columns: 'id,total'}",
	}
	p := c.StartStreaming(t, conn)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("customers"))

	mustExec(t, conn, `INSERT INTO customers VALUES (1, 'ann', 'ann@example.com', 50, 's1')`)
	mustExec(t, conn, `INSERT INTO customers VALUES (2, 'bob', 'bob@example.com', 150, 's2')`)
	mustExec(t, conn, `DELETE FROM customers WHERE id = 2`)
	records := consumer.Collect(t, 3, time.Minute) // bob's create, his delete and its tombstone
	records = append(records, consumer.Drain(t, 2*time.Second)...)
	if len(records) != 3 {
		t.Fatalf("%d records, want 3 (ann filtered out): %v", len(records), records)
	}
	create, del := records[0], records[1]
	if create.Op() != "c" || toInt64(create.After()["id"]) != 2 {
		t.Fatalf("first record: op %s after %v, want bob's create (filter: ann's amount is 50)", create.Op(), create.After())
	}
	after := create.After()
	if _, ok := after["secret"]; ok {
		t.Errorf("exclude_columns: the after image still has secret: %v", after)
	}
	if got := Unwrap(after["email"]); got != "****" {
		t.Errorf("mask: email = %v, want ****", got)
	}
	sum := sha256.Sum256([]byte(salt + "bob"))
	if got := Unwrap(after["name"]); got != hex.EncodeToString(sum[:]) {
		t.Errorf("hash: name = %v, want the salted SHA-256 of bob", got)
	}
	if del.Op() != "d" || toInt64(del.Before()["id"]) != 2 {
		t.Errorf("second record: op %s before %v, want bob's delete (the filter keeps deletes)", del.Op(), del.Before())
	}
	if records[2].Op() != "tombstone" {
		t.Errorf("third record: %s, want the tombstone", records[2].Op())
	}

	// include_columns: an order keeps only its id and total.
	orders := NewAvroConsumer(t, c.RegistryURL(), c.Topic("orders"))
	mustExec(t, conn, `INSERT INTO orders VALUES (7, 700, 'gift wrap')`)
	order := orders.Collect(t, 1, time.Minute)[0].After()
	if len(order) != 2 || toInt64(order["id"]) != 7 || toInt64(order["total"]) != 700 {
		t.Errorf("include_columns: order = %v, want only id 7 and total 700", order)
	}
	p.Stop(time.Minute)
}

// TestRecordTransformsThroughThePipeline routes a table's records to another topic, adds
// headers and unwraps them (deletes rewritten with __deleted, the op as a field), through the
// binary: a consumer of the routed topic decodes flat rows through the registry.
func TestRecordTransformsThroughThePipeline(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.items")
	c.ConnectorExtra = []string{
		"transforms:",
		`  - {name: moved, type: route, regex: '(.*)\.public\.(.*)', replacement: '$1.routed.$2'}`,
		"  - {name: hdr, type: headers, header.env: test, op.header: op}",
		"  - {name: flat, type: unwrap, delete.tombstone.handling.mode: rewrite, add.fields: op}",
	}
	p := c.StartStreaming(t, conn)
	routed := c.Prefix + ".routed.items"
	consumer := NewAvroConsumer(t, c.RegistryURL(), routed)
	mustExec(t, conn, `INSERT INTO items VALUES (1, 'one')`)
	mustExec(t, conn, `UPDATE items SET label = 'uno' WHERE id = 1`)
	mustExec(t, conn, `DELETE FROM items WHERE id = 1`)
	records := consumer.Collect(t, 3, time.Minute)
	records = append(records, consumer.Drain(t, 2*time.Second)...)
	want := []struct{ op, label, deleted string }{{"c", "one", "false"}, {"u", "uno", "false"}, {"d", "", "true"}}
	if len(records) != len(want) {
		t.Fatalf("%d records on %s, want %d (a rewritten delete, no tombstone)", len(records), routed, len(want))
	}
	for i, w := range want {
		r := records[i]
		if r.Value == nil {
			t.Fatalf("record %d is a tombstone", i)
		}
		if _, envelope := r.Value["after"]; envelope {
			t.Errorf("record %d is still an envelope: %v", i, r.Value)
		}
		if toInt64(r.Value["id"]) != 1 || fmt.Sprint(Unwrap(r.Value["label"])) != w.label && w.op != "d" ||
			fmt.Sprint(Unwrap(r.Value["__op"])) != w.op || fmt.Sprint(Unwrap(r.Value["__deleted"])) != w.deleted {
			t.Errorf("record %d = %v, want id 1, label %q, __op %s, __deleted %s", i, r.Value, w.label, w.op, w.deleted)
		}
		if env, _ := r.Header("env"); env != "test" {
			t.Errorf("record %d: header env = %q, want test", i, env)
		}
		if op, _ := r.Header("op"); op != w.op {
			t.Errorf("record %d: header op = %q, want %s", i, op, w.op)
		}
	}
	p.Stop(time.Minute)
}

// TestPoisonChangeGoesToTheDLQ runs a connector under error_policy dlq whose filter fails on
// deletes (it reads after.amount, which a delete has not): the delete lands in the DLQ topic
// with its error, stage and position headers, and the changes after it still arrive, once each.
func TestPoisonChangeGoesToTheDLQ(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.orders")
	c.ConnectorExtra = []string{
		"error_policy: dlq",
		"transforms:",
		"  - {name: big, type: filter, expression: 'after.amount > 100'}",
	}
	p := c.StartStreaming(t, conn)
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("orders"))
	mustExec(t, conn, `INSERT INTO orders VALUES (1, 150)`)
	mustExec(t, conn, `DELETE FROM orders WHERE id = 1`)
	mustExec(t, conn, `INSERT INTO orders VALUES (2, 250), (3, 50)`)

	records := consumer.Collect(t, 2, time.Minute)
	records = append(records, consumer.Drain(t, 2*time.Second)...)
	if got := ids(records); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("data topic ids %v, want [1 2] (the delete dead-lettered, 3 filtered out)", got)
	}

	dlq := NewKafkaClient(t, kgo.ConsumeTopics(c.Prefix+".dlq"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var dead []*kgo.Record
	WaitFor(t, time.Minute, "the dead-letter record", func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		dead = append(dead, dlq.PollFetches(ctx).Records()...)
		if len(dead) < 1 {
			return fmt.Errorf("%d records in the DLQ", len(dead))
		}
		return nil
	})
	if len(dead) != 1 {
		t.Fatalf("%d dead-letter records, want 1", len(dead))
	}
	headers := map[string]string{}
	for _, h := range dead[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	var value struct {
		Table  string            `json:"table"`
		Op     string            `json:"op"`
		Before map[string]string `json:"before"`
	}
	if err := json.Unmarshal(dead[0].Value, &value); err != nil {
		t.Fatalf("dead-letter value %s: %v", dead[0].Value, err)
	}
	if value.Table != "public.orders" || value.Op != "d" || value.Before["id"] != "1" {
		t.Errorf("dead-letter value %s, want the delete of public.orders id 1", dead[0].Value)
	}
	if headers["cdcd.stage"] != "transform" || !strings.Contains(headers["cdcd.error"], "amount") ||
		!strings.Contains(headers["cdcd.position"], "lsn") || headers["cdcd.table"] != "public.orders" || headers["cdcd.op"] != "d" {
		t.Errorf("dead-letter headers %v, want the transform's error naming amount, the position, table and op", headers)
	}
	p.Stop(time.Minute)
}
