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
