package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// The toy kind is a third source written only here: a fixed list of transactions on one table.
// That it runs through the real engine, the real Avro format and the registry into Kafka, with
// no file outside this test knowing of it, is the proof that the seams of issue 14 exist: a
// source needs the source contract (connectors.Source and Kind) and nothing else.

var toyTable = &decoder.Table{ID: 1, Namespace: "toy", Name: "widgets", Version: 1, Columns: []decoder.Column{
	{Name: "id", Type: decoder.TypeInt64, SourceType: "int", Key: true},
	{Name: "name", Type: decoder.TypeString, SourceType: "text", Optional: true},
}}

// toyBlock is the toy kind's part of the envelope's source block: its connector name and the
// sequence number of the change's transaction.
var toyBlock = &decoder.SourceBlock{
	Connector: "toy",
	DB:        decoder.SourceNamespace,
	Fields: []decoder.SourceField{
		{Name: "table", Type: decoder.SourceFieldString, Value: decoder.SourceTableName},
		{Name: "seq", Type: decoder.SourceFieldLong, Value: decoder.SourceSlotInt, Slot: 0},
	},
	TransactionID: func(s *decoder.SourceInfo) string { return fmt.Sprint(s.Ints[0]) },
}

// errToyGone is the toy's permanent failure: the position it was asked for is gone.
var errToyGone = errors.New("toy source: the position is gone")

type toyChange struct {
	op   decoder.Op
	id   int64
	name string
}

// toyScript is what the toy source holds: three transactions.
var toyScript = [][]toyChange{
	{{decoder.OpCreate, 1, "bolt"}, {decoder.OpCreate, 2, "nut"}},
	{{decoder.OpUpdate, 1, "big bolt"}},
	{{decoder.OpDelete, 2, ""}, {decoder.OpCreate, 3, "gear"}},
}

type toyKind struct{}

func (toyKind) Name() string                                         { return "toy" }
func (toyKind) Aliases() []string                                    { return nil }
func (toyKind) Defaults(connectors.Settings)                         {}
func (toyKind) Validate(connectors.Settings) []connectors.FieldError { return nil }
func (toyKind) Conflict(a, b connectors.Settings) *connectors.Conflict {
	return nil
}
func (toyKind) Origin(connectors.Settings) connectors.Origin {
	return connectors.Origin{Source: toyBlock}
}
func (toyKind) Open(context.Context, connectors.Settings, connectors.Env) (connectors.Source, error) {
	return &toySource{}, nil
}
func (toyKind) CheckOffset(context.Context, connectors.Settings, connectors.Env, offsets.Position) error {
	return nil
}
func (toyKind) Signal(context.Context, connectors.Settings, connectors.Env, string, []string) error {
	return &connectors.ConfigError{Source: "toy", Field: "signal table", Problem: "the toy source has none"}
}
func (toyKind) Leftovers(context.Context, connectors.Settings, connectors.Env, bool) (connectors.Leftovers, error) {
	return connectors.Leftovers{Message: "nothing"}, nil
}
func (toyKind) PermanentErrors() []error { return []error{errToyGone} }
func (toyKind) StreamError(err error) error {
	if errors.Is(err, errToyGone) {
		return connectors.Permanent(err)
	}
	return err
}

// toySource streams toyScript from any position, then waits, as a live source does.
type toySource struct {
	mu    sync.Mutex
	acked offsets.Position
}

func toyPos(tx int) offsets.Position {
	return offsets.Position{Source: json.RawMessage(fmt.Sprintf(`{"tx":%d}`, tx))}
}

