package integration

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// rowsByKey is a table's content as text: row key -> row, both canonical strings. A table
// without a key is a multiset: the "key" is the row itself and the value its count.
type rowsByKey map[string]string

// kafkaState rebuilds tables' contents from their topics as a compacting consumer would: the
// last value per key wins, a delete or tombstone removes the key; for a keyless topic every
// read or create adds a row.
type kafkaState struct {
	consumer *AvroConsumer
	tables   map[string]rowsByKey // by topic
	keyless  map[string]bool
}

func newKafkaState(t *testing.T, registryURL string, topics []string, keyless ...string) *kafkaState {
	s := &kafkaState{consumer: NewAvroConsumer(t, registryURL, topics...), tables: map[string]rowsByKey{}, keyless: map[string]bool{}}
	for _, topic := range topics {
		s.tables[topic] = rowsByKey{}
	}
	for _, topic := range keyless {
		s.keyless[topic] = true
	}
	return s
}

// poll applies what has arrived since the last call.
func (s *kafkaState) poll(t *testing.T) { s.apply(s.consumer.Drain(t, 200*time.Millisecond)) }

// apply applies records in their order.
func (s *kafkaState) apply(records []ChangeRecord) {
	for _, r := range records {
		table := s.tables[r.Topic]
		if s.keyless[r.Topic] {
			if r.Op() == "r" || r.Op() == "c" {
				row := canonical(r.After())
				table[row] = fmt.Sprint(atoi(table[row]) + 1)
			}
			continue
		}
		key := canonical(r.Key)
		switch r.Op() {
		case "d", "tombstone":
			delete(table, key)
		default:
			table[key] = canonical(r.After())
		}
	}
}

// canonical renders a decoded record as sorted column=value pairs.
func canonical(m map[string]any) string {
	cols := make([]string, 0, len(m))
	for col, v := range m {
		cols = append(cols, col+"="+fmt.Sprint(Unwrap(v)))
	}
	sort.Strings(cols)
	return strings.Join(cols, ",")
}

func atoi(s string) int {
	var n int
	_, _ = fmt.Sscan(s, &n)
	return n
}

// waitConverged waits until the state rebuilt from Kafka equals want for every topic.
func (s *kafkaState) waitConverged(t *testing.T, want map[string]rowsByKey) {
	t.Helper()
	WaitFor(t, 3*time.Minute, "the state rebuilt from Kafka to equal the tables", func() error {
		s.poll(t)
		for topic, rows := range want {
			if got := s.tables[topic]; !reflect.DeepEqual(got, rows) {
				return fmt.Errorf("%s: %d rows from Kafka, %d in the table (first difference: %s)",
					topic, len(got), len(rows), firstDifference(got, rows))
			}
		}
		return nil
	})
}

