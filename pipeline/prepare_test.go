package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
)

// preparingEncoder is the fake encoder with PrepareTables: it logs which tables it is given
// and which it encodes. Its first PrepareTables waits for ready, so that the events after it
// are queued by the second.
type preparingEncoder struct {
	pipelinetest.Encoder
	ready <-chan struct{}
	// perTable, when set, gives each table a topic of its own, returned by PrepareTables.
	perTable bool

	mu    sync.Mutex
	calls [][]string
	log   []string // "prepare t" and "encode t", in order
}

func (e *preparingEncoder) PrepareTables(ctx context.Context, tables []*decoder.Table) ([]string, error) {
	e.mu.Lock()
	first := len(e.calls) == 0
	var names, topics []string
	for _, t := range tables {
		names = append(names, t.Name)
		e.log = append(e.log, "prepare "+t.Name)
		if e.perTable {
			topics = append(topics, e.topicOf(t))
		}
	}
	e.calls = append(e.calls, names)
	e.mu.Unlock()
	if first {
		select {
		case <-e.ready:
		case <-ctx.Done():
		}
	}
	return topics, nil
}

// topicOf is t's topic when each table has its own.
func (e *preparingEncoder) topicOf(t *decoder.Table) string {
	return pipelinetest.Topic(prefix) + "_" + t.Name
}

func (e *preparingEncoder) EncodeRecord(ctx context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	e.mu.Lock()
	e.log = append(e.log, "encode "+rec.Change.Table.Name)
	e.mu.Unlock()
	topic, key, value, err := e.Encoder.EncodeRecord(ctx, rec)
	if e.perTable {
		topic = e.topicOf(rec.Change.Table)
	}
	return topic, key, value, err
}

