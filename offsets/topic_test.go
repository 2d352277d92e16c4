package offsets_test

import (
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/offsets"
)

func TestValidTopic(t *testing.T) {
	for topic, want := range map[string]bool{
		"__debezium-heartbeat.shop": true, "a": true, "A_b-c.9": true, strings.Repeat("t", 249): true,
		"": false, ".": false, "..": false, "a/b": false, "a b": false, "é": false, strings.Repeat("t", 250): false,
	} {
		if got := offsets.ValidTopic(topic); got != want {
			t.Errorf("ValidTopic(%q) = %v, want %v", topic, got, want)
		}
	}
}
