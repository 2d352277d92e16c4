package group

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The group protocol's names: the protocol type every member joins with (Kafka Connect's is
// "connect"), and the one protocol a member offers.
const (
	ProtocolType = "cdcd"
	ProtocolName = "cooperative"
	// Version is the version of [Metadata] and [Assignment] this code writes; it reads this one
	// and refuses later ones.
	Version = 1
)

// ErrProtocol means a member's metadata or an assignment could not be read.
var ErrProtocol = errors.New("group: unreadable group protocol message")

// Metadata is what a member sends in its JoinGroup request.
type Metadata struct {
	Version int `json:"version"`
	// Worker is the member's worker id: its advertised REST address.
	Worker string `json:"worker"`
	// Owned are the connectors it was assigned and still runs (or keeps paused).
	Owned []string `json:"owned"`
	// Changes counts the new generations the member asked for ([Member.Rejoin]): a broker
	// answers a follower's JoinGroup whose metadata did not change with the current
	// generation, without a rebalance; a new count makes it start one.
	Changes uint64 `json:"changes,omitempty"`
}

// Assignment is what the leader gives each member in its SyncGroup request.
type Assignment struct {
	Version int `json:"version"`
	// Leader is the leader's member id, LeaderWorker its worker id.
	Leader       string `json:"leader"`
	LeaderWorker string `json:"leader_worker"`
	// Generation is the generation it was computed for.
	Generation int32 `json:"generation"`
	// Connectors are every connector the member runs in this generation.
	Connectors []string `json:"connectors"`
	// Revoked are the connectors the member must stop; it rejoins once they have stopped.
	Revoked []string `json:"revoked,omitempty"`
	// Members is the whole generation's assignment, by member id: every member knows it, so
	// that a member that becomes leader knows which worker had what, and any member answers
	// GET /cluster.
	Members map[string]MemberAssignment `json:"members"`
}

// MemberAssignment is one member's part of an [Assignment].
type MemberAssignment struct {
	Worker     string   `json:"worker"`
	Connectors []string `json:"connectors"`
}

// EncodeMetadata returns m's bytes, with the current version.
func EncodeMetadata(m Metadata) []byte {
	m.Version = Version
	b, _ := json.Marshal(m) // strings and slices only: it cannot fail
	return b
}

// DecodeMetadata reads a member's metadata.
func DecodeMetadata(b []byte) (Metadata, error) {
	var m Metadata
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: member metadata: %w", ErrProtocol, err)
	}
	if m.Version < 1 || m.Version > Version {
		return m, fmt.Errorf("%w: member metadata version %d, this member reads up to %d", ErrProtocol, m.Version, Version)
	}
	return m, nil
}

// EncodeAssignment returns a's bytes, with the current version.
func EncodeAssignment(a Assignment) []byte {
	a.Version = Version
	b, _ := json.Marshal(a)
	return b
}

// DecodeAssignment reads an assignment.
func DecodeAssignment(b []byte) (Assignment, error) {
	var a Assignment
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("%w: assignment: %w", ErrProtocol, err)
	}
	if a.Version < 1 || a.Version > Version {
		return a, fmt.Errorf("%w: assignment version %d, this member reads up to %d", ErrProtocol, a.Version, Version)
	}
	return a, nil
}
