package pipeline_test

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
	"github.com/cdcd-dev/cdcd/transform"
)

// tablesEncoder spreads the scripted changes over tables topics, as a connector of many
// tables: change i goes to the topic of table i % tables.
// Its first encoding waits for ready, so that the changes are all queued by then and
// the first batch holds every topic's first record.
type tablesEncoder struct {
	pipelinetest.Encoder
	tables int
	ready  <-chan struct{}
}

func (e *tablesEncoder) EncodeRecord(ctx context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	select {
	case <-e.ready:
	case <-ctx.Done():
		return "", nil, nil, ctx.Err()
	}
	topic, key, value, err := e.Encoder.EncodeRecord(ctx, rec)
	return fmt.Sprintf("%s%d", topic, int(pipelinetest.Row(&rec.Change.Source))%e.tables), key, value, err
}

// TestTopicsOfABatchCreatedTogether: the new topics of a batch of changes are created in one
// CreateTopics request per set of settings (each with its group's settings), not one request
// per topic (a connector of 1,000 tables waited 1,000 round trips); every record is delivered.
func TestTopicsOfABatchCreatedTogether(t *testing.T) {
	const tables = 10
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	dataTopic := regexp.MustCompile("^" + regexp.QuoteMeta(pipelinetest.Topic(prefix)) + `\d+$`)
	var mu sync.Mutex
	var requests [][]string // the data topics of each CreateTopics request
	cluster.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		var names []string
		for _, topic := range req.(*kmsg.CreateTopicsRequest).Topics {
			if dataTopic.MatchString(topic.Topic) {
				names = append(names, topic.Topic)
			}
		}
		if len(names) > 0 {
			mu.Lock()
			requests = append(requests, names)
			mu.Unlock()
		}
		return nil, nil, false
	})
	kafka := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}
	admin := newAdmin(t, kafka)

	txns := []pipelinetest.Txn{pipelinetest.Inserts(4 * tables)}
	ready := make(chan struct{})
	src := &pipelinetest.Source{Txns: txns, Before: func(_ context.Context, _, i int) error {
		if i == len(txns[0])-1 { // the changes before it are queued
			close(ready)
		}
		return nil
	}}
	enc := &tablesEncoder{Encoder: pipelinetest.Encoder{Prefix: prefix}, tables: tables, ready: ready}
	// Tables 0 to 4 in a group of 2 partitions, the others with the default 3.
	r := start(t, newPipeline(t, kafka, src, enc,
		pipeline.TopicCreation(pipeline.TopicSettings{Partitions: 3},
			pipeline.TopicGroup{Name: "low", Include: []*regexp.Regexp{regexp.MustCompile(regexp.QuoteMeta(pipelinetest.Topic(prefix)) + `[0-4]`)},
				Settings: pipeline.TopicSettings{Partitions: 2}})))
	r.waitAck(t, src, len(txns), 0)

	mu.Lock()
	defer mu.Unlock()
	created := map[string]int{}
	for _, names := range requests {
		for _, n := range names {
			created[n]++
		}
	}
	if len(created) != tables {
		t.Fatalf("%d topics created, want %d: %v", len(created), tables, requests)
	}
	// The first ten changes, one per topic, are in the first batch: one request per group.
	if len(requests) != 2 {
		t.Errorf("%d CreateTopics requests for %d topics in two groups, want 2: %v", len(requests), tables, requests)
	}
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	var values []string
	for i := range tables {
		topic := fmt.Sprintf("%s%d", pipelinetest.Topic(prefix), i)
		details, err := admin.ListTopics(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		want := 3
		if i < 5 {
			want = 2
		}
		if n := len(details[topic].Partitions); n != want {
			t.Errorf("%s has %d partitions, want %d", topic, n, want)
		}
		rs, err := pipelinetest.ReadCommitted(ctx, kafka, topic)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 4 {
			t.Errorf("%s holds %d records, want 4", topic, len(rs))
		}
		values = append(values, pipelinetest.Values(rs)...)
	}
	if len(values) != 4*tables {
		t.Errorf("%d records, want %d", len(values), 4*tables)
	}
}
