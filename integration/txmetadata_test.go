package integration

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// TestPipelinePostgresTransactionMetadata runs the real PostgreSQL source through a pipeline
// with transaction metadata on, into the real Kafka and the embedded registry: a transaction
// touching two tables gives BEGIN, its events with their transaction blocks, and END with the
// counts per table, all decodable through the registry as any Avro consumer decodes them.
func TestPipelinePostgresTransactionMetadata(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, "CREATE TABLE orders (id int PRIMARY KEY, total int); CREATE TABLE lines (id int PRIMARY KEY, order_id int)")
	src := openPGSource(t, pgSourceConfig(t, db, "public.orders", "public.lines"))

	regTopic := Name(t, "schemas")
	deleteTopicAtEnd(t, regTopic)
	url, _ := openEmbeddedRegistry(t, regTopic)
	env := newPipelineEnv(t)
	txTopic := format.TransactionTopic(env.prefix)
	topics := []string{txTopic, env.prefix + ".public.orders", env.prefix + ".public.lines"}
	admin := kadm.NewClient(NewKafkaClient(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.DeleteTopics(ctx, topics...); err != nil {
			t.Errorf("deleting the data topics: %v", err)
		}
	})

	enc, err := avro.NewEncoder(avro.WithTopicPrefix(env.prefix), avro.WithSource(postgres.SourceBlock), avro.WithDatabase(db.Name),
		avro.WithRegistry(avro.NewSRClient(url, &http.Client{Timeout: 10 * time.Second})))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(src, enc, pipeline.ConnectorName(env.connector), pipeline.TopicPrefix(env.prefix),
		pipeline.KafkaOpts(env.kafka...), pipeline.OffsetsTopic(env.offsetsTopic), pipeline.TransactionMetadata())
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)

	mustExec(t, conn, `BEGIN;
		INSERT INTO orders VALUES (1, 0);
		INSERT INTO lines VALUES (10, 1), (11, 1);
		UPDATE orders SET total = 2 WHERE id = 1;
		COMMIT`)
	mustExec(t, conn, "INSERT INTO lines VALUES (12, 1)")
	WaitFor(t, time.Minute, "two committed transactions", func() error {
		if n := p.Metrics().Stats().Records; n < 9 {
			return fmt.Errorf("%d records committed", n)
		}
		return nil
	})

	records := NewAvroConsumer(t, url, topics...).Collect(t, 9, time.Minute)
	// A consumer reads the topics in no order between them: the ids are compared at the end.
	var txEvents, blocks, ids []string
	xids := map[string]bool{}
	for _, r := range records {
		if r.Topic == txTopic {
			s := fmt.Sprintf("%s %v", r.Value["status"], Unwrap(r.Value["event_count"]))
			if dcs, ok := Unwrap(r.Value["data_collections"]).([]any); ok {
				for _, dc := range dcs {
					m := Unwrap(dc).(map[string]any)
					s += fmt.Sprintf(" %v=%v", m["data_collection"], m["event_count"])
				}
			}
			if r.Key["id"] != r.Value["id"] {
				t.Errorf("transaction record key %v, value id %v", r.Key, r.Value["id"])
			}
			xids[r.Value["id"].(string)] = true
			txEvents = append(txEvents, s)
			continue
		}
		b, _ := Unwrap(r.Value["transaction"]).(map[string]any)
		if b == nil {
			t.Fatalf("%s: event without transaction block: %v", r.Topic, r.Value)
		}
		id := b["id"].(string)
		if !strings.HasPrefix(id, fmt.Sprint(Unwrap(r.Source()["txId"]))+":") {
			t.Errorf("block id %s, source txId %v", id, r.Source()["txId"])
		}
		ids = append(ids, id)
		table := strings.TrimPrefix(r.Topic, env.prefix+".public.")
		blocks = append(blocks, fmt.Sprintf("%s %s %v/%v", r.Op(), table, b["total_order"], b["data_collection_order"]))
	}
	ofTable := func(bs []string, table string) []string {
		var out []string
		for _, b := range bs {
			if strings.Contains(b, " "+table+" ") {
				out = append(out, b)
			}
		}
		return out
	}
	// Each topic in its order; across topics a consumer orders by total_order.
	if got, want := ofTable(blocks, "orders"), []string{"c orders 1/1", "u orders 4/2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("orders events %q, want %q", got, want)
	}
	if got, want := ofTable(blocks, "lines"), []string{"c lines 2/1", "c lines 3/2", "c lines 1/1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines events %q, want %q", got, want)
	}
	wantTx := []string{"BEGIN <nil>", "END 4 public.orders=2 public.lines=2", "BEGIN <nil>", "END 1 public.lines=1"}
	if !reflect.DeepEqual(txEvents, wantTx) {
		t.Errorf("transaction topic %q, want %q", txEvents, wantTx)
	}
	for _, id := range ids {
		if !xids[id] {
			t.Errorf("event of transaction %s, which has no BEGIN/END", id)
		}
	}
	if len(xids) != 2 {
		t.Errorf("transaction ids %v, want 2", xids)
	}
}
