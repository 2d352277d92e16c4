package connectors

import (
	"errors"
	"testing"
)

func TestConfigErrorSaysWhatAndHow(t *testing.T) {
	cause := errors.New("connection refused")
	err := &ConfigError{Source: "mysql", Field: "host", Problem: "cannot be reached", Fix: "check the address", Err: cause}
	want := "mysql source: host: cannot be reached (fix: check the address): connection refused"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, cause) {
		t.Errorf("the cause is not reachable through Unwrap")
	}
	if err.Retryable() {
		t.Errorf("a configuration error is retryable")
	}
}
