package pipeline_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/format"
	avroformat "github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
)

// memRegistry is an in-memory schema registry that accepts every schema.
type memRegistry struct {
	mu       sync.Mutex
	subjects map[string][]avroformat.Schema
	byID     map[int]string
}

func newMemRegistry() *memRegistry {
	return &memRegistry{subjects: map[string][]avroformat.Schema{}, byID: map[int]string{}}
}

func (m *memRegistry) Compatibility(context.Context, string) (avroformat.Compatibility, error) {
	return avroformat.CompatNone, nil
}

func (m *memRegistry) Versions(_ context.Context, subject string) ([]avroformat.Schema, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]avroformat.Schema(nil), m.subjects[subject]...), nil
}

func (m *memRegistry) Lookup(_ context.Context, subject, schema string) (avroformat.Schema, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subjects[subject] {
		if s.Schema == schema {
			return s, true, nil
		}
	}
	return avroformat.Schema{}, false, nil
}

func (m *memRegistry) Register(_ context.Context, subject, schema string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.byID {
		if s == schema {
			m.subjects[subject] = append(m.subjects[subject], avroformat.Schema{ID: id, Version: len(m.subjects[subject]) + 1, Schema: schema})
			return id, nil
		}
	}
	id := len(m.byID) + 1
	m.byID[id] = schema
	m.subjects[subject] = append(m.subjects[subject], avroformat.Schema{ID: id, Version: len(m.subjects[subject]) + 1, Schema: schema})
	return id, nil
}

// decode decodes a Confluent wire-format message with the schema registered under its id.
func (m *memRegistry) decode(t *testing.T, msg []byte) map[string]any {
	t.Helper()
	if len(msg) < 5 || msg[0] != 0 {
		t.Fatalf("no wire header in % x", msg)
	}
	m.mu.Lock()
	text := m.byID[int(binary.BigEndian.Uint32(msg[1:5]))]
	m.mu.Unlock()
	schema, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("schema %q: %v", text, err)
	}
	var out map[string]any
	if err := avro.Unmarshal(schema, msg[5:], &out); err != nil {
		t.Fatalf("hamba cannot decode % x: %v", msg, err)
	}
	return out
}

// unionValue returns a union's value: hamba decodes a named or array branch as {name: value}.
func unionValue(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, inner := range m {
			if k == "array" || strings.Contains(k, ".") {
				return inner
			}
		}
	}
	return v
}

var txTables = map[string]*decoder.Table{
	"a": {ID: 1, Namespace: "public", Name: "a", Version: 1,
		Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt64, SourceType: "int8", Key: true}}},
	"b": {ID: 2, Namespace: "public", Name: "b", Version: 1,
		Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt64, SourceType: "int8", Key: true}}},
}

// step is one scripted change: table, op, the row id (and, for a key change, the old one).
type step struct {
	table   string
	op      decoder.Op
	id, old int64
}

// multiSource replays transactions over tables a and b from any position, as
// pipelinetest.Source does; change i of transaction tx has LSN 1000*(tx+1)+i and xid 500+tx.
type multiSource struct {
	txns [][]step
	mu   sync.Mutex
	acks []offsets.Position
}

func row(id int64) []decoder.Value { return []decoder.Value{{State: decoder.ValueSet, Int: id}} }

func (s *multiSource) change(tx, i int) *decoder.Change {
	st := s.txns[tx][i]
	c := &decoder.Change{Op: st.op, Table: txTables[st.table], Source: postgres.NewSourceInfo(
		time.UnixMilli(int64(1_700_000_000_000+tx)), decoder.SnapshotFalse, int64(500+tx), uint64(1000*(tx+1)+i),
	)}
	switch st.op {
	case decoder.OpDelete:
		c.Before = row(st.id)
	case decoder.OpUpdate:
		c.Before, c.After = row(st.old), row(st.id)
	default:
		c.After = row(st.id)
	}
	if st.op == decoder.OpRead {
		c.Source.Snapshot = decoder.SnapshotTrue
	}
	return c
}

