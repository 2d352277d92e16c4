package integration

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcd-dev/cdcd/format"
)

// Transaction metadata through the cdcd binary (provide_transaction_metadata: true), for both
// sources: the BEGIN/END records of <prefix>.transaction and the transaction block of every
// change, first for a few known transactions, then across SIGKILLs of cdcd in the middle of a
// stream of multi-statement transactions, where every transaction must be framed exactly once
// and its END must count exactly the events a consumer finds.

// txKillCycles is how many times the transaction metadata tests kill cdcd: each restart of the
// race-built binary costs seconds, and a few kills already cut the stream at random places.
const txKillCycles = 4

// txBoundary is one record of the transaction topic.
type txBoundary struct {
	status string
	// count is an END's event_count; collections its data_collections as "table=n", in its
	// order, nil when null.
	count       int64
	collections []string
	offset      int64
	// ts is ts_ms, the transaction's commit time.
	ts int64
}

// txEvent is one change event of a data topic, with its transaction block.
type txEvent struct {
	table, op    string
	total, order int64
	// ts is the source block's ts_ms.
	ts int64
	// desc is "op table total/order", for comparisons with a wanted list.
	desc string
}

// txSummary is what a consumer found of one transaction id.
type txSummary struct {
	begins, ends []txBoundary
	// events are the transaction's events, each topic's in its offset order.
	events []txEvent
}

// summarizeTransactions groups the records by transaction id. tables maps each data topic to
// its data collection ("schema.table", MySQL "database.table"); checkID is called with each
// change record and the id of its block, to compare the id with the source block.
func summarizeTransactions(t *testing.T, records []ChangeRecord, txTopic string, tables map[string]string,
	checkID func(r ChangeRecord, id string) error) map[string]*txSummary {
	t.Helper()
	sums := map[string]*txSummary{}
	get := func(id string) *txSummary {
		s := sums[id]
		if s == nil {
			s = &txSummary{}
			sums[id] = s
		}
		return s
	}
	for _, r := range records {
		if r.Topic == txTopic {
			id, _ := r.Value["id"].(string)
			if kid, _ := r.Key["id"].(string); kid != id || id == "" {
				t.Fatalf("transaction record at %d: key %v, value id %q", r.Offset, r.Key, id)
			}
			b := txBoundary{status: fmt.Sprint(r.Value["status"]), offset: r.Offset, ts: toInt64(r.Value["ts_ms"])}
			s := get(id)
			switch b.status {
			case string(format.TransactionBegin):
				if n := Unwrap(r.Value["event_count"]); n != nil {
					t.Errorf("BEGIN of %s has event_count %v, want null", id, n)
				}
				s.begins = append(s.begins, b)
			case string(format.TransactionEnd):
				b.count = toInt64(r.Value["event_count"])
				if dcs, ok := Unwrap(r.Value["data_collections"]).([]any); ok {
					b.collections = []string{}
					for _, dc := range dcs {
						m, _ := Unwrap(dc).(map[string]any)
						b.collections = append(b.collections, fmt.Sprintf("%v=%d", m["data_collection"], toInt64(m["event_count"])))
					}
				}
				s.ends = append(s.ends, b)
			default:
				t.Fatalf("transaction record at %d has status %q", r.Offset, b.status)
			}
			continue
		}
		table, ok := tables[r.Topic]
		if !ok {
			t.Fatalf("record of unexpected topic %s", r.Topic)
		}
		if r.Value == nil {
			continue // a tombstone is no event and has no block
		}
		block, _ := Unwrap(r.Value["transaction"]).(map[string]any)
		if block == nil {
			t.Fatalf("%s@%d (op %s): no transaction block", r.Topic, r.Offset, r.Op())
		}
		id, _ := block["id"].(string)
		if err := checkID(r, id); err != nil {
			t.Errorf("%s@%d: %v", r.Topic, r.Offset, err)
		}
		e := txEvent{table: table, op: r.Op(), total: toInt64(block["total_order"]), order: toInt64(block["data_collection_order"]),
			ts: toInt64(r.Source()["ts_ms"])}
		e.desc = fmt.Sprintf("%s %s %d/%d", e.op, e.table, e.total, e.order)
		get(id).events = append(get(id).events, e)
	}
	return sums
}

