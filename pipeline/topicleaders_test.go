package pipeline_test

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// TestNewTopicsProducedOnceTheirLeadersAreKnown: after creating a batch's new topics, the Kafka
// stage waits until one metadata request names a leader for each of them, asking again while
// the broker answers LEADER_NOT_AVAILABLE, before the first record is produced to any of them:
// the producer would otherwise learn them in waves MetadataMinAge apart (a 1,000-table
// connector's first transaction waited 10-30 s) or fail them once its retries ran out.
func TestNewTopicsProducedOnceTheirLeadersAreKnown(t *testing.T) {
	// More refusals than the producer's unknown-topic retries (4 by default), after which it
	// fails the records and the run.
	const tables, notReady = 10, 6
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	host, portText, err := net.SplitHostPort(cluster.ListenAddrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	port64, err := strconv.ParseInt(portText, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	port := int32(port64)
	dataTopic := regexp.MustCompile("^" + regexp.QuoteMeta(pipelinetest.Topic(prefix)) + `\d+$`)
	var (
		mu sync.Mutex
		// events are what the broker saw of the data topics, in its order: "create",
		// "metadata" (a request naming them all), "produce".
		events   []string
		refusals int // the metadata requests answered "no leader yet"
	)
	dataTopics := func(names []string) int {
		n := 0
		for _, name := range names {
			if dataTopic.MatchString(name) {
				n++
			}
		}
		return n
	}
	cluster.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		var names []string
		for _, topic := range req.(*kmsg.CreateTopicsRequest).Topics {
			names = append(names, topic.Topic)
		}
		if dataTopics(names) > 0 {
			mu.Lock()
			events = append(events, "create")
			mu.Unlock()
		}
		return nil, nil, false
	})
	cluster.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		req := kreq.(*kmsg.MetadataRequest)
		var names []string
		for _, topic := range req.Topics {
			if topic.Topic != nil {
				names = append(names, *topic.Topic)
			}
		}
		if dataTopics(names) < tables {
			return nil, nil, false
		}
		mu.Lock()
		defer mu.Unlock()
		events = append(events, "metadata")
		if refusals >= notReady {
			return nil, nil, false
		}
		refusals++
		// The topics are not served yet, as a broker that has not loaded them answers. The
		// broker stays in the answer: a client takes its broker list from any metadata.
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.Version = req.Version
		broker := kmsg.NewMetadataResponseBroker()
		broker.NodeID, broker.Host, broker.Port = 0, host, port
		resp.Brokers, resp.ControllerID = append(resp.Brokers, broker), 0
		for _, name := range names {
			topic := kmsg.NewMetadataResponseTopic()
			topic.Topic = kmsg.StringPtr(name)
			topic.ErrorCode = kerr.UnknownTopicOrPartition.Code
			resp.Topics = append(resp.Topics, topic)
		}
		return resp, nil, true
	})
	// Any produce request: newer ones name topics by ID, and the only records before the data
	// are none (the offset record comes last in the transaction).
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		events = append(events, "produce")
		mu.Unlock()
		return nil, nil, false
	})
	kafka := []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}

	txns := []pipelinetest.Txn{pipelinetest.Inserts(2 * tables)}
	ready := make(chan struct{})
	src := &pipelinetest.Source{Txns: txns, Before: func(_ context.Context, _, i int) error {
		if i == len(txns[0])-1 { // the changes before it are queued
			close(ready)
		}
		return nil
	}}
	enc := &tablesEncoder{Encoder: pipelinetest.Encoder{Prefix: prefix}, tables: tables, ready: ready}
	r := start(t, newPipeline(t, kafka, src, enc, pipeline.TopicCreation(pipeline.TopicSettings{Partitions: 2}), pipeline.Logger(zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel))))
	r.waitAck(t, src, len(txns), 0)

	mu.Lock()
	got := append([]string(nil), events...)
	mu.Unlock()
	// create, then the refused metadata requests and the one that finds the leaders, then
	// the records; the producer's own metadata requests, naming the same topics, may follow.
	want := []string{"create"}
	for range notReady + 1 {
		want = append(want, "metadata")
	}
	want = append(want, "produce")
	i := 0
	for _, e := range got {
		if i < len(want) && e == want[i] {
			i++
		} else if i < len(want) && e == "produce" {
			break
		}
	}
	if i < len(want) {
		t.Fatalf("the broker saw %v of the data topics, want %v first (no record before their leaders are known)", got, want)
	}

	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	for i := range tables {
		topic := pipelinetest.Topic(prefix) + string(rune('0'+i))
		rs, err := pipelinetest.ReadCommitted(ctx, kafka, topic)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 {
			t.Errorf("%s holds %d records, want 2", topic, len(rs))
		}
	}
}
