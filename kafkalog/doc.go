// Package kafkalog is cdcd's one compacted-topic log, in the spirit of Kafka Connect's
// KafkaBasedLog: every state cdcd keeps in Kafka (the connectors' offsets, the worker's
// connector configurations, the embedded schema registry, the MySQL schema history) is a codec
// over it, so that creating the topic, reading it to its stable end and writing it are written
// once.
//
// A [Log] is one topic read and written through partition 0 (a log's records keep their order
// only within one partition). [Open] creates the topic when it is missing, or checks an existing
// one when its [Topic] asks for it. [ReadToEnd] reads the topic from its start to the end it
// had when the read began, with isolation read_committed, after every transaction below that end
// is decided: what it returns is never older than what was committed before the call, and it
// does not wait for what is written after. [Log.Follow] keeps reading, for a state that must see
// what other processes write. [Log.Write] appends records in one Kafka transaction (when the log
// has a transactional id: it fences that id's earlier producers) or with an idempotent producer
// and acks=all; either way it returns once the brokers hold them.
//
// The user plugs in a [Codec], which turns its entries into record keys and values and back, so
// that no user handles Kafka records. Every constructor takes the caller's Kafka client options
// ([]kgo.Opt: seed brokers, TLS, SASL...), made in one place by the daemon, and adds only what the
// log's correctness needs. [NewClient] builds the clients of the daemon that are not logs (an
// admin's checks, the tail command's consumer) from the same options.
package kafkalog
