package main

import (
	"context"
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaClientOptions turns the configuration into the options of every Kafka client of cdcd:
// the pipelines' producers, their offsets reads and hanging-transaction watch, the worker's
// config store and offsets, the embedded registry's store, the sources' heartbeat and history
// topics, and `cdcd tail`. It is the one place that does: a connection setting (TLS, SASL)
// added here reaches every client. Each component adds what it needs of its own
// (transactions, acks, what it consumes) after these.
func kafkaClientOptions(cfg *Config) []kgo.Opt {
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Kafka.Brokers...)}, cfg.Kafka.compressionOptions()...)
	security, err := cfg.Kafka.securityOptions()
	if err != nil {
		// Validation read the same files: they changed since. Every connection fails with
		// the reason, rather than going out without the TLS or SASL asked for.
		return append(opts, kgo.Dialer(func(context.Context, string, string) (net.Conn, error) {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}))
	}
	return append(opts, security...)
}

// clientOptions are tail's Kafka client options: the daemon's, of the config file --config
// names, or of the brokers --brokers names.
func (o tailOptions) clientOptions() []kgo.Opt {
	if o.kafka != nil {
		return kafkaClientOptions(&Config{Kafka: *o.kafka})
	}
	return kafkaClientOptions(&Config{Kafka: KafkaConfig{Brokers: o.brokers}})
}
