package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcd-dev/cdcd/kafkalog"
)

// DefaultHangingCheckInterval is how often a run looks for hanging transactions on the
// connector's partitions (see [HangingTransactionCheck]).
const DefaultHangingCheckInterval = 30 * time.Second

// minHangingAfter is the least a transaction seen open on a partition may stay open before it is
// aborted whatever its coordinator says: the broker's transaction timeout check runs every 10 s,
// and a connector's own transactions close within the transaction timeout.
const minHangingAfter = time.Minute

// hangingCallTimeout bounds each admin call of a check: a check that cannot reach the broker
// gives up and waits for the next.
const hangingCallTimeout = 10 * time.Second

// HangingTransactionCheck sets how often each run looks for hanging transactions on the
// connector's partitions (the offsets topic and every topic the connector has written to), and
// after how long a transaction seen open there is aborted whatever its coordinator says.
//
// A hanging transaction is one left open on a partition with no transaction coordinator to end
// it: a produce of an ended transaction that reached the partition late (held in a slow or
// partitioned link) on a broker without KIP-890's protections, a coordinator that lost its
// state. It holds the partition's last stable offset back, so that read_committed consumers see
// nothing written after it, whoever wrote it, a restarted cdcd included, until an operator
// aborts it (kafka-transactions.sh). A run aborts such a transaction itself, by writing the abort
// marker the coordinator never wrote (WriteTxnMarkers, which needs the ClusterAction permission
// on a secured cluster), once it has seen it open at two checks an interval apart and either
//   - the coordinator holds no transaction in progress of that producer with that partition, or
//   - it has been open for openFor (default: twice the transaction timeout, at least a minute)
//     and is not a cdcd connector's transaction in progress (whose coordinator ends it within
//     its timeout): a producer of another application that writes transactions into the
//     connector's topics and leaves them open stops the connector's consumers too.
//
// Each abort is logged as a warning and counted in [Stats].HangingAborted. interval 0 turns the
// check off; openFor 0 keeps the default.
func HangingTransactionCheck(interval, openFor time.Duration) Option {
	return func(c *config) {
		c.hangInterval = interval
		c.hangAfter = openFor
	}
}

// hangingAfter is the open time after which a transaction is aborted whatever its coordinator
// says.
func (c *config) hangingAfter() time.Duration {
	if c.hangAfter > 0 {
		return c.hangAfter
	}
	return max(2*c.txnTimeout, minHangingAfter)
}

// hangWatch is the set of topics the connector writes to, across runs: the partitions a hanging
// transaction on would hide what the connector writes.
type hangWatch struct {
	mu     sync.Mutex
	topics map[string]struct{}
}

func (w *hangWatch) watch(topic string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.topics == nil {
		w.topics = make(map[string]struct{})
	}
	w.topics[topic] = struct{}{}
}

func (w *hangWatch) set() kadm.TopicsSet {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := make(kadm.TopicsSet, len(w.topics))
	for t := range w.topics {
		s[t] = nil // every partition
	}
	return s
}

// openTxn is a transaction seen open on a partition: the same key at two checks is the same
// transaction, still open.
type openTxn struct {
	topic      string
	partition  int32
	producerID int64
	epoch      int16
	start      int64 // the offset of its first record
}

// hangChecker is the state of the checks of one run.
type hangChecker struct {
	p        *Pipeline
	adm      *kadm.Client
	interval time.Duration
	after    time.Duration
	// seen maps each transaction open at the last check to when it was first seen open, and
	// the coordinator epoch the partition knows for its producer (for the abort marker).
	seen map[openTxn]seenTxn
}

type seenTxn struct {
	first            time.Time
	coordinatorEpoch int32
}

