package pipelinetest

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// HeldCommitCluster starts a one-broker kfake cluster, closed when the test ends, that holds
// its answer to every EndTxn (the first Kafka commit, and the same commit asked again) until
// release is closed (or two minutes pass for each request), as a broker gone quiet does. It
// returns the client options that reach it.
//
// Every request is held, not only the first: the Kafka client gives up on an answer after its
// request timeout overhead (10 s by default) and sends the EndTxn again (and the pipeline asks
// again itself once the client's retries run out, see commitAgain), and a broker that answered
// the second request would let the commit through long before release: a test on a loaded
// machine, slower than 10 s to look, then saw the pipeline moving on while it believed it held.
func HeldCommitCluster(t testing.TB, release <-chan struct{}) []kgo.Opt {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	cluster.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		select {
		case <-release: // released: every commit goes through from now on
		default:
			cluster.SleepControl(func() {
				select {
				case <-release:
				case <-time.After(2 * time.Minute):
				}
			})
		}
		return nil, nil, false
	})
	return []kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...)}
}
