//go:build chaos

package integration

// defaultPartitionKills under the chaos build tag: issue 18's 20 SIGKILLs.
const defaultPartitionKills = 20
