package pipeline_test

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
	"github.com/cdcd-dev/cdcd/decoder"
	avroformat "github.com/cdcd-dev/cdcd/format/avro"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkPipelineThroughput runs inserts of the bench's table (bench/pg.go: id, qty, price,
// name, updated_at), in source transactions of 1,000 with commit times, through a whole
// Pipeline (source queue, encode stage, Avro, the Kafka stage with its topic checks, metrics
// and partitioner, franz-go) into an in-process Kafka, one op per change. Besides ns/op it
// reports the process's CPU time per change (cpu-ns/op, from getrusage: kfake's included,
// the same in every commit), which a loaded machine inflates far less than the wall time, and
// mallocs/op (allocs/op with its decimals), which it does not change at all: the figures to
// compare two commits by
// (docs/benchmarks.md, "CPU per event").
func BenchmarkPipelineThroughput(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	enc, err := avroformat.NewEncoder(avroformat.WithTopicPrefix("bench"), avroformat.WithRegistry(acceptingRegistry{}),
		avroformat.WithSource(postgres.SourceBlock))
	if err != nil {
		b.Fatal(err)
	}
	src := newFeedSource(1000)
	p, err := pipeline.New(src, enc, pipeline.ConnectorName("bench"), pipeline.TopicPrefix("bench"),
		pipeline.KafkaOpts(kgo.SeedBrokers(c.ListenAddrs()...)))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// One transaction first: the topics, the schemas and the producer's first steps are not
	// the steady state.
	src.feed(1)
	src.waitAcked(b, 1, done)
	b.ReportAllocs()
	var mem0, mem1 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	cpu0 := processCPU()
	b.ResetTimer()
	txns := (b.N + 999) / 1000
	src.feed(txns)
	src.waitAcked(b, 1+txns, done)
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(txns*1000), "cpu-ns/op")
	runtime.ReadMemStats(&mem1)
	b.ReportMetric(float64(mem1.Mallocs-mem0.Mallocs)/float64(txns*1000), "mallocs/op")
}

// processCPU is the process's user and system CPU time so far, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchItems is the bench's table (bench/pg.go) as the PostgreSQL decoder describes it.
var benchItems = &decoder.Table{
	ID: 1, Namespace: "public", Name: "bench_items", Version: 1,
	Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, SourceType: "int8", Key: true},
		{Name: "qty", Type: decoder.TypeInt32, SourceType: "int4", Optional: true},
		{Name: "price", Type: decoder.TypeDecimal, SourceType: "numeric", Precision: 10, Scale: 2, Optional: true},
		{Name: "name", Type: decoder.TypeString, SourceType: "text", Optional: true},
		{Name: "updated_at", Type: decoder.TypeZonedTimestamp, SourceType: "timestamptz", Optional: true},
	},
}

// feedSource sends transactions of txRows inserts of benchItems as the benchmark asks for them
// (feed), their changes built once and sent again: the source's own cost is not measured.
type feedSource struct {
	changes []*decoder.Change
	more    chan int
	acked   atomic.Int64 // the transactions acknowledged
}

func newFeedSource(txRows int) *feedSource {
	s := &feedSource{more: make(chan int, 1)}
	commit := time.UnixMilli(1_700_000_000_000)
	for i := range txRows {
		id := int64(i + 1)
		row := []decoder.Value{
			{State: decoder.ValueSet, Int: id},
			{State: decoder.ValueSet, Int: id % 1000},
			{State: decoder.ValueSet, Bytes: []byte{0x01, 0x2c}},
			{State: decoder.ValueSet, Bytes: []byte("item " + strconv.FormatInt(id, 10))},
			{State: decoder.ValueSet, Bytes: []byte("2026-12-06T23:59:59.123456Z")},
		}
		s.changes = append(s.changes, &decoder.Change{Op: decoder.OpCreate, Table: benchItems, After: row,
			Source: postgres.NewSourceInfo(commit, decoder.SnapshotFalse, 741, 0x16B3748)})
	}
	return s
}

func (s *feedSource) feed(txns int) { s.more <- txns }

func feedPos(tx int) offsets.Position {
	return offsets.Position{Source: json.RawMessage(`{"tx":` + strconv.Itoa(tx) + `}`)}
}

// Stream implements connectors.Source; it always starts from the beginning.
func (s *feedSource) Stream(ctx context.Context, _ offsets.Position, out *connectors.Queue) error {
	tx := 0
	for {
		var n int
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n = <-s.more:
		}
		for range n {
			if err := out.Send(ctx, connectors.Event{Kind: connectors.EventBegin, Position: feedPos(tx),
				CommitTime: time.Now(), TxID: strconv.Itoa(tx)}); err != nil {
				return err
			}
			for _, c := range s.changes {
				if err := out.Send(ctx, connectors.Event{Kind: connectors.EventChange, Change: c}); err != nil {
					return err
				}
			}
			tx++
			if err := out.Send(ctx, connectors.Event{Kind: connectors.EventCommit, Position: feedPos(tx)}); err != nil {
				return err
			}
		}
	}
}

// Ack implements connectors.Source.
func (s *feedSource) Ack(pos offsets.Position) error {
	var v struct{ Tx int64 }
	if err := json.Unmarshal(pos.Source, &v); err != nil {
		return err
	}
	s.acked.Store(v.Tx)
	return nil
}

// waitAcked waits until txns transactions are acknowledged, or the run ends.
func (s *feedSource) waitAcked(b *testing.B, txns int, done <-chan error) {
	deadline := time.Now().Add(patience)
	for s.acked.Load() < int64(txns) {
		select {
		case err := <-done:
			b.Fatalf("the pipeline ended: %v", err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d transactions acknowledged after %s", s.acked.Load(), txns, patience)
		}
	}
}

// acceptingRegistry accepts every schema, as id 1.
type acceptingRegistry struct{}

func (acceptingRegistry) Compatibility(context.Context, string) (avroformat.Compatibility, error) {
	return avroformat.CompatNone, nil
}

func (acceptingRegistry) Versions(context.Context, string) ([]avroformat.Schema, error) {
	return nil, nil
}

func (acceptingRegistry) Lookup(context.Context, string, string) (avroformat.Schema, bool, error) {
	return avroformat.Schema{}, false, nil
}

func (acceptingRegistry) Register(context.Context, string, string) (int, error) { return 1, nil }
