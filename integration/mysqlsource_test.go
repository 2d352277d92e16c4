package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/kafkalog"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/twmb/franz-go/pkg/kgo"
)

func mysqlSourceConfig(t *testing.T, m *MariaDB, tables ...string) mysql.Config {
	return mysql.Config{Name: Name(t, "conn"), Host: m.Host(), Port: m.Port(),
		User: MariaDBCaptureUser, Password: MariaDBCapturePassword, Tables: tables,
		History: kafkalog.NewSchemaHistoryReader(kgo.SeedBrokers(StackFromEnv().KafkaAddr)), HistoryTopic: NewKafkaTopic(t, 1)}
}

func TestMySQLSourceOpenFailsFast(t *testing.T) {
	m := NewMariaDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	_, err := mysql.Open(ctx, mysqlSourceConfig(t, m, m.Name+".missing"))
	var ce *mysql.ConfigError
	if !errors.As(err, &ce) || ce.Field != "tables" || !strings.Contains(ce.Problem, "missing") {
		t.Errorf("missing table: %v", err)
	}
	cfg := mysqlSourceConfig(t, m)
	cfg.User, cfg.Password = "nobody_"+m.Name[len(m.Name)-8:], "wrong-secret"
	_, err = mysql.Open(ctx, cfg)
	if !errors.As(err, &ce) || ce.Field != "user" || !strings.Contains(err.Error(), cfg.User) ||
		!strings.Contains(err.Error(), m.Host()) || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("wrong user: %v", err)
	}
}

// historyWriter writes a source's EventRecords to Kafka in transactions, as the pipeline
// does, so that a later Stream finds them.
type historyWriter struct {
	t      *testing.T
	client *kgo.Client
}

func newHistoryWriter(t *testing.T) *historyWriter {
	return &historyWriter{t: t, client: NewKafkaClient(t, kgo.TransactionalID(Name(t, "txn")))}
}

// write produces the records among evs in one transaction, committed or aborted.
func (w *historyWriter) write(ctx context.Context, evs []connectors.Event, commit kgo.TransactionEndTry) {
	w.t.Helper()
	if err := w.client.BeginTransaction(); err != nil {
		w.t.Fatalf("BeginTransaction: %v", err)
	}
	for _, e := range evs {
		if e.Kind == connectors.EventRecord {
			r := e.Record
			if err := w.client.ProduceSync(ctx, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}).FirstErr(); err != nil {
				w.t.Fatalf("producing a history record: %v", err)
			}
		}
	}
	if err := w.client.EndTransaction(ctx, commit); err != nil {
		w.t.Fatalf("EndTransaction: %v", err)
	}
}

// firstStart streams from the zero position until its snapshot transaction, writes the snapshot
// to the history topic, and returns the position after it: where the tests' streams start.
func firstStart(t *testing.T, ctx context.Context, src *mysql.Source, w *historyWriter) offsets.Position {
	t.Helper()
	evs, err := streamUntil(t, src, offsets.Position{}, 1)
	if err != nil {
		t.Fatalf("first Stream: %v", err)
	}
	if len(evs) != 3 || evs[1].Kind != connectors.EventRecord || evs[2].Kind != connectors.EventCommit {
		t.Fatalf("first Stream: %d events, want the snapshot's Begin, Record, Commit", len(evs))
	}
	w.write(ctx, evs, kgo.TryCommit)
	return evs[2].Position
}

