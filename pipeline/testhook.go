//go:build cdcd_testhooks

package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// commitGateEnv names the environment variable of a binary built with the cdcd_testhooks tag
// (integration tests build cdcd so) through which a test holds a commit: when it names a
// folder holding a file "hold", the next commit, its records flushed and its transaction not yet
// ended, writes "held" there and waits until "hold" is removed. The test then knows a commit is
// in flight and can stop the broker under it. A build without the tag has none of this. integration/kafka_outage_test.go uses it.
const commitGateEnv = "CDCD_TEST_COMMIT_GATE"

// commitGatePoll is how often a held commit looks whether it may go on.
const commitGatePoll = 10 * time.Millisecond

func init() {
	dir := os.Getenv(commitGateEnv)
	if dir == "" {
		return
	}
	commitHook = func(ctx context.Context) { holdCommit(ctx, dir) }
}

func holdCommit(ctx context.Context, dir string) {
	hold := filepath.Join(dir, "hold")
	if _, err := os.Stat(hold); err != nil {
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "held"), nil, 0o600); err != nil {
		return
	}
	tick := time.NewTicker(commitGatePoll)
	defer tick.Stop()
	for {
		if _, err := os.Stat(hold); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
