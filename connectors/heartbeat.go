package connectors

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cdcd-dev/cdcd/offsets"
)

// This file is what the sources' heartbeats share: the record's shape, the topic's name and
// declaration (HeartbeatTopicSpec, created by the engine), and the checks of their settings. When and at which position a heartbeat goes out
// is each source's own business.

const (
	// MinHeartbeatInterval bounds a source's heartbeat interval from below: each heartbeat is
	// a source transaction and a Kafka write.
	MinHeartbeatInterval = 100 * time.Millisecond
	// HeartbeatTopicPrefix starts the default heartbeat topic's name, as Debezium's
	// topic.heartbeat.prefix default does.
	HeartbeatTopicPrefix = "__debezium-heartbeat"
)

// HeartbeatTopic returns the heartbeat topic of a connector whose topic prefix is prefix:
// Debezium's name, "__debezium-heartbeat.<prefix>".
func HeartbeatTopic(prefix string) string {
	return HeartbeatTopicPrefix + "." + prefix
}

// Heartbeat makes a connector's heartbeat records: Debezium's shape (key {"serverName":
// <topic prefix>}, value {"ts_ms": <milliseconds>}) in schemaless JSON.
type Heartbeat struct {
	topic string
	key   []byte
}

// NewHeartbeat returns the maker of the heartbeat records of a connector whose topic prefix is
// topicPrefix, written to topic.
func NewHeartbeat(topicPrefix, topic string) *Heartbeat {
	// A struct of one string cannot fail to marshal.
	key, _ := json.Marshal(struct {
		ServerName string `json:"serverName"`
	}{topicPrefix})
	return &Heartbeat{topic: topic, key: key}
}

// Topic returns the topic the records go to.
func (h *Heartbeat) Topic() string { return h.topic }

// Record returns a heartbeat record whose value holds ts. The receiver owns it: its key is a
// copy of its own.
func (h *Heartbeat) Record(ts time.Time) *Record {
	value := make([]byte, 0, 32)
	value = append(value, `{"ts_ms":`...)
	value = strconv.AppendInt(value, ts.UnixMilli(), 10)
	value = append(value, '}')
	return &Record{Topic: h.topic, Key: append([]byte(nil), h.key...), Value: value}
}

// CheckHeartbeat checks a source's heartbeat settings, reporting the first problem as a
// *ConfigError of source: an interval of 0 is off and needs nothing else; another must be at
// least MinHeartbeatInterval, with a topic prefix (the records' key names it) and a legal
// topic (the source declares it, see HeartbeatTopicSpec, and the engine creates it).
func CheckHeartbeat(source string, interval time.Duration, topicPrefix, topic string) error {
	switch {
	case interval < 0 || interval > 0 && interval < MinHeartbeatInterval:
		return &ConfigError{Source: source, Field: "heartbeat interval", Problem: interval.String() + " is out of range",
			Fix: "use 0 (no heartbeats) or " + MinHeartbeatInterval.String() + " or more"}
	case interval == 0:
		return nil
	case topicPrefix == "":
		return &ConfigError{Source: source, Field: "topic prefix", Problem: "is empty, and the heartbeat records' key names it",
			Fix: "set the connector's topic prefix"}
	case !offsets.ValidTopic(topic):
		return &ConfigError{Source: source, Field: "heartbeat topic", Problem: fmt.Sprintf("%q is not a Kafka topic name", topic),
			Fix: "use 1 to 249 letters, digits, '.', '_' or '-'"}
	}
	return nil
}
