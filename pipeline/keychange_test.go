package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// scriptedSource streams one source transaction made of the given middle events, then waits;
// it counts its acks.
type scriptedSource struct {
	middle []connectors.Event
	acks   atomic.Int32
}

func (s *scriptedSource) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) error {
	if !from.IsZero() {
		<-ctx.Done()
		return ctx.Err()
	}
	events := append([]connectors.Event{{Kind: connectors.EventBegin, Position: offsets.Position{Source: json.RawMessage(`{"tx":0}`)}}}, s.middle...)
	events = append(events, connectors.Event{Kind: connectors.EventCommit, Position: offsets.Position{Source: json.RawMessage(`{"after":0}`)}})
	for _, ev := range events {
		if err := out.Send(ctx, ev); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *scriptedSource) Ack(offsets.Position) error { s.acks.Add(1); return nil }

// runScript runs a pipeline on src, writing to the fake cluster kafka, until src's transaction
// is acknowledged.
func runScript(t *testing.T, kafka []kgo.Opt, src *scriptedSource) {
	t.Helper()
	p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix})
	r := start(t, p)
	waitFor(t, patience, "the ack of the transaction", func() error {
		if src.acks.Load() == 0 {
			return errors.New("no ack yet")
		}
		return nil
	})
	r.stop(t)
}

// TestKeyChangeBecomesDeleteTombstoneCreate checks that an update which changed the key is
// written as Debezium writes it: a delete of the old key, its tombstone, a create of the new.
func TestKeyChangeBecomesDeleteTombstoneCreate(t *testing.T) {
	row := func(id int64) []decoder.Value { return []decoder.Value{{State: decoder.ValueSet, Int: id}} }
	update := &decoder.Change{Op: decoder.OpUpdate, Table: pipelinetest.Table, Before: row(1), After: row(2)}
	kafka := newKafka(t)
	runScript(t, kafka, &scriptedSource{middle: []connectors.Event{{Kind: connectors.EventChange, Change: update}}})
	checkTopic(t, kafka, []string{"0/0/d", "<tombstone k1>", "0/0/c"})
}

// TestSourceRecordsCommitWithTheChanges checks that a record the source asks for (the MySQL
// schema history) is written as it is, in the same Kafka transaction as the change after it.
func TestSourceRecordsCommitWithTheChanges(t *testing.T) {
	const history = "history"
	kafka := newKafka(t)
	client, err := kgo.NewClient(kafka...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := kadm.NewClient(client).CreateTopic(t.Context(), 1, 1, nil, history); err != nil {
		t.Fatal(err)
	}
	insert := pipelinetest.Change(decoder.OpCreate, 0, 1)
	runScript(t, kafka, &scriptedSource{middle: []connectors.Event{
		{Kind: connectors.EventRecord, Record: &connectors.Record{Topic: history, Key: []byte("ddl"), Value: []byte("ALTER TABLE t")}},
		{Kind: connectors.EventChange, Change: insert},
	}})
	var records []*kgo.Record
	records, err = pipelinetest.ReadCommitted(t.Context(), kafka, history)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 || string(records[0].Value) != "ALTER TABLE t" {
		t.Errorf("history topic = %v, want the one record", pipelinetest.Values(records))
	}
	checkTopic(t, kafka, []string{"0/1/c"})
}