func (s *multiSource) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) error {
	tx, skip, err := pipelinetest.ParsePos(from)
	if err != nil {
		return err
	}
	send := func(ev connectors.Event) error { return out.Send(ctx, ev) }
	for ; tx < len(s.txns); tx++ {
		if err := send(connectors.Event{Kind: connectors.EventBegin, Position: pipelinetest.Pos(tx, skip)}); err != nil {
			return err
		}
		for i := int(skip); i < len(s.txns[tx]); i++ {
			if err := send(connectors.Event{Kind: connectors.EventChange, Change: s.change(tx, i)}); err != nil {
				return err
			}
		}
		if err := send(connectors.Event{Kind: connectors.EventCommit, Position: pipelinetest.Pos(tx+1, 0)}); err != nil {
			return err
		}
		skip = 0
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *multiSource) Ack(pos offsets.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acks = append(s.acks, pos)
	return nil
}

func (s *multiSource) acked(tx int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.acks) == 0 {
		return false
	}
	got, skip, _ := pipelinetest.ParsePos(s.acks[len(s.acks)-1])
	return got == tx && skip == 0
}

func newTxEncoder(t *testing.T, reg *memRegistry) *avroformat.Encoder {
	t.Helper()
	enc, err := avroformat.NewEncoder(avroformat.WithTopicPrefix(prefix), avroformat.WithRegistry(reg), avroformat.WithSource(postgres.SourceBlock))
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// runTxScript runs a pipeline over src until its last transaction is acknowledged. A run
// ended by a Kafka hiccup is followed by one resumed from the committed position, as in
// production: the tests assert what the topics hold in the end, not run boundaries.
func runTxScript(t *testing.T, kafka []kgo.Opt, src *multiSource, enc pipeline.Encoder, opts ...pipeline.Option) {
	t.Helper()
	p := newPipeline(t, kafka, src, enc, opts...)
	r := startRestarting(t, p)
	if err := r.waitOrHiccup(t, "the last ack", func() error {
		if !src.acked(len(src.txns)) {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		t.Fatalf("RunWithRestarts = %v", err)
	}
	r.stop(t)
}

// blockOf returns a data record's transaction block as "id/total/collection", "null" when
// null, or "tombstone".
func blockOf(t *testing.T, reg *memRegistry, r *kgo.Record) string {
	t.Helper()
	if r.Value == nil {
		return "tombstone"
	}
	env := reg.decode(t, r.Value)
	b, _ := unionValue(env["transaction"]).(map[string]any)
	if b == nil {
		return env["op"].(string) + ":null"
	}
	return fmt.Sprintf("%s:%v/%v/%v", env["op"], b["id"], b["total_order"], b["data_collection_order"])
}

// txEvents returns the transaction topic's records as "STATUS id count [table=n ...]".
func txEvents(t *testing.T, kafka []kgo.Opt, reg *memRegistry) []string {
	t.Helper()
	var out []string
	for _, r := range readTopic(t, kafka, format.TransactionTopic(prefix)) {
		k := reg.decode(t, r.Key)
		v := reg.decode(t, r.Value)
		if k["id"] != v["id"] {
			t.Errorf("key %v, value %v", k, v)
		}
		s := fmt.Sprintf("%s %s", v["status"], v["id"])
		if c := unionValue(v["event_count"]); c != nil {
			s += fmt.Sprintf(" %v", c)
		}
		if dcs, ok := unionValue(v["data_collections"]).([]any); ok {
			for _, dc := range dcs {
				m := unionValue(dc).(map[string]any)
				s += fmt.Sprintf(" %v=%v", m["data_collection"], m["event_count"])
			}
		} else if v["status"] == "END" {
			s += " ?"
		}
		out = append(out, s)
	}
	return out
}

// dropID is a filter that drops the changes of row id.
type dropID int64

func (d dropID) Apply(c *decoder.Change) (*decoder.Change, error) {
	r := c.After
	if r == nil {
		r = c.Before
	}
	if r[0].Int == int64(d) {
		return nil, nil
	}
	return c, nil
}

var txScript = [][]step{
	{ // two tables; a key change makes two events; row 99 is filtered out
		{"a", decoder.OpCreate, 1, 0}, {"b", decoder.OpCreate, 2, 0}, {"a", decoder.OpCreate, 99, 0},
		{"a", decoder.OpUpdate, 3, 1}, {"a", decoder.OpDelete, 3, 0},
	},
	{{"b", decoder.OpCreate, 4, 0}},
	{{"a", decoder.OpRead, 5, 0}, {"b", decoder.OpRead, 6, 0}}, // snapshot reads: no metadata
	{{"a", decoder.OpCreate, 99, 0}},                           // filtered out: no events
}

func TestTransactionMetadata(t *testing.T) {
	kafka := newKafka(t)
	reg := newMemRegistry()
	src := &multiSource{txns: txScript}
	runTxScript(t, kafka, src, newTxEncoder(t, reg), pipeline.TransactionMetadata(),
		pipeline.Transforms(transform.Chain{dropID(99)}))

	want := []string{
		"BEGIN 500:1000", "END 500:1000 5 public.a=4 public.b=1",
		"BEGIN 501:2000", "END 501:2000 1 public.b=1",
	}
	if got := txEvents(t, kafka, reg); !reflect.DeepEqual(got, want) {
		t.Errorf("transaction topic:\n got %q\nwant %q", got, want)
	}
	check := func(topic string, want []string) {
		t.Helper()
		var got []string
		for _, r := range readTopic(t, kafka, topic) {
			got = append(got, blockOf(t, reg, r))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", topic, got, want)
		}
	}
	// The key change of row 1 to 3 is a delete (and its tombstone) and a create.
	check(prefix+".public.a", []string{"c:500:1000/1/1", "d:500:1000/3/2", "tombstone", "c:500:1000/4/3",
		"d:500:1000/5/4", "tombstone", "r:null"})
	check(prefix+".public.b", []string{"c:500:1000/2/1", "c:501:2000/1/1", "r:null"})
}

func TestTransactionMetadataOffByDefault(t *testing.T) {
	kafka := newKafka(t)
	reg := newMemRegistry()
	src := &multiSource{txns: txScript[:2]}
	runTxScript(t, kafka, src, newTxEncoder(t, reg))
	if rs := readTopic(t, kafka, format.TransactionTopic(prefix)); len(rs) != 0 {
		t.Errorf("transaction topic holds %d records with the option off", len(rs))
	}
	for _, r := range readTopic(t, kafka, prefix+".public.b") {
		if got := blockOf(t, reg, r); !strings.HasSuffix(got, ":null") {
			t.Errorf("block %s, want null", got)
		}
	}
}

func TestTransactionMetadataNeedsATransactionEncoder(t *testing.T) {
	_, err := pipeline.New(&multiSource{}, &pipelinetest.Encoder{Prefix: prefix}, pipeline.ConnectorName(connector),
		pipeline.TopicPrefix(prefix), pipeline.SeedBrokers("localhost:1"), pipeline.TransactionMetadata())
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Fatalf("New with a plain encoder = %v, want ErrInvalidOption", err)
	}
	_, err = pipeline.New(&multiSource{}, newTxEncoder(t, newMemRegistry()), pipeline.ConnectorName(connector),
		pipeline.TopicPrefix(prefix), pipeline.SeedBrokers("localhost:1"), pipeline.TransactionMetadata(),
		pipeline.ErrorPolicy(pipeline.PolicyDLQ, format.TransactionTopic(prefix)))
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Fatalf("New with the DLQ on the transaction topic = %v, want ErrInvalidOption", err)
	}
}

// failingTxEncoder fails once, retryably, at the change of row failAt.
type failingTxEncoder struct {
	*avroformat.Encoder
	failAt int64
	armed  atomic.Bool
}

func (e *failingTxEncoder) EncodeRecordInTransaction(ctx context.Context, rec *transform.Record, tx *format.TransactionBlock) (string, []byte, []byte, error) {
	if rec.Change.After != nil && rec.Change.After[0].Int == e.failAt && e.armed.CompareAndSwap(true, false) {
		return "", nil, nil, errors.New("registry unreachable")
	}
	return e.Encoder.EncodeRecordInTransaction(ctx, rec, tx)
}

// TestTransactionMetadataAcrossCuts cuts a long transaction into several Kafka transactions;
// a run fails inside it after cuts, and the next resumes inside it: total_order goes on from
// the Skip, BEGIN is not written twice, and END counts the whole transaction without the
// per-table counts it no longer knows.
func TestTransactionMetadataAcrossCuts(t *testing.T) {
	withoutHiccups(t, func() error { return transactionMetadataAcrossCuts(t) })
}

func transactionMetadataAcrossCuts(t *testing.T) error {
	kafka := newKafka(t)
	reg := newMemRegistry()
	long := make([]step, 40)
	for i := range long {
		long[i] = step{"ab"[i%2 : i%2+1], decoder.OpCreate, int64(100 + i), 0}
	}
	src := &multiSource{txns: [][]step{{{"a", decoder.OpCreate, 1, 0}}, long, {{"b", decoder.OpCreate, 2, 0}}}}
	enc := &failingTxEncoder{Encoder: newTxEncoder(t, reg), failAt: 100 + 31}
	enc.armed.Store(true)
	var clock tickingClock
	p := newPipeline(t, kafka, src, enc, pipeline.TransactionMetadata(), pipeline.MaxBatchRecords(1),
		pipeline.TransactionTimeout(10*time.Second), pipeline.WithClock(clock.now))
	runErr := start(t, p).result(t)
	if err := isHiccup(t, runErr); err != nil {
		return err
	}
	if !pipeline.IsRetryable(runErr) {
		t.Fatalf("Run = %v, want a retryable error", runErr)
	}
	src.mu.Lock()
	last := src.acks[len(src.acks)-1]
	src.mu.Unlock()
	tx, skip, _ := pipelinetest.ParsePos(last)
	if tx != 1 || skip == 0 {
		t.Fatalf("last ack %s: want a cut inside transaction 1", last)
	}
	r := start(t, p)
	if err := r.waitOrHiccup(t, "the last ack", func() error {
		if !src.acked(3) {
			return errors.New("not yet")
		}
		return nil
	}); err != nil {
		return err
	}
	r.stop(t)

	got := txEvents(t, kafka, reg)
	want := []string{"BEGIN 500:1000", "END 500:1000 1 public.a=1", "BEGIN 501:2000",
		fmt.Sprintf("END 501:%d 40 ?", 2000+skip), "BEGIN 502:3000", "END 502:3000 1 public.b=1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("transaction topic:\n got %q\nwant %q", got, want)
	}
	// Every event of the long transaction once, total_order 1 to 40 in order, each table's
	// orders increasing.
	var orders []string
	lastByTable := map[string]int64{}
	for _, table := range []string{"a", "b"} {
		for _, r := range readTopic(t, kafka, prefix+".public."+table) {
			env := reg.decode(t, r.Value)
			b, _ := unionValue(env["transaction"]).(map[string]any)
			if b == nil || !strings.HasPrefix(b["id"].(string), "501:") {
				continue
			}
			total, coll := b["total_order"].(int64), b["data_collection_order"].(int64)
			id := unionValue(env["after"]).(map[string]any)["id"].(int64)
			if total != id-99 {
				t.Errorf("row %d has total_order %d, want %d", id, total, id-99)
			}
			if coll <= lastByTable[table] {
				t.Errorf("table %s: data_collection_order %d after %d", table, coll, lastByTable[table])
			}
			lastByTable[table] = coll
			orders = append(orders, fmt.Sprint(total))
		}
	}
	if len(orders) != 40 {
		t.Errorf("%d events of the long transaction, want 40: %v", len(orders), orders)
	}
	return nil
}