func firstDifference(got, want rowsByKey) string {
	for k, v := range want {
		if got[k] != v {
			return fmt.Sprintf("%s: kafka %q, table %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("%s: only in kafka (%q)", k, v)
		}
	}
	return "none"
}

// TestPostgresSnapshotThenStreamRebuildsTheTables fills three tables (a key, a composite key,
// no key), starts cdcd, which snapshots them in chunks while a writer changes them, and checks
// that the state rebuilt from Kafka equals the tables once the writer stops.
func TestPostgresSnapshotThenStreamRebuildsTheTables(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
		CREATE TABLE pairs (a int, b text, v int NOT NULL, PRIMARY KEY (a, b));
		CREATE TABLE loose (x int, y text);
		INSERT INTO items SELECT i, 0 FROM generate_series(1, 20000) i;
		INSERT INTO pairs SELECT i % 50, 'b' || (i / 50), 0 FROM generate_series(1, 2000) i;
		INSERT INTO loose SELECT i, 'y' || i FROM generate_series(1, 1000) i`)
	c := NewPostgresConnector(t, db, "public.items", "public.pairs", "public.loose")
	c.Extra = []string{"snapshot_chunk_rows: 1000"}
	state := newKafkaState(t, c.RegistryURL(), []string{c.Topic("items"), c.Topic("pairs"), c.Topic("loose")}, c.Topic("loose"))
	cdcd := StartCDCD(t, c.Config())

	// The writer changes every table while the snapshot reads them.
	writer := db.Conn(t)
	for i := range 600 {
		exec := func(sql string, args ...any) {
			if _, err := writer.Exec(t.Context(), sql, args...); err != nil {
				t.Fatalf("writer: %s: %v", sql, err)
			}
		}
		exec(`UPDATE items SET v = v + 1 WHERE id = $1`, 1+rand.IntN(20000))
		exec(`UPDATE pairs SET v = v + 1 WHERE a = $1 AND b = $2`, rand.IntN(50), fmt.Sprintf("b%d", rand.IntN(40)))
		exec(`INSERT INTO loose VALUES ($1, $2)`, 100000+i, fmt.Sprintf("new%d", i))
		if i%10 == 0 {
			exec(`DELETE FROM items WHERE id = $1`, 1+rand.IntN(20000))
			exec(`INSERT INTO items VALUES ($1, 0) ON CONFLICT DO NOTHING`, 20000+i)
		}
	}
	state.waitConverged(t, map[string]rowsByKey{
		c.Topic("items"): pgTableState(t, conn, `SELECT format('id=%s', id), format('id=%s,v=%s', id, v) FROM items`),
		c.Topic("pairs"): pgTableState(t, conn, `SELECT format('a=%s,b=%s', a, b), format('a=%s,b=%s,v=%s', a, b, v) FROM pairs`),
		c.Topic("loose"): pgMultiset(t, conn, `SELECT format('x=%s,y=%s', x, y) FROM loose`),
	})
	cdcd.Stop(time.Minute)
}

// TestMySQLSnapshotThenStreamRebuildsTheTables is the same for MariaDB, with a key and a
// composite key.
func TestMySQLSnapshotThenStreamRebuildsTheTables(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)`)
	mustExecMySQL(t, m.DB, `CREATE TABLE pairs (a int, b varchar(10), v int NOT NULL, PRIMARY KEY (a, b))`)
	mustExecMySQL(t, m.DB, `INSERT INTO items SELECT seq, 0 FROM seq_1_to_20000`)
	mustExecMySQL(t, m.DB, `INSERT INTO pairs SELECT seq % 50, CONCAT('b', seq DIV 50), 0 FROM seq_1_to_2000`)
	c := NewMySQLConnector(t, m, "items", "pairs")
	state := newKafkaState(t, c.RegistryURL(), []string{c.Topic("items"), c.Topic("pairs")})
	cdcd := StartCDCD(t, c.Config())

	for i := range 600 {
		mustExecMySQL(t, m.DB, `UPDATE items SET v = v + 1 WHERE id = ?`, 1+rand.IntN(20000))
		mustExecMySQL(t, m.DB, `UPDATE pairs SET v = v + 1 WHERE a = ? AND b = ?`, rand.IntN(50), fmt.Sprintf("b%d", rand.IntN(40)))
		if i%10 == 0 {
			mustExecMySQL(t, m.DB, `DELETE FROM items WHERE id = ?`, 1+rand.IntN(20000))
			mustExecMySQL(t, m.DB, `INSERT IGNORE INTO items VALUES (?, 0)`, 20000+i)
		}
	}
	state.waitConverged(t, map[string]rowsByKey{
		c.Topic("items"): sqlTableState(t, m.DB, `SELECT CONCAT('id=', id), CONCAT('id=', id, ',v=', v) FROM items`),
		c.Topic("pairs"): sqlTableState(t, m.DB, `SELECT CONCAT('a=', a, ',b=', b), CONCAT('a=', a, ',b=', b, ',v=', v) FROM pairs`),
	})
	cdcd.Stop(time.Minute)
}

func pgTableState(t *testing.T, conn *pgx.Conn, query string) rowsByKey {
	t.Helper()
	rows, err := conn.Query(t.Context(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	state := rowsByKey{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		state[k] = v
	}
	return state
}

func pgMultiset(t *testing.T, conn *pgx.Conn, query string) rowsByKey {
	t.Helper()
	rows, err := conn.Query(t.Context(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	state := rowsByKey{}
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatal(err)
		}
		state[row] = fmt.Sprint(atoi(state[row]) + 1)
	}
	return state
}

func sqlTableState(t *testing.T, db *sql.DB, query string) rowsByKey {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer func() { _ = rows.Close() }()
	state := rowsByKey{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		state[k] = v
	}
	return state
}