// checkTransactions is the oracle of transaction metadata, as Debezium defines it: each id has
// exactly one BEGIN, then one END; the END's event_count is the number of the id's events and
// its data_collections the count of each table, in the order the tables first appear; the
// events' total_order are 1..n and each table's data_collection_order 1..k, both increasing
// along a topic; no transaction is framed without an event; and BEGIN and END carry the
// transaction's commit time, the source ts_ms of its first event.
func checkTransactions(t *testing.T, sums map[string]*txSummary) {
	t.Helper()
	for id, s := range sums {
		if len(s.begins) != 1 || len(s.ends) != 1 {
			t.Errorf("transaction %s: %d BEGIN and %d END records, want one each", id, len(s.begins), len(s.ends))
			continue
		}
		if s.begins[0].offset > s.ends[0].offset {
			t.Errorf("transaction %s: END at %d before BEGIN at %d", id, s.ends[0].offset, s.begins[0].offset)
		}
		n := int64(len(s.events))
		if n == 0 {
			t.Errorf("transaction %s is framed but has no event", id)
			continue
		}
		end := s.ends[0]
		if end.count != n {
			t.Errorf("transaction %s: END event_count %d, but %d events in the topics", id, end.count, n)
		}
		byTotal := slices.Clone(s.events)
		slices.SortFunc(byTotal, func(a, b txEvent) int { return int(a.total - b.total) })
		if begin := s.begins[0]; begin.ts != end.ts || end.ts != byTotal[0].ts {
			t.Errorf("transaction %s: ts_ms BEGIN %d, END %d, first event's source %d", id, begin.ts, end.ts, byTotal[0].ts)
		}
		var order []string
		counts := map[string]int64{}
		last := map[string]txEvent{}
		for i, e := range byTotal {
			if e.total != int64(i)+1 {
				t.Errorf("transaction %s: total_order %v, want 1..%d once each", id, totals(byTotal), n)
				break
			}
			if _, ok := counts[e.table]; !ok {
				order = append(order, e.table)
			}
			counts[e.table]++
			if e.order != counts[e.table] {
				t.Errorf("transaction %s: event %d of %s has data_collection_order %d, want %d", id, e.total, e.table, e.order, counts[e.table])
			}
			last[e.table] = e
		}
		// Along one topic (one table, one partition) the orders only increase.
		prev := map[string]int64{}
		for _, e := range s.events {
			if e.total <= prev[e.table] {
				t.Errorf("transaction %s: %s event total_order %d after %d in the topic", id, e.table, e.total, prev[e.table])
			}
			prev[e.table] = e.total
		}
		want := make([]string, len(order))
		for i, table := range order {
			want[i] = fmt.Sprintf("%s=%d", table, counts[table])
		}
		if !reflect.DeepEqual(end.collections, want) {
			t.Errorf("transaction %s: END data_collections %q, events in the topics %q", id, end.collections, want)
		}
	}
}

func totals(es []txEvent) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.total
	}
	return out
}

// describe renders a transaction as "END n a=x b=y" and its events of each table, in topic
// order, for comparison with what a test wrote.
func (s *txSummary) describe(table string) []string {
	var out []string
	for _, e := range s.events {
		if e.table == table {
			out = append(out, e.desc)
		}
	}
	return out
}

func (s *txSummary) end() string {
	if len(s.ends) != 1 {
		return fmt.Sprintf("%d END records", len(s.ends))
	}
	return strings.TrimSpace(fmt.Sprintf("END %d %s", s.ends[0].count, strings.Join(s.ends[0].collections, " ")))
}

// waitTopics waits until cdcd has created topics, so that a consumer subscribes to topics that
// exist.
func waitTopics(t *testing.T, topics ...string) {
	t.Helper()
	admin := kadm.NewClient(NewKafkaClient(t))
	WaitFor(t, time.Minute, "topics "+strings.Join(topics, ", "), func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		details, err := admin.ListTopics(ctx, topics...)
		if err != nil {
			return err
		}
		for _, topic := range topics {
			if d, ok := details[topic]; !ok || d.Err != nil {
				return fmt.Errorf("no topic %s yet", topic)
			}
		}
		return nil
	})
}

