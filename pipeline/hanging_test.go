package pipeline_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/pipeline/pipelinetest"
)

// hangingProducer is the producer of the open transaction the tests' broker describes on the
// data topic's partition 0.
const (
	hangingProducer = int64(4242)
	hangingEpoch    = int16(3)
	hangingStart    = int64(1)
)

// TestHangingTransactionIsAborted: a transaction left open on one of the connector's partitions
// holds read_committed consumers back for good when no coordinator will end it. The pipeline
// finds it (DescribeProducers), asks the coordinators, and writes its abort marker itself, with
// a warning and a count; a transaction its coordinator has in progress is left alone unless it
// is another application's and stays open too long. It failed before: nothing looked.
func TestHangingTransactionIsAborted(t *testing.T) {
	for _, tc := range []struct {
		name string
		// owner is the transaction the coordinator describes for the producer: "" none.
		owner, state string
		openFor      time.Duration
		wantAbort    bool
	}{
		{name: "unknown to its coordinator", openFor: time.Hour, wantAbort: true},
		{name: "ended at its coordinator", owner: "app-x", state: "CompleteCommit", openFor: time.Hour, wantAbort: true},
		{name: "in progress at its coordinator", owner: "app-x", state: "Ongoing", openFor: time.Hour},
		{name: "another application's, open too long", owner: "app-x", state: "Ongoing", openFor: time.Nanosecond, wantAbort: true},
		{name: "another connector's, open long", owner: pipeline.TransactionalIDOf("other"), state: "Ongoing", openFor: time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatalf("starting kfake: %v", err)
			}
			t.Cleanup(c.Close)
			kafka := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
			var describes atomic.Int32
			c.ControlKey(int16(kmsg.DescribeProducers), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				describes.Add(1)
				return describeWithOpenTxn(req.(*kmsg.DescribeProducersRequest)), nil, true
			})
			if tc.owner != "" {
				c.ControlKey(int16(kmsg.ListTransactions), func(req kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
					resp.Version = req.GetVersion()
					st := kmsg.NewListTransactionsResponseTransactionState()
					st.TransactionalID, st.ProducerID, st.TransactionState = tc.owner, hangingProducer, tc.state
					resp.TransactionStates = append(resp.TransactionStates, st)
					return resp, nil, true
				})
				c.ControlKey(int16(kmsg.DescribeTransactions), func(req kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
					resp.Version = req.GetVersion()
					for _, id := range req.(*kmsg.DescribeTransactionsRequest).TransactionalIDs {
						st := kmsg.NewDescribeTransactionsResponseTransactionState()
						st.TransactionalID, st.State = id, tc.state
						st.ProducerID, st.ProducerEpoch, st.TimeoutMillis = hangingProducer, hangingEpoch, 60000
						if tc.state == "Ongoing" {
							rt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
							rt.Topic, rt.Partitions = pipelinetest.Topic(prefix), []int32{0}
							st.Topics = append(st.Topics, rt)
						}
						resp.TransactionStates = append(resp.TransactionStates, st)
					}
					return resp, nil, true
				})
			}
			var mu sync.Mutex
			var markers []kmsg.WriteTxnMarkersRequestMarker
			c.ControlKey(int16(kmsg.WriteTxnMarkers), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				wreq := req.(*kmsg.WriteTxnMarkersRequest)
				resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
				resp.Version = req.GetVersion()
				mu.Lock()
				defer mu.Unlock()
				for _, m := range wreq.Markers {
					markers = append(markers, m)
					rm := kmsg.NewWriteTxnMarkersResponseMarker()
					rm.ProducerID = m.ProducerID
					for _, mt := range m.Topics {
						rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
						rt.Topic = mt.Topic
						for _, p := range mt.Partitions {
							rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
							rp.Partition = p
							rt.Partitions = append(rt.Partitions, rp)
						}
						rm.Topics = append(rm.Topics, rt)
					}
					resp.Markers = append(resp.Markers, rm)
				}
				return resp, nil, true
			})

			txns := []pipelinetest.Txn{pipelinetest.Inserts(2), pipelinetest.Inserts(1)}
			src := &pipelinetest.Source{Txns: txns}
			var logs syncBuffer
			p := newPipeline(t, kafka, src, &pipelinetest.Encoder{Prefix: prefix}, pipeline.MaxBatchRecords(1),
				pipeline.HangingTransactionCheck(20*time.Millisecond, tc.openFor), pipeline.Logger(zerolog.New(&logs)))
			r := startRestarting(t, p)
			waitAck(t, src, len(txns), 0)
			// Enough checks for any decision: the data topic is watched from its first record.
			from := describes.Load()
			waitFor(t, patience, "six more checks", func() error {
				if describes.Load() < from+6 {
					return errNotYet
				}
				return nil
			})
			if !tc.wantAbort {
				mu.Lock()
				defer mu.Unlock()
				if len(markers) != 0 {
					t.Fatalf("markers written for a transaction in progress: %+v", markers)
				}
				if n := p.Metrics().Stats().HangingAborted; n != 0 {
					t.Fatalf("HangingAborted = %d, want 0", n)
				}
				r.stop(t)
				return
			}
			waitFor(t, patience, "the abort marker", func() error {
				mu.Lock()
				defer mu.Unlock()
				if len(markers) == 0 {
					return errNotYet
				}
				return nil
			})
			r.stop(t)
			mu.Lock()
			m := markers[0]
			mu.Unlock()
			if m.ProducerID != hangingProducer || m.ProducerEpoch != hangingEpoch || m.Committed ||
				len(m.Topics) != 1 || m.Topics[0].Topic != pipelinetest.Topic(prefix) || len(m.Topics[0].Partitions) != 1 ||
				m.Topics[0].Partitions[0] != 0 {
				t.Fatalf("marker %+v, want an abort of producer %d epoch %d on %s[0]", m, hangingProducer, hangingEpoch, pipelinetest.Topic(prefix))
			}
			if n := p.Metrics().Stats().HangingAborted; n < 1 {
				t.Fatalf("HangingAborted = %d, want at least 1", n)
			}
			if out := logs.String(); !strings.Contains(out, "hanging Kafka transaction aborted") {
				t.Fatalf("no warning for the aborted transaction:\n%s", out)
			}
		})
	}
}

// describeWithOpenTxn answers a DescribeProducers request: no producer anywhere but, on the data
// topic's partition 0, one with an open transaction.
func describeWithOpenTxn(req *kmsg.DescribeProducersRequest) *kmsg.DescribeProducersResponse {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	resp.Version = req.GetVersion()
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, p := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = p
			if rt.Topic == pipelinetest.Topic(prefix) && p == 0 {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch = hangingProducer, int32(hangingEpoch)
				ap.LastSequence, ap.LastTimestamp, ap.CoordinatorEpoch = 0, time.Now().UnixMilli(), 0
				ap.CurrentTxnStartOffset = hangingStart
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// errNotYet is a waitFor condition not met yet.
var errNotYet = errors.New("not yet")
