package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"
)

// TestTransformsThroughThePipeline runs a connector whose chain filters, drops a column, masks
// and hashes, through the binary and the real servers, and checks each transform's effect on
// the events a consumer decodes.
func TestTransformsThroughThePipeline(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text,
		amount numeric(10,2) NOT NULL, secret text)`)
	c := NewPostgresConnector(t, db, "public.customers")
	const salt = "a-stable-test-salt"
	c.ConnectorExtra = []string{
		"transforms:",
		`  - {name: big, type: filter, expression: 'op == "d" || after.amount > 100'}`,
		"  - {name: nosecret, type: exclude_columns, tables: public.customers, columns: secret}",
		"  - {name: pii, type: mask, tables: 'public.*', columns: email}",
		"  - {name: names, type: hash, tables: public.customers, columns: name, salt: " + salt + "}",
	}
	p := StartCDCD(t, c.Config())
	c.WaitStreaming(t, conn)
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
	p.Stop(time.Minute)
}
