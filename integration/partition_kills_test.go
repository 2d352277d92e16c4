//go:build !chaos

package integration

// defaultPartitionKills keeps make test's run short; the chaos build runs 20.
const defaultPartitionKills = 4