// crashAndCheck kills cdcd while writer writes (killWhileStreaming), stops the writer, and
// checks every transaction of first and of what followed, and the counters.
func crashAndCheck(t *testing.T, cdcd *CDCD, consumer *AvroConsumer, writer *counterWriter, first []ChangeRecord,
	txTopic string, tables map[string]string, checkID func(r ChangeRecord, id string) error) {
	t.Helper()
	cdcd, records := killWhileStreaming(t, cdcd, consumer)
	expected := writer.stop(t)
	records = collectFramed(t, consumer, records, txTopic, expected)
	sums := summarizeTransactions(t, append(first, records...), txTopic, tables, checkID)
	t.Logf("%d changes in %d transactions across %d SIGKILLs", expected, len(sums), txKillCycles)
	checkTransactions(t, sums)
	checkCounters(t, counterRecords(records, txTopic), expected)
	cdcd.Stop(time.Minute)
}

// killWhileStreaming kills cdcd txKillCycles times, each after a random number (1 to 200) of
// records more, and restarts it; it returns the running process and the records read.
func killWhileStreaming(t *testing.T, cdcd *CDCD, consumer *AvroConsumer) (*CDCD, []ChangeRecord) {
	t.Helper()
	var records []ChangeRecord
	for range txKillCycles {
		records = append(records, consumer.Collect(t, 1+rand.IntN(200), time.Minute)...)
		cdcd.Kill()
		cdcd = cdcd.Restart()
	}
	return cdcd, records
}

// collectFramed reads until the data topics hold want change events (tombstones apart) and
// every transaction begun has ended, then a little longer for a late duplicate.
func collectFramed(t *testing.T, consumer *AvroConsumer, records []ChangeRecord, txTopic string, want int) []ChangeRecord {
	t.Helper()
	WaitFor(t, 2*time.Minute, fmt.Sprintf("%d change events, each transaction ended", want), func() error {
		records = append(records, consumer.Poll(t, time.Second)...)
		events, open := 0, map[string]int{}
		for _, r := range records {
			switch {
			case r.Topic == txTopic && r.Value["status"] == string(format.TransactionBegin):
				open[r.Value["id"].(string)]++
			case r.Topic == txTopic:
				open[r.Value["id"].(string)]--
			case r.Value != nil:
				events++
			}
		}
		if events < want {
			return fmt.Errorf("%d of %d change events", events, want)
		}
		for id, n := range open {
			if n > 0 {
				return fmt.Errorf("transaction %s has no END yet", id)
			}
		}
		return nil
	})
	return append(records, consumer.Drain(t, 3*time.Second)...)
}

// counterRecords returns the change records of the counters workload (ids from counterBase).
func counterRecords(records []ChangeRecord, txTopic string) []ChangeRecord {
	var out []ChangeRecord
	for _, r := range records {
		if r.Topic != txTopic && r.After() != nil && toInt64(r.After()["id"]) > counterBase {
			out = append(out, r)
		}
	}
	return out
}

// counterBase offsets the counters' ids from the rows the first part writes; an odd counter
// lives in orders, an even one in items, so that a transaction touches one table or both.
const counterBase = 1000

func counterTable(id int) string {
	if id%2 == 1 {
		return "orders"
	}
	return "items"
}

