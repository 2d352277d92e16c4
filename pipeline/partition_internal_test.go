package pipeline

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMurmur2KafkaVectors checks murmur2 against the values of Kafka's own test of
// Utils.murmur2 (UtilsTest.testMurmur2), as Java's signed ints.
func TestMurmur2KafkaVectors(t *testing.T) {
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := int32(murmur2([]byte(key))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
	}
}

// TestKeyPartitionAsFranzGo compares the pipeline's partitioner with franz-go's Kafka-compatible
// hashing partitioner on random keys of every tail length, and keyPartition with both.
func TestKeyPartitionAsFranzGo(t *testing.T) {
	ours := newRecordPartitioner("offsets").ForTopic("t")
	theirs := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		key := make([]byte, i%37)
		for j := range key {
			key[j] = byte(rng.UintN(256))
		}
		n := 1 + i%16
		rec := &kgo.Record{Topic: "t", Key: key}
		if !ours.RequiresConsistency(rec) {
			t.Fatalf("a keyed record does not require a consistent partition")
		}
		want := theirs.Partition(rec, n)
		if got := ours.Partition(rec, n); got != want {
			t.Fatalf("key %x of %d partitions: partition %d, franz-go's %d", key, n, got, want)
		}
		if got := keyPartition(key, n); got != want {
			t.Fatalf("keyPartition(%x, %d) = %d, franz-go's %d", key, n, got, want)
		}
	}
}

// TestOffsetRecordOnPartitionZero: the offset record goes where kafkalog.ReadOffset reads it,
// whatever the number of partitions of the offsets topic and the offset key's hash.
func TestOffsetRecordOnPartitionZero(t *testing.T) {
	p := newRecordPartitioner("cdcd_offsets").ForTopic("cdcd_offsets")
	rec := &kgo.Record{Topic: "cdcd_offsets", Key: []byte(`["inventory",{"server":"srv"}]`)}
	if !p.RequiresConsistency(rec) || p.Partition(rec, 25) != 0 {
		t.Fatalf("offset record on partition %d of 25, want 0", p.Partition(rec, 25))
	}
}
