package pipeline

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file chooses the partition of every record the pipeline writes. A record with a key
// goes to the partition Kafka's Java producer picks for the same key bytes (its default
// partitioner, and Kafka Streams': toPositive(murmur2(key)) % partitions), so that a Java
// consumer joining a cdcd topic with another topic on the key finds both sides co-partitioned,
// and every change of one key stays in one partition, in order. A record without a key (a
// table without a primary key) goes to a sticky partition, as Java's producer does. The
// offset record goes to partition 0, the one the offsets are read from (kafkalog.ReadOffset),
// whatever the number of partitions of the offsets topic.
//
// The choice is the pipeline's, set after the user's Kafka options so that none replaces it:
// exactly once needs the offset record where it is read, and per-key order needs the hash.

// murmur2 is the 32-bit MurmurHash2 of data with Kafka's seed, as Kafka's Utils.murmur2:
// little-endian 4-byte blocks, then the tail bytes, then the final mix.
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	h := uint32(seed) ^ uint32(len(data))
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// keyPartition is the partition of n that Kafka's Java producer picks for key: the hash made
// positive by masking its sign bit (Utils.toPositive), modulo n.
func keyPartition(key []byte, n int) int {
	return int(murmur2(key)&0x7fffffff) % n
}

// recordPartitioner is the pipeline's partitioner (see the top of this file).
type recordPartitioner struct {
	offsetsTopic string
	keyed        kgo.Partitioner
}

var _ kgo.Partitioner = recordPartitioner{}

func newRecordPartitioner(offsetsTopic string) recordPartitioner {
	return recordPartitioner{offsetsTopic: offsetsTopic, keyed: kgo.StickyKeyPartitioner(kgo.KafkaHasher(murmur2))}
}

// ForTopic implements kgo.Partitioner.
func (p recordPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.offsetsTopic {
		return firstPartition{}
	}
	return p.keyed.ForTopic(topic)
}

// firstPartition puts every record on partition 0.
type firstPartition struct{}

// RequiresConsistency implements kgo.TopicPartitioner: partition 0, available or not.
func (firstPartition) RequiresConsistency(*kgo.Record) bool { return true }

// Partition implements kgo.TopicPartitioner.
func (firstPartition) Partition(*kgo.Record, int) int { return 0 }