// TestNewTablesPreparedTogetherAhead: the encode stage hands the new tables among the events
// waiting in its queue to an encoder that can prepare them (register their schemas several
// at a time) before their first changes, each table once and in the stream's order, and
// every change is still delivered in order.
func TestNewTablesPreparedTogetherAhead(t *testing.T) {
	const tables, perTable = 10, 3
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	kafka := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}

	tabs := make([]*decoder.Table, tables)
	for i := range tabs {
		tabs[i] = &decoder.Table{Namespace: "public", Name: fmt.Sprintf("t%d", i), Columns: pipelinetest.Table.Columns}
	}
	txns := []pipelinetest.Txn{pipelinetest.Inserts(perTable * tables)}
	ready := make(chan struct{})
	src := &pipelinetest.Source{Txns: txns,
		TableOf: func(_, i int) *decoder.Table { return tabs[i%tables] },
		Before: func(_ context.Context, _, i int) error {
			if i == len(txns[0])-1 { // the changes before it are queued
				close(ready)
			}
			return nil
		}}
	enc := &preparingEncoder{Encoder: pipelinetest.Encoder{Prefix: prefix}, ready: ready}
	r := start(t, newPipeline(t, kafka, src, enc))
	r.waitAck(t, src, len(txns), 0)

	enc.mu.Lock()
	defer enc.mu.Unlock()
	// t0 is prepared at its first change, with what was queued then, and the rest together at
	// the first of them: two calls at most.
	if len(enc.calls) == 0 || len(enc.calls) > 2 {
		t.Fatalf("PrepareTables calls %v, want one or two", enc.calls)
	}
	var order []string
	for _, c := range enc.calls {
		order = append(order, c...)
	}
	if len(order) != tables {
		t.Errorf("tables prepared %v, want each of the %d once", order, tables)
	}
	for i, name := range order {
		if want := fmt.Sprintf("t%d", i); name != want {
			t.Errorf("table %d prepared is %s, want %s (the stream's order)", i, name, want)
		}
	}
	prepared := map[string]bool{}
	for _, e := range enc.log {
		var name string
		if _, err := fmt.Sscanf(e, "prepare %s", &name); err == nil {
			prepared[name] = true
		} else if _, err := fmt.Sscanf(e, "encode %s", &name); err == nil && !prepared[name] {
			t.Errorf("%s encoded before it was prepared: %v", name, enc.log)
			break
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	rs, err := pipelinetest.ReadCommitted(ctx, kafka, pipelinetest.Topic(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != perTable*tables {
		t.Errorf("%d records, want %d", len(rs), perTable*tables)
	}
}

// TestTablesNotPreparedThroughTransforms: with a transform chain, which may change a record's
// topic or shape and so the schemas it needs, nothing is prepared ahead.
func TestTablesNotPreparedThroughTransforms(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	kafka := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}
	other := &decoder.Table{Namespace: "public", Name: "other", Columns: pipelinetest.Table.Columns}
	txns := []pipelinetest.Txn{pipelinetest.Inserts(4)}
	ready := make(chan struct{})
	close(ready)
	src := &pipelinetest.Source{Txns: txns, TableOf: func(_, i int) *decoder.Table {
		if i%2 == 1 {
			return other
		}
		return pipelinetest.Table
	}}
	enc := &preparingEncoder{Encoder: pipelinetest.Encoder{Prefix: prefix}, ready: ready}
	r := start(t, newPipeline(t, kafka, src, enc, pipeline.Transforms(transform.Chain{keepAll{}})))
	r.waitAck(t, src, len(txns), 0)
	enc.mu.Lock()
	defer enc.mu.Unlock()
	if len(enc.calls) != 0 {
		t.Errorf("PrepareTables calls %v through a transform chain, want none", enc.calls)
	}
}

// keepAll is a transform that changes nothing.
type keepAll struct{}

func (keepAll) Apply(c *decoder.Change) (*decoder.Change, error) { return c, nil }

// TestRecordLimitsOfPreparedTablesReadTogether: the record size limits of the topics of the
// tables prepared ahead are read in one DescribeConfigs request, not one per topic at its
// first record (a round trip each, one after the other, for 1,000 tables).
func TestRecordLimitsOfPreparedTablesReadTogether(t *testing.T) {
	const tables = 10
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	var mu sync.Mutex
	var described [][]string // the data topics of each DescribeConfigs request
	cluster.ControlKey(int16(kmsg.DescribeConfigs), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		var names []string
		for _, r := range req.(*kmsg.DescribeConfigsRequest).Resources {
			if r.ResourceType == kmsg.ConfigResourceTypeTopic && strings.HasPrefix(r.ResourceName, pipelinetest.Topic(prefix)+"_") {
				names = append(names, r.ResourceName)
			}
		}
		if len(names) > 0 {
			mu.Lock()
			described = append(described, names)
			mu.Unlock()
		}
		return nil, nil, false
	})
	kafka := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}
	tabs := make([]*decoder.Table, tables)
	for i := range tabs {
		tabs[i] = &decoder.Table{Namespace: "public", Name: fmt.Sprintf("t%d", i), Columns: pipelinetest.Table.Columns}
	}
	txns := []pipelinetest.Txn{pipelinetest.Inserts(2 * tables)}
	ready := make(chan struct{})
	src := &pipelinetest.Source{Txns: txns,
		TableOf: func(_, i int) *decoder.Table { return tabs[i%tables] },
		Before: func(_ context.Context, _, i int) error {
			if i == len(txns[0])-1 {
				close(ready)
			}
			return nil
		}}
	enc := &preparingEncoder{Encoder: pipelinetest.Encoder{Prefix: prefix}, ready: ready, perTable: true}
	r := start(t, newPipeline(t, kafka, src, enc))
	r.waitAck(t, src, len(txns), 0)

	mu.Lock()
	defer mu.Unlock()
	seen := map[string]int{}
	for _, names := range described {
		for _, n := range names {
			seen[n]++
		}
	}
	if len(seen) != tables {
		t.Errorf("%d topics described, want %d: %v", len(seen), tables, described)
	}
	// t0 alone at its first record (prepared alone, with what was queued then), the others
	// together: two requests at most.
	if len(described) > 2 {
		t.Errorf("%d DescribeConfigs requests for %d topics, want 2 at most: %v", len(described), tables, described)
	}
}
