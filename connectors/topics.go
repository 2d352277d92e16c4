package connectors

// This file is how a source asks for the topics of its own records (EventRecord: heartbeats,
// the MySQL schema history). The engine creates them, since a source knows no Kafka client;
// the topics of changes the engine creates by itself, at their first record.

// TopicCleanup is a topic's cleanup policy (Kafka's cleanup.policy).
type TopicCleanup string

// The cleanup policies.
const (
	// CleanupBrokerDefault leaves the policy to the broker's default (log.cleanup.policy).
	CleanupBrokerDefault TopicCleanup = ""
	// CleanupDelete deletes old segments by retention ("delete").
	CleanupDelete TopicCleanup = "delete"
	// CleanupCompact keeps the last record of each key ("compact").
	CleanupCompact TopicCleanup = "compact"
)

// TopicSpec declares a topic a source writes its own records to, and how it must be created.
type TopicSpec struct {
	// Name is the topic's name.
	Name string
	// Purpose names the topic in errors ("heartbeat", "schema history").
	Purpose string
	// Partitions is the topic's number of partitions; 0 means 1 (a source's own records keep
	// one order).
	Partitions int32
	// Cleanup is the topic's cleanup policy.
	Cleanup TopicCleanup
	// KeepForever sets infinite retention (retention.ms and retention.bytes -1): records of a
	// delete-policy topic that a restart must read back are never deleted.
	KeepForever bool
}

// TopicDeclarer is implemented by a Source that writes records of its own (EventRecord) to
// topics the engine must create: before each Stream the engine creates every declared topic
// that does not exist, with the declared settings, and leaves an existing one as it is. A
// failure to create one ends the run before Stream, with an error naming the topic and its
// purpose: a permanent one when Kafka refuses the topic (rights, policy, name, settings), as
// when the source created it at Open. Topics is called after Open, at each start, and must not block. A type that wraps
// a Source must implement it too, forwarding it, or the wrapped source's topics go uncreated.
type TopicDeclarer interface {
	Topics() []TopicSpec
}

// HeartbeatTopicSpec declares a heartbeat topic: one partition (Debezium writes its
// heartbeats to partition 0) and the broker's defaults otherwise.
func HeartbeatTopicSpec(topic string) TopicSpec {
	return TopicSpec{Name: topic, Purpose: "heartbeat", Partitions: 1}
}
