package connectors

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckHeartbeat(t *testing.T) {
	for _, tc := range []struct {
		name     string
		interval time.Duration
		prefix   string
		topic    string
		field    string
	}{
		{"off", 0, "", "", ""},
		{"on", time.Second, "shop", "__debezium-heartbeat.shop", ""},
		{"at the minimum", MinHeartbeatInterval, "shop", "beats", ""},
		{"below the minimum", MinHeartbeatInterval - 1, "shop", "beats", "heartbeat interval"},
		{"negative", -time.Second, "shop", "beats", "heartbeat interval"},
		{"negative without the rest", -time.Second, "", "", "heartbeat interval"},
		{"no topic prefix", time.Second, "", "beats", "topic prefix"},
		{"bad topic", time.Second, "shop", "beats/shop", "heartbeat topic"},
		{"topic too long", time.Second, "shop", strings.Repeat("t", 250), "heartbeat topic"},
	} {
		err := CheckHeartbeat("mysql", tc.interval, tc.prefix, tc.topic)
		var ce *ConfigError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field || ce.Source != "mysql" || ce.Fix == ""):
			t.Errorf("%s: %v, want a mysql ConfigError on %s with a fix", tc.name, err, tc.field)
		}
	}
}

func TestHeartbeatRecord(t *testing.T) {
	if got := HeartbeatTopic("shop"); got != "__debezium-heartbeat.shop" {
		t.Errorf("HeartbeatTopic = %q, want Debezium's __debezium-heartbeat.shop", got)
	}
	h := NewHeartbeat(`sh"op`, "beats")
	a, b := h.Record(time.UnixMilli(1)), h.Record(time.UnixMilli(1700000000123))
	if a.Topic != "beats" || h.Topic() != "beats" || string(a.Key) != `{"serverName":"sh\"op"}` || string(a.Value) != `{"ts_ms":1}` ||
		string(b.Value) != `{"ts_ms":1700000000123}` {
		t.Errorf("records %s %s %s, %s", a.Topic, a.Key, a.Value, b.Value)
	}
	a.Key[0] = 'X'
	if b.Key[0] != '{' || h.Record(time.UnixMilli(2)).Key[0] != '{' {
		t.Errorf("records share their key: %s", b.Key)
	}
}

func TestHeartbeatTopicSpec(t *testing.T) {
	// Debezium writes its heartbeats to partition 0 of a topic of the broker's defaults.
	want := TopicSpec{Name: "beats", Purpose: "heartbeat", Partitions: 1}
	if got := HeartbeatTopicSpec("beats"); got != want {
		t.Errorf("HeartbeatTopicSpec = %+v, want %+v", got, want)
	}
}