func (s *toySource) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) error {
	start := 0
	if !from.IsZero() {
		var p struct{ Tx int }
		if err := json.Unmarshal(from.Source, &p); err != nil {
			return toyKind{}.StreamError(fmt.Errorf("resuming from %s: %w", from, errToyGone))
		}
		start = p.Tx
	}
	commit := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for tx := start; tx < len(toyScript); tx++ {
		if err := out.Send(ctx, connectors.Event{Kind: connectors.EventBegin, Position: toyPos(tx)}); err != nil {
			return err
		}
		for i, c := range toyScript[tx] {
			if int64(i) < from.Skip && tx == start {
				continue
			}
			info := decoder.SourceInfo{CommitTime: commit.Add(time.Duration(tx) * time.Second), Block: toyBlock}
			info.Ints[0] = int64(tx)
			row := []decoder.Value{{State: decoder.ValueSet, Int: c.id}, {State: decoder.ValueNull}}
			if c.name != "" {
				row[1] = decoder.Value{State: decoder.ValueSet, Bytes: []byte(c.name)}
			}
			ch := &decoder.Change{Op: c.op, Table: toyTable, Source: info}
			if c.op == decoder.OpDelete {
				ch.Before = row
			} else {
				ch.After = row
			}
			if err := out.Send(ctx, connectors.Event{Kind: connectors.EventChange, Change: ch}); err != nil {
				return err
			}
		}
		if err := out.Send(ctx, connectors.Event{Kind: connectors.EventCommit, Position: toyPos(tx + 1)}); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *toySource) Ack(pos offsets.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acked = pos
	return nil
}

func (s *toySource) ackedPos() offsets.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// TestToySourceKindThroughTheRealEngine: the toy kind, taken from a table of kinds as the
// daemon takes its own, is opened, its source block given to the Avro format chosen by name,
// and run by the real pipeline into the real Kafka and the embedded registry; a consumer
// decodes every change as written, with the toy's own source block; the source is acknowledged
// up to its last commit; and the kind passes the permanent-error contract like every kind.
func TestToySourceKindThroughTheRealEngine(t *testing.T) {
	kinds := connectors.Kinds{toyKind{}}
	if err := kinds.Check(); err != nil {
		t.Fatal(err)
	}
	pipelinetest.CheckPermanentErrors(t, toyKind{})

	k, ok := kinds.Get("toy")
	if !ok {
		t.Fatal("the toy kind is not in its table")
	}
	settings := connectors.Settings{Name: "toy"}
	src, err := k.Open(t.Context(), settings, connectors.Env{})
	if err != nil {
		t.Fatal(err)
	}

	regTopic := Name(t, "schemas")
	deleteTopicAtEnd(t, regTopic)
	url, _ := openEmbeddedRegistry(t, regTopic)
	env := newPipelineEnv(t)
	dataTopic := env.prefix + ".toy.widgets"
	deleteTopicAtEnd(t, dataTopic)

	registry := avro.NewSRClient(url, &http.Client{Timeout: 10 * time.Second})
	formats := format.Formats{avro.Format(registry)}
	origin := k.Origin(settings)
	enc, err := formats.New("avro", format.Config{TopicPrefix: env.prefix, Source: origin.Source, Database: origin.Database})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(src, enc, pipeline.ConnectorName(env.connector), pipeline.TopicPrefix(env.prefix),
		pipeline.KafkaOpts(env.kafka...), pipeline.OffsetsTopic(env.offsetsTopic))
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)

	records := NewAvroConsumer(t, url, dataTopic).Collect(t, 6, 2*time.Minute)
	var got []string
	for _, r := range records {
		if r.Value == nil {
			got = append(got, fmt.Sprintf("tombstone %v", r.Key["id"]))
			continue
		}
		row := r.After()
		if r.Op() == "d" {
			row = r.Before()
		}
		src := r.Source()
		if src["connector"] != "toy" || src["table"] != "widgets" || src["db"] != "toy" {
			t.Errorf("source block %v, want the toy's", src)
		}
		got = append(got, fmt.Sprintf("%s %v %v seq=%v", r.Op(), Unwrap(row["id"]), Unwrap(row["name"]), Unwrap(src["seq"])))
	}
	want := []string{
		"c 1 bolt seq=0", "c 2 nut seq=0",
		"u 1 big bolt seq=1",
		"d 2 <nil> seq=2", "tombstone 2", "c 3 gear seq=2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records\n%q\nwant\n%q", got, want)
	}
	toy := src.(*toySource)
	WaitFor(t, time.Minute, "the toy source acknowledged past its last transaction", func() error {
		if pos := toy.ackedPos(); !reflect.DeepEqual(pos, toyPos(len(toyScript))) {
			return fmt.Errorf("acknowledged %v", pos)
		}
		return nil
	})
}
