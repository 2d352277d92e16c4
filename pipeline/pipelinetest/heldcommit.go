package pipelinetest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// HeldCommitCluster starts a one-broker kfake cluster, closed when the test ends, that holds
// its answer to the first EndTxn (the first Kafka commit) until release is closed (or two
// minutes pass), as a broker gone quiet does. It returns the client options that reach it.
func HeldCommitCluster(t testing.TB, release <-chan struct{}) []kgo.Opt {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(cluster.Close)
	var held atomic.Bool
	cluster.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if held.CompareAndSwap(false, true) {
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
