package connectors

import "fmt"

// This file is the setting of the byte budget of snapshot chunks that the sources share: its
// default and its bounds. The budget itself (how many rows a chunk reads) is the snapshot
// package's (snapshot.ChunkSizer).

const (
	// DefaultSnapshotChunkBytes is a snapshot chunk's default byte budget: 16 MiB.
	DefaultSnapshotChunkBytes int64 = 16 << 20
	// MinSnapshotChunkBytes and MaxSnapshotChunkBytes bound a chunk's byte budget.
	MinSnapshotChunkBytes int64 = 64 << 10
	MaxSnapshotChunkBytes int64 = 4 << 30
)

// CheckChunkBytes checks a source's snapshot chunk byte budget, after its default is applied:
// field names the setting in source's configuration.
func CheckChunkBytes(source, field string, budget int64) error {
	if budget < MinSnapshotChunkBytes || budget > MaxSnapshotChunkBytes {
		return &ConfigError{Source: source, Field: field, Problem: fmt.Sprintf("%d bytes is out of range", budget),
			Fix: fmt.Sprintf("use %d (64 KiB) to %d (4 GiB) bytes; each chunk is held in memory", MinSnapshotChunkBytes, MaxSnapshotChunkBytes)}
	}
	return nil
}
