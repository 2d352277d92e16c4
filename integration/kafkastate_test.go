package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/cdcd-dev/cdcd/pipeline"
)

// logStallStateOnFailure makes a failed test log where the changes stand, so that a pipeline
// that stops delivering without an error says at which stage: the slot (what PostgreSQL has
// written, what cdcd confirmed), the connector's Kafka transaction as the coordinator sees it
// (an Ongoing one that never ends is cdcd's Kafka stage holding records), and per partition of
// topics the high watermark, the last stable offset and the transactions the broker holds open
// there. A last stable offset below the high watermark with no Ongoing transaction of cdcd's is
// a transaction left open on the partition (a hanging transaction): records cdcd committed,
// hidden from read_committed consumers. Registered after the broker, the database connection
// and cdcd, it runs before their cleanups.
func logStallStateOnFailure(t *testing.T, kafka *PrivateKafka, conn *pgx.Conn, connector string, topics ...string) {
	t.Helper()
	adm := kadm.NewClient(kafka.Client(t))
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var b strings.Builder
		var confirmed, current string
		if err := conn.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn::text, ''), pg_current_wal_lsn()::text
			FROM pg_replication_slots WHERE slot_name = $1`, connector).Scan(&confirmed, &current); err != nil {
			fmt.Fprintf(&b, "slot %s: %v\n", connector, err)
		} else {
			fmt.Fprintf(&b, "slot %s: confirmed_flush_lsn %s, server WAL at %s\n", connector, confirmed, current)
		}
		txns, err := adm.DescribeTransactions(ctx, pipeline.TransactionalIDOf(connector))
		if err != nil {
			fmt.Fprintf(&b, "describing the transaction: %v\n", err)
		}
		for _, d := range txns {
			fmt.Fprintf(&b, "transaction %s: state %s, producer %d epoch %d, started %s, partitions %v, err %v\n",
				d.TxnID, d.State, d.ProducerID, d.ProducerEpoch, time.UnixMilli(d.StartTimestamp).UTC().Format(time.TimeOnly),
				d.Topics, d.Err)
		}
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			fmt.Fprintf(&b, "high watermarks: %v\n", err)
		}
		stable, err := adm.ListCommittedOffsets(ctx, topics...)
		if err != nil {
			fmt.Fprintf(&b, "last stable offsets: %v\n", err)
		}
		set := kadm.TopicsSet{}
		ends.Each(func(o kadm.ListedOffset) {
			lso, _ := stable.Lookup(o.Topic, o.Partition)
			fmt.Fprintf(&b, "%s[%d]: high watermark %d, last stable offset %d\n", o.Topic, o.Partition, o.Offset, lso.Offset)
			set.Add(o.Topic, o.Partition)
		})
		producers, err := adm.DescribeProducers(ctx, set)
		if err != nil {
			fmt.Fprintf(&b, "describing the producers: %v\n", err)
		}
		producers.EachProducer(func(p kadm.DescribedProducer) {
			if p.CurrentTxnStartOffset >= 0 {
				fmt.Fprintf(&b, "%s[%d]: producer %d epoch %d holds a transaction open from offset %d (last write %s)\n",
					p.Topic, p.Partition, p.ProducerID, p.ProducerEpoch, p.CurrentTxnStartOffset,
					time.UnixMilli(p.LastTimestamp).UTC().Format(time.TimeOnly))
			}
		})
		t.Logf("where the changes stand:\n%s", b.String())
	})
}

// collectCountersExplained is collectCounters that, when the records stop short of expected,
// fails the test saying which changes are missing, against the table: for each key, the
// counter values written (up to the value the table holds) and not received. A value missing
// below the highest one received for its key is a hole (a transaction lost, or hidden from a
// read_committed consumer); one missing above it is a tail that never came (delivery stalled).
func collectCountersExplained(t *testing.T, consumer *AvroConsumer, conn *pgx.Conn, records []ChangeRecord, expected int) []ChangeRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for len(records) < expected && ctx.Err() == nil {
		fetches := consumer.client.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("consuming %s: %v", errs[0].Topic, errs[0].Err)
		}
		for _, r := range fetches.Records() {
			records = append(records, consumer.decode(t, r))
		}
	}
	if len(records) >= expected {
		return append(records, consumer.Drain(t, 3*time.Second)...)
	}
	got := map[int64]map[int64]bool{}
	highest := map[int64]int64{}
	for _, r := range records {
		after := r.After()
		id, v := toInt64(after["id"]), toInt64(after["v"])
		if got[id] == nil {
			got[id] = map[int64]bool{}
		}
		got[id][v] = true
		highest[id] = max(highest[id], v)
	}
	rows, err := conn.Query(t.Context(), `SELECT id, v FROM counters ORDER BY id`)
	if err != nil {
		t.Fatalf("consuming: got %d of %d records before the deadline; reading the table: %v", len(records), expected, err)
	}
	var holes, tail []string
	for rows.Next() {
		var id, last int64
		if err := rows.Scan(&id, &last); err != nil {
			t.Fatalf("reading the table: %v", err)
		}
		for v := int64(0); v <= last; v++ {
			if got[id][v] {
				continue
			}
			if v < highest[id] {
				holes = append(holes, fmt.Sprintf("%d=%d", id, v))
			} else {
				tail = append(tail, fmt.Sprintf("%d=%d", id, v))
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading the table: %v", err)
	}
	t.Fatalf("consuming: got %d of %d records before the deadline; missing %d changes inside what their key received "+
		"(a hole: a transaction lost or hidden) %s, and %d after it (a tail never delivered) %s",
		len(records), expected, len(holes), sample(holes), len(tail), sample(tail))
	return nil
}

// sample returns the first few of ids, for a failure message.
func sample(ids []string) string {
	const most = 12
	if len(ids) > most {
		return "[" + strings.Join(ids[:most], " ") + " ...]"
	}
	return "[" + strings.Join(ids, " ") + "]"
}
