package main

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaCompression checks that kafka.compression reaches the producers' codec, that no key
// keeps the client's default (snappy), and that an unknown codec is refused.
func TestKafkaCompression(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  kgo.CompressionCodec
	}{
		{"", kgo.SnappyCompression()},
		{"none", kgo.NoCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
	} {
		raw := validConfig
		if tc.value != "" {
			raw = strings.Replace(raw, "kafka:\n", "kafka:\n  compression: "+tc.value+"\n", 1)
		}
		cfg, err := parseConfig([]byte(raw))
		if err != nil {
			t.Fatalf("compression %q: parseConfig: %v", tc.value, err)
		}
		cl, err := kgo.NewClient(kafkaClientOptions(cfg)...)
		if err != nil {
			t.Fatalf("compression %q: kgo.NewClient: %v", tc.value, err)
		}
		got, _ := cl.OptValue(kgo.ProducerBatchCompression).([]kgo.CompressionCodec)
		cl.Close()
		if len(got) == 0 || got[0] != tc.want {
			t.Errorf("compression %q: the producer's codecs are %v, want %v first", tc.value, got, tc.want)
		}
	}
	raw := strings.Replace(validConfig, "kafka:\n", "kafka:\n  compression: brotli\n", 1)
	if _, err := parseConfig([]byte(raw)); err == nil || !strings.Contains(err.Error(), `kafka.compression: "brotli" is not none, gzip, snappy, lz4 or zstd`) {
		t.Errorf("compression brotli: parseConfig error %v, want it refused naming the codecs", err)
	}
}
