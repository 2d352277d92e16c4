package main

import (
	"strings"
	"testing"
)

func TestBatchLinger(t *testing.T) {
	for _, tc := range []struct {
		value   string
		ok      bool
		options int
	}{{"", true, 0}, {"idle", true, 0}, {"full", true, 1}, {"Full", false, 0}, {"sometimes", false, 0}} {
		conn := ConnectorConfig{BatchLinger: tc.value}
		errs := validateBatchLinger(conn)
		if (len(errs) == 0) != tc.ok {
			t.Errorf("batch_linger %q: errors %v, want ok %v", tc.value, errs, tc.ok)
		}
		if len(errs) > 0 && (errs[0].Name != "batch_linger" || !strings.Contains(errs[0].Message, "is not idle or full")) {
			t.Errorf("batch_linger %q: error %+v", tc.value, errs[0])
		}
		if tc.ok && len(lingerOptions(conn)) != tc.options {
			t.Errorf("batch_linger %q: %d pipeline options, want %d", tc.value, len(lingerOptions(conn)), tc.options)
		}
	}
}
