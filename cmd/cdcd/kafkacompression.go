package main

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producerCodecs are the accepted kafka.compression values and the producer codec of each.
// The default, snappy, is what the Kafka client always used (franz-go's default), so a config
// without the key produces exactly what it did before the key existed.
var producerCodecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// compressionProblems lists what is wrong with kafka.compression.
func (k KafkaConfig) compressionProblems() []string {
	if _, ok := producerCodecs[k.Compression]; k.Compression != "" && !ok {
		return []string{fmt.Sprintf("kafka.compression: %q is not none, gzip, snappy, lz4 or zstd", k.Compression)}
	}
	return nil
}

// compressionOptions is the producer codec option of kafka.compression; none when unset
// (the client's default, snappy). Only producers read it: the daemon's other clients ignore it.
func (k KafkaConfig) compressionOptions() []kgo.Opt {
	if c, ok := producerCodecs[k.Compression]; ok {
		return []kgo.Opt{kgo.ProducerBatchCompression(c)}
	}
	return nil
}
