package integration

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestPostgresCloudEventsThroughTheBinary streams a PostgreSQL table through cdcd with format
// cloudevents (and decimal.handling.mode string): a consumer decoding with encoding/json alone
// reads each change as a CloudEvent in structured mode with Debezium's attribute names, its
// data the event's rows, and the key the json format's.
func TestPostgresCloudEventsThroughTheBinary(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, price numeric(10,2))`)
	c := NewPostgresConnector(t, db, "public.orders")
	c.ConnectorExtra = []string{"format: cloudevents", "decimal_handling_mode: string"}
	cdcd := c.StartStreaming(t, conn)

	start := time.Now()
	mustExec(t, conn, `INSERT INTO orders VALUES (1, 'book', 12.5)`)
	mustExec(t, conn, `UPDATE orders SET price = 9.99 WHERE id = 1`)
	mustExec(t, conn, `DELETE FROM orders WHERE id = 1`)
	topic := c.Topic("orders")
	waitTopics(t, topic)
	recs := collectJSON(t, 4, topic) // three events and the delete's tombstone
	if recs[3].Value != nil {
		t.Errorf("record 3: %v, want the delete's tombstone", recs[3].Value)
	}
	ids := map[string]bool{}
	for i, op := range []string{"c", "u", "d"} {
		ev := recs[i].Value
		for attr, want := range map[string]string{
			"source": "/debezium/postgresql/" + c.Prefix, "specversion": "1.0",
			"type": "io.debezium.connector.postgresql.DataChangeEvent", "datacontenttype": "application/json",
			"iodebeziumop": op, "iodebeziumconnector": "postgresql", "iodebeziumname": c.Prefix,
			"iodebeziumdb": db.Name, "iodebeziumschema": "public", "iodebeziumtable": "orders", "iodebeziumsnapshot": "false",
		} {
			if got := fmt.Sprint(ev[attr]); got != want {
				t.Errorf("event %d: %s = %q, want %q", i, attr, got, want)
			}
		}
		id := fmt.Sprint(ev["id"])
		lsn, txID := fmt.Sprint(ev["iodebeziumlsn"]), fmt.Sprint(ev["iodebeziumtxId"])
		if want := "name:" + c.Prefix + ";lsn:" + lsn + ";txId:" + txID; id != want || ids[id] {
			t.Errorf("event %d: id %q, want %q once", i, id, want)
		}
		ids[id] = true
		if _, err := strconv.ParseUint(lsn, 10, 64); err != nil {
			t.Errorf("event %d: iodebeziumlsn %q is not a number as a string", i, lsn)
		}
		when, err := time.Parse("2006-01-02T15:04:05.000Z07:00", fmt.Sprint(ev["time"]))
		if err != nil || when.Before(start.Add(-time.Minute)) || when.After(time.Now().Add(time.Minute)) {
			t.Errorf("event %d: time %v (%v), want the commit time", i, ev["time"], err)
		}
		if ms, _ := strconv.ParseInt(fmt.Sprint(ev["iodebeziumtsms"]), 10, 64); ms != when.UnixMilli() {
			t.Errorf("event %d: iodebeziumtsms %v, time %v", i, ev["iodebeziumtsms"], ev["time"])
		}
		if fmt.Sprint(recs[i].Key["payload"]) != "map[id:1]" || recs[i].Key["schema"] == nil {
			t.Errorf("event %d: key %v, want the json format's key with its schema", i, recs[i].Key)
		}
	}
	data := func(i int, row string) string {
		d, _ := recs[i].Value["data"].(map[string]any)
		return fmt.Sprint(d[row])
	}
	for _, tc := range []struct {
		i          int
		row, value string
	}{
		{0, "before", "<nil>"}, {0, "after", "map[id:1 item:book price:12.50]"},
		{1, "after", "map[id:1 item:book price:9.99]"},
		{2, "before", "map[id:1 item: price:<nil>]"}, {2, "after", "<nil>"},
	} {
		if got := data(tc.i, tc.row); got != tc.value {
			t.Errorf("event %d data.%s = %s, want %s", tc.i, tc.row, got, tc.value)
		}
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}

// TestMySQLCloudEventsIDsPerRow streams a MariaDB table through cdcd with format cloudevents:
// two rows of one INSERT (one binlog event, one file and position) are two CloudEvents with two
// ids, their row number telling them apart, and MySQL's source block as attributes.
func TestMySQLCloudEventsIDsPerRow(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE pets (id int PRIMARY KEY, name varchar(20), born time(6))`)
	c := NewMySQLConnector(t, m, "pets")
	c.ConnectorExtra = []string{"format: cloudevents", "time_precision_mode: connect"}
	cdcd := c.StartStreaming(t)

	mustExecMySQL(t, m.DB, `INSERT INTO pets VALUES (1, 'rex', '12:34:56.789012'), (2, 'tom', '00:00:01')`)
	topic := c.Topic("pets")
	waitTopics(t, topic)
	recs := collectJSON(t, 2, topic)
	ids := map[string]bool{}
	for i, r := range recs {
		ev := r.Value
		file, pos, row := fmt.Sprint(ev["iodebeziumfile"]), fmt.Sprint(ev["iodebeziumpos"]), fmt.Sprint(ev["iodebeziumrow"])
		want := "name:" + c.Prefix + ";file:" + file + ";pos:" + pos + ";row:" + row
		if id := fmt.Sprint(ev["id"]); id != want || ids[id] {
			t.Errorf("event %d: id %q, want %q once", i, id, want)
		}
		ids[fmt.Sprint(ev["id"])] = true
		for attr, want := range map[string]string{"source": "/debezium/mysql/" + c.Prefix,
			"type": "io.debezium.connector.mysql.DataChangeEvent", "iodebeziumop": "c",
			"iodebeziumdb": m.Name, "iodebeziumtable": "pets", "iodebeziumconnector": "mysql"} {
			if got := fmt.Sprint(ev[attr]); got != want {
				t.Errorf("event %d: %s = %q, want %q", i, attr, got, want)
			}
		}
		if _, err := strconv.ParseUint(fmt.Sprint(ev["iodebeziumserverid"]), 10, 32); err != nil {
			t.Errorf("event %d: iodebeziumserverid %v is not a number as a string", i, ev["iodebeziumserverid"])
		}
	}
	after := func(i int) string { return fmt.Sprint(recs[i].Value["data"].(map[string]any)["after"]) }
	// time(6) under time.precision.mode connect: Connect's Time, milliseconds.
	if a, b := after(0), after(1); a != "map[born:45296789 id:1 name:rex]" || b != "map[born:1000 id:2 name:tom]" {
		t.Errorf("data.after %s and %s", a, b)
	}
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}