// watchHanging checks the connector's partitions for hanging transactions every interval until
// ctx ends. It uses a client of its own: the run's producer may be replaced (renewClient), and a
// check must go on while the run starts (reading the offsets waits for the offsets partition's
// transactions to end) or waits for a commit.
func (p *Pipeline) watchHanging(ctx context.Context) {
	if p.cfg.hangInterval <= 0 {
		return
	}
	client, err := kafkalog.NewClient(p.clientOpts())
	if err != nil {
		p.cfg.log.Warn().Err(err).Str("connector", p.cfg.connector).Msg("no check for hanging Kafka transactions in this run")
		return
	}
	defer client.Close()
	c := &hangChecker{p: p, adm: kadm.NewClient(client), interval: p.cfg.hangInterval,
		after: p.cfg.hangingAfter(), seen: make(map[openTxn]seenTxn)}
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for {
		c.check(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check looks once: it notes the transactions open now, and aborts those that hang.
func (c *hangChecker) check(ctx context.Context, now time.Time) {
	open, err := c.describe(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.p.cfg.log.Debug().Err(err).Str("connector", c.p.cfg.connector).Msg("checking for hanging Kafka transactions")
		}
		return
	}
	// Only transactions open at the previous check too are candidates: a transaction begun
	// since may not have reached its coordinator's answer yet.
	var candidates []openTxn
	next := make(map[openTxn]seenTxn, len(open))
	for k, ce := range open {
		s, ok := c.seen[k]
		if !ok {
			s.first = now
		} else {
			candidates = append(candidates, k)
		}
		s.coordinatorEpoch = ce
		next[k] = s
	}
	c.seen = next
	if len(candidates) == 0 {
		return
	}
	sort.Slice(candidates, func(i, j int) bool { return lessOpen(candidates[i], candidates[j]) })
	live, known := c.inProgress(ctx, candidates)
	var hanging []openTxn
	reasons := make(map[openTxn]string)
	for _, k := range candidates {
		openFor := now.Sub(c.seen[k].first)
		owner, isLive := live[k]
		switch {
		case known && !isLive:
			reasons[k] = "its transaction coordinator has no transaction in progress of this producer holding this partition"
		case isLive && strings.HasPrefix(owner, TransactionalIDOf("")):
			// A connector's transaction (this one's or another's on a shared offsets
			// topic): its coordinator ends it within its timeout, which may be longer
			// than this connector's.
			continue
		case openFor >= c.after:
			reasons[k] = fmt.Sprintf("open for at least %s, longer than %s (transactional id %q)",
				openFor.Round(time.Second), c.after, owner)
		default:
			continue
		}
		hanging = append(hanging, k)
	}
	if len(hanging) == 0 {
		return
	}
	// Still open, the same transaction, just before the abort: one that ended meanwhile is
	// left alone (an abort marker of an older epoch would be refused anyway).
	again, err := c.describe(ctx)
	if err != nil {
		return
	}
	for _, k := range hanging {
		if _, ok := again[k]; ok {
			c.abort(ctx, k, c.seen[k], reasons[k], now)
		}
	}
}

func lessOpen(a, b openTxn) bool {
	if a.topic != b.topic {
		return a.topic < b.topic
	}
	if a.partition != b.partition {
		return a.partition < b.partition
	}
	return a.producerID < b.producerID
}

// describe returns the transactions open on the watched partitions, with the coordinator epoch
// each partition knows for the producer.
func (c *hangChecker) describe(ctx context.Context) (map[openTxn]int32, error) {
	topics := c.p.hang.set()
	if len(topics) == 0 {
		return nil, nil
	}
	dctx, cancel := context.WithTimeout(ctx, hangingCallTimeout)
	defer cancel()
	described, err := c.adm.DescribeProducers(dctx, topics)
	if err != nil {
		return nil, fmt.Errorf("describing the producers of %v: %w", topics.Topics(), err)
	}
	open := make(map[openTxn]int32)
	described.EachPartition(func(dp kadm.DescribedProducersPartition) {
		if dp.Err != nil {
			return // a topic not created yet, a leader moving: the next check sees it
		}
		for _, pr := range dp.ActiveProducers {
			if pr.CurrentTxnStartOffset < 0 {
				continue
			}
			open[openTxn{topic: dp.Topic, partition: dp.Partition, producerID: pr.ProducerID,
				epoch: pr.ProducerEpoch, start: pr.CurrentTxnStartOffset}] = pr.CoordinatorEpoch
		}
	})
	return open, nil
}

// inProgress asks the transaction coordinators which of txns belong to a transaction in
// progress (ongoing, or being committed or aborted, its marker on that partition not written
// yet), mapped to their transactional id. known is false when they could not be asked: only
// the open time then decides.
func (c *hangChecker) inProgress(ctx context.Context, txns []openTxn) (live map[openTxn]string, known bool) {
	qctx, cancel := context.WithTimeout(ctx, hangingCallTimeout)
	defer cancel()
	ids := make([]int64, 0, len(txns))
	for _, k := range txns {
		ids = append(ids, k.producerID)
	}
	listed, err := c.adm.ListTransactions(qctx, ids, nil)
	if err != nil {
		c.p.cfg.log.Debug().Err(err).Str("connector", c.p.cfg.connector).Msg("listing the transactions of producers with an open transaction")
		return nil, false
	}
	live = make(map[openTxn]string)
	if len(listed) == 0 {
		return live, true
	}
	txnIDs := make([]string, 0, len(listed))
	for id := range listed {
		txnIDs = append(txnIDs, id)
	}
	described, err := c.adm.DescribeTransactions(qctx, txnIDs...)
	if err != nil {
		c.p.cfg.log.Debug().Err(err).Str("connector", c.p.cfg.connector).Msg("describing the transactions of producers with an open transaction")
		return nil, false
	}
	for _, d := range described {
		if d.Err != nil {
			return nil, false
		}
		switch d.State {
		case "Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence":
		default:
			continue
		}
		for _, k := range txns {
			// Under KIP-890 the coordinator bumps the epoch when it prepares the end,
			// before the partition's marker is written: one epoch ahead is the same
			// transaction.
			if d.ProducerID == k.producerID && d.ProducerEpoch >= k.epoch && d.Topics.Lookup(k.topic, k.partition) {
				live[k] = d.TxnID
			}
		}
	}
	return live, true
}

// abort writes the abort marker of the hanging transaction k, as kafka-transactions.sh abort
// does, and says so.
func (c *hangChecker) abort(ctx context.Context, k openTxn, s seenTxn, reason string, now time.Time) {
	actx, cancel := context.WithTimeout(ctx, hangingCallTimeout)
	defer cancel()
	resp, err := c.adm.WriteTxnMarkers(actx, kadm.TxnMarkers{
		ProducerID:       k.producerID,
		ProducerEpoch:    k.epoch,
		Commit:           false,
		CoordinatorEpoch: max(s.coordinatorEpoch, 0),
		Topics:           kadm.TopicsSet{k.topic: {k.partition: {}}},
	})
	if err == nil {
		resp.EachPartition(func(pr kadm.TxnMarkersPartitionResponse) {
			if err == nil && pr.Err != nil {
				err = pr.Err
			}
		})
	}
	ev := c.p.cfg.log.Warn()
	msg := "hanging Kafka transaction aborted: it held the partition's last stable offset back, so read_committed consumers saw nothing after it"
	if err != nil {
		ev = c.p.cfg.log.Error().Err(err).Str("fix", fmt.Sprintf(
			"kafka-transactions.sh --bootstrap-server BROKER abort --topic %s --partition %d --start-offset %d", k.topic, k.partition, k.start))
		msg = "a hanging Kafka transaction holds read_committed consumers back and could not be aborted"
	} else {
		c.p.metrics.hangingAborted.Add(1)
		delete(c.seen, k)
	}
	ev.Str("connector", c.p.cfg.connector).Str("topic", k.topic).Int32("partition", k.partition).
		Int64("producer_id", k.producerID).Int16("producer_epoch", k.epoch).Int64("start_offset", k.start).
		Stringer("open_for_at_least", now.Sub(s.first).Round(time.Millisecond)).Str("reason", reason).Msg(msg)
}