// streamUntil streams from from until commits Commit events arrived or the stream failed, and
// returns the events and the stream's error (nil when stopped after the commits).
func streamUntil(t *testing.T, src *mysql.Source, from offsets.Position, commits int) ([]connectors.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, q := EventChan(ctx, 4)
	done := make(chan error, 1)
	go func() { done <- src.Stream(ctx, from, q) }()
	var evs []connectors.Event
	for seen := 0; seen < commits; {
		select {
		case e := <-out:
			evs = append(evs, e)
			if e.Kind == connectors.EventCommit {
				seen++
			}
		case err := <-done:
			return evs, err
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("stream stopped with %v, want context.Canceled", err)
	}
	return evs, nil
}

// txns splits events into transactions rendered as "op:id" lists, checking the framing.
func txns(t *testing.T, evs []connectors.Event) (out [][]string, begins, commits []offsets.Position) {
	t.Helper()
	var cur []string
	for _, e := range evs {
		switch e.Kind {
		case connectors.EventBegin:
			if cur != nil {
				t.Fatalf("Begin inside a transaction")
			}
			cur = []string{}
			begins = append(begins, e.Position)
		case connectors.EventChange:
			c := e.Change
			row := c.After
			if c.Op == decoder.OpDelete {
				row = c.Before
			}
			if mysql.SourceGTID(&c.Source) == "" || mysql.SourceFile(&c.Source) == "" || mysql.SourcePos(&c.Source) == 0 || mysql.SourceServerID(&c.Source) == 0 || c.Source.CommitTime.IsZero() {
				t.Errorf("source fields missing: %+v", c.Source)
			}
			if c.Op == decoder.OpUpdate && (c.Before == nil || c.After == nil) {
				t.Errorf("update without both images")
			}
			cur = append(cur, fmt.Sprintf("%s:%d", c.Op, row[0].Int))
		case connectors.EventCommit:
			out = append(out, cur)
			cur = nil
			commits = append(commits, e.Position)
		}
	}
	return out, begins, commits
}

func TestMySQLSourceStreamsAndResumes(t *testing.T) {
	m := NewMariaDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	exec := func(q string) {
		t.Helper()
		if _, err := m.DB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE items (id INT PRIMARY KEY, qty INT NOT NULL)")
	exec("CREATE TABLE other (id INT PRIMARY KEY)")
	src, err := mysql.Open(ctx, mysqlSourceConfig(t, m, m.Name+".items"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	start := firstStart(t, ctx, src, newHistoryWriter(t))

	a, err := m.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	b, err := m.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	for _, step := range []struct {
		a bool
		q string
	}{
		{true, "BEGIN"}, {true, "INSERT INTO items VALUES (1, 1)"},
		{false, "BEGIN"}, {false, "INSERT INTO items VALUES (2, 2)"},
		{true, "UPDATE items SET qty = 5 WHERE id = 1"},
		{false, "INSERT INTO other VALUES (7)"},
		{false, "DELETE FROM items WHERE id = 2"}, {false, "COMMIT"},
		{true, "INSERT INTO items VALUES (3, 3), (4, 4)"}, {true, "COMMIT"},
	} {
		c := b
		if step.a {
			c = a
		}
		if _, err := c.ExecContext(ctx, step.q); err != nil {
			t.Fatalf("%s: %v", step.q, err)
		}
	}
	exec("INSERT INTO other VALUES (8)") // a transaction without captured rows

	evs, err := streamUntil(t, src, start, 2)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	got, begins, commits := txns(t, evs)
	if fmt.Sprint(got) != "[[c:2 d:2] [c:1 u:1 c:3 c:4]]" {
		t.Fatalf("transactions %v, want B's then A's in commit order", got)
	}
	if mysql.SourceGTID(&evs[1].Change.Source) == mysql.SourceGTID(&evs[len(evs)-2].Change.Source) {
		t.Errorf("both transactions carry GTID %s", mysql.SourceGTID(&evs[1].Change.Source))
	}
	if err := src.Ack(commits[0]); err != nil {
		t.Errorf("Ack: %v", err)
	}
	if err := src.Ack(commits[1]); err != nil {
		t.Errorf("Ack: %v", err)
	}
	if err := src.Ack(commits[0]); !errors.Is(err, mysql.ErrPositionBackwards) {
		t.Errorf("Ack backwards: %v", err)
	}

	// From B's commit: A alone.
	evs, err = streamUntil(t, src, commits[0], 1)
	if err != nil {
		t.Fatalf("Stream from a commit: %v", err)
	}
	if got, _, c := txns(t, evs); fmt.Sprint(got) != "[[c:1 u:1 c:3 c:4]]" || string(c[0].Source) != string(commits[1].Source) {
		t.Errorf("from B's commit: %v ending at %s", got, c)
	}

	// From A's Begin with Skip=2: the rest of A.
	resume := begins[1]
	resume.Skip = 2
	evs, err = streamUntil(t, src, resume, 1)
	if err != nil {
		t.Fatalf("Stream from a Begin with Skip=2: %v", err)
	}
	got, b2, _ := txns(t, evs)
	if fmt.Sprint(got) != "[[c:3 c:4]]" || b2[0].Skip != 2 {
		t.Errorf("from A's Begin+2: %v, begin %s", got, b2[0])
	}
}