// TestPostgresTransactionMetadataThroughTheBinary runs cdcd with provide_transaction_metadata
// on two PostgreSQL tables: three known transactions (both tables, one table, a key change and
// a delete) give exactly Debezium's BEGIN/END records and transaction blocks, with ids
// "<xid>:<lsn>"; then a stream of transactions of 1 to 3 updates over both tables, through
// SIGKILLs of cdcd, is framed exactly once with counts equal to what the topics hold.
func TestPostgresTransactionMetadataThroughTheBinary(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	ctx := t.Context()
	mustExec(t, conn, `CREATE TABLE orders (id int PRIMARY KEY, v bigint NOT NULL);
		CREATE TABLE items (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.orders", "public.items")
	c.ConnectorExtra = []string{"provide_transaction_metadata: true"}
	cdcd := c.StartStreaming(t, conn)

	// Each transaction returns its xid, to find its id ("<xid>:<lsn>").
	commit := func(stmts ...string) string {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		var xid int64
		if err := tx.QueryRow(ctx, `SELECT txid_current() % 4294967296`).Scan(&xid); err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return strconv.FormatInt(xid, 10)
	}
	both := commit(`INSERT INTO orders VALUES (1, 0)`, `INSERT INTO items VALUES (10, 1), (11, 1)`,
		`UPDATE orders SET v = 2 WHERE id = 1`)
	one := commit(`INSERT INTO items VALUES (12, 1)`)
	// A key change is two events (a delete and a create); tombstones are none.
	keyChange := commit(`UPDATE items SET id = 13 WHERE id = 12`, `DELETE FROM orders WHERE id = 1`)

	txTopic := format.TransactionTopic(c.Prefix)
	tables := map[string]string{c.Topic("orders"): "public.orders", c.Topic("items"): "public.items"}
	waitTopics(t, txTopic, c.Topic("orders"), c.Topic("items"))
	consumer := NewAvroConsumer(t, c.RegistryURL(), txTopic, c.Topic("orders"), c.Topic("items"))
	// 6 records for the first transaction, 3 for the second, 7 (with 2 tombstones) for the third.
	first := consumer.Collect(t, 16, time.Minute)
	pgID := func(r ChangeRecord, id string) error {
		if xid := fmt.Sprint(Unwrap(r.Source()["txId"])); !strings.HasPrefix(id, xid+":") {
			return fmt.Errorf("block id %s, source txId %s", id, xid)
		}
		return nil
	}
	sums := summarizeTransactions(t, first, txTopic, tables, pgID)
	checkTransactions(t, sums)
	byXID := map[string]*txSummary{}
	for id, s := range sums {
		xid, _, _ := strings.Cut(id, ":")
		if byXID[xid] != nil {
			t.Errorf("two ids for transaction %s", xid)
		}
		byXID[xid] = s
	}
	for _, want := range []struct {
		xid, end      string
		orders, items []string
	}{
		{both, "END 4 public.orders=2 public.items=2",
			[]string{"c public.orders 1/1", "u public.orders 4/2"}, []string{"c public.items 2/1", "c public.items 3/2"}},
		{one, "END 1 public.items=1", nil, []string{"c public.items 1/1"}},
		{keyChange, "END 3 public.items=2 public.orders=1",
			[]string{"d public.orders 3/1"}, []string{"d public.items 1/1", "c public.items 2/2"}},
	} {
		s := byXID[want.xid]
		if s == nil {
			t.Errorf("transaction %s: no record; ids %v", want.xid, slices.Collect(maps.Keys(sums)))
			continue
		}
		if got := s.end(); got != want.end {
			t.Errorf("transaction %s: %q, want %q", want.xid, got, want.end)
		}
		if got := s.describe("public.orders"); !reflect.DeepEqual(got, want.orders) {
			t.Errorf("transaction %s: orders events %q, want %q", want.xid, got, want.orders)
		}
		if got := s.describe("public.items"); !reflect.DeepEqual(got, want.items) {
			t.Errorf("transaction %s: items events %q, want %q", want.xid, got, want.items)
		}
	}
	if t.Failed() {
		return
	}

	// Then a stream of transactions of 1 to 3 updates over both tables, through SIGKILLs.
	commit(fmt.Sprintf(`INSERT INTO orders SELECT %d + i, 0 FROM generate_series(1, %d) i WHERE i %% 2 = 1`, counterBase, counterKeys),
		fmt.Sprintf(`INSERT INTO items SELECT %d + i, 0 FROM generate_series(1, %d) i WHERE i %% 2 = 0`, counterBase, counterKeys))
	writeConn := db.Conn(t)
	writer := startCounterWriter(t, func(ctx context.Context, ids []int) error {
		tx, err := writeConn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for _, id := range ids {
			if _, err := tx.Exec(ctx, `UPDATE `+counterTable(id)+` SET v = v + 1 WHERE id = $1`, counterBase+id); err != nil {
				_ = tx.Rollback(ctx)
				return fmt.Errorf("update: %w", err)
			}
		}
		return tx.Commit(ctx)
	})
	crashAndCheck(t, cdcd, consumer, writer, first, txTopic, tables, pgID)
}

// TestMySQLTransactionMetadataThroughTheBinary is the PostgreSQL test on MariaDB, where the
// transaction id is the GTID as MariaDB gives it (@@last_gtid, "domain-server-seq") and as
// source.gtid shows it, as Debezium's MariaDB connector names it.
func TestMySQLTransactionMetadataThroughTheBinary(t *testing.T) {
	m := NewMariaDB(t)
	ctx := t.Context()
	mustExecMySQL(t, m.DB, `CREATE TABLE orders (id int PRIMARY KEY, v bigint NOT NULL)`)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewMySQLConnector(t, m, "orders", "items")
	c.ConnectorExtra = []string{"provide_transaction_metadata: true"}
	cdcd := c.StartStreaming(t)

	// One connection, to read the GTID MariaDB gave each transaction ("domain-server-seq").
	conn, err := m.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	commit := func(stmts ...string) string {
		t.Helper()
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var gtid string
		if err := conn.QueryRowContext(ctx, `SELECT @@last_gtid`).Scan(&gtid); err != nil {
			t.Fatal(err)
		}
		return gtid
	}
	both := commit(`INSERT INTO orders VALUES (1, 0)`, `INSERT INTO items VALUES (10, 1), (11, 1)`,
		`UPDATE orders SET v = 2 WHERE id = 1`)
	one := commit(`INSERT INTO items VALUES (12, 1)`)
	keyChange := commit(`UPDATE items SET id = 13 WHERE id = 12`, `DELETE FROM orders WHERE id = 1`)

	txTopic := format.TransactionTopic(c.Prefix)
	ordersTable, itemsTable := m.Name+".orders", m.Name+".items"
	tables := map[string]string{c.Topic("orders"): ordersTable, c.Topic("items"): itemsTable}
	waitTopics(t, txTopic, c.Topic("orders"), c.Topic("items"))
	consumer := NewAvroConsumer(t, c.RegistryURL(), txTopic, c.Topic("orders"), c.Topic("items"))
	first := consumer.Collect(t, 16, time.Minute)
	// Debezium's MySQL and MariaDB connectors use the GTID as the id, as source.gtid shows it.
	gtidID := func(r ChangeRecord, id string) error {
		if gtid := fmt.Sprint(Unwrap(r.Source()["gtid"])); id != gtid {
			return fmt.Errorf("block id %s, source gtid %s", id, gtid)
		}
		return nil
	}
	sums := summarizeTransactions(t, first, txTopic, tables, gtidID)
	checkTransactions(t, sums)
	for _, want := range []struct {
		gtid, end     string
		orders, items []string
	}{
		{both, fmt.Sprintf("END 4 %s=2 %s=2", ordersTable, itemsTable),
			[]string{"c " + ordersTable + " 1/1", "u " + ordersTable + " 4/2"},
			[]string{"c " + itemsTable + " 2/1", "c " + itemsTable + " 3/2"}},
		{one, fmt.Sprintf("END 1 %s=1", itemsTable), nil, []string{"c " + itemsTable + " 1/1"}},
		{keyChange, fmt.Sprintf("END 3 %s=2 %s=1", itemsTable, ordersTable),
			[]string{"d " + ordersTable + " 3/1"}, []string{"d " + itemsTable + " 1/1", "c " + itemsTable + " 2/2"}},
	} {
		s := sums[want.gtid]
		if s == nil {
			t.Errorf("transaction %s: no record; ids %v", want.gtid, slices.Collect(maps.Keys(sums)))
			continue
		}
		if got := s.end(); got != want.end {
			t.Errorf("transaction %s: %q, want %q", want.gtid, got, want.end)
		}
		if got := s.describe(ordersTable); !reflect.DeepEqual(got, want.orders) {
			t.Errorf("transaction %s: orders events %q, want %q", want.gtid, got, want.orders)
		}
		if got := s.describe(itemsTable); !reflect.DeepEqual(got, want.items) {
			t.Errorf("transaction %s: items events %q, want %q", want.gtid, got, want.items)
		}
	}
	if t.Failed() {
		return
	}

	mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO orders SELECT %d + seq, 0 FROM seq_1_to_%d WHERE seq %% 2 = 1`, counterBase, counterKeys))
	mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO items SELECT %d + seq, 0 FROM seq_1_to_%d WHERE seq %% 2 = 0`, counterBase, counterKeys))
	writer := startCounterWriter(t, mysqlCounterTx(m.DB))
	crashAndCheck(t, cdcd, consumer, writer, first, txTopic, tables, gtidID)
}

// mysqlCounterTx increments counters spread over both tables in one transaction.
func mysqlCounterTx(db *sql.DB) incrementTx {
	return func(ctx context.Context, ids []int) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE `+counterTable(id)+` SET v = v + 1 WHERE id = ?`, counterBase+id); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("update: %w", err)
			}
		}
		return tx.Commit()
	}
}
