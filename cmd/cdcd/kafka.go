package main

import "github.com/twmb/franz-go/pkg/kgo"

// kafkaClientOptions turns the configuration into the options of every Kafka client of cdcd:
// the pipelines' producers, their offsets reads and hanging-transaction watch, the worker's
// config store and offsets, the embedded registry's store, the sources' heartbeat and history
// topics, and `cdcd tail`. It is the one place that does: a connection setting (TLS, SASL)
// added here reaches every client. Each component adds what it needs of its own
// (transactions, acks, what it consumes) after these.
func kafkaClientOptions(cfg *Config) []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(cfg.Kafka.Brokers...)}
}

// clientOptions are tail's Kafka client options: the daemon's, of the brokers --brokers names.
func (o tailOptions) clientOptions() []kgo.Opt {
	return kafkaClientOptions(&Config{Kafka: KafkaConfig{Brokers: o.brokers}})
}
