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

func TestPermanentKeepsTheErrorAndSaysNotRetryable(t *testing.T) {
	if Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is not nil")
	}
	cause := errors.New("position purged")
	err := Permanent(cause)
	var r interface{ Retryable() bool }
	if !errors.As(err, &r) || r.Retryable() {
		t.Errorf("Permanent(%v) does not say it is not retryable", cause)
	}
	if !errors.Is(err, cause) || err.Error() != cause.Error() {
		t.Errorf("Permanent(%v) = %v, want the error kept as it is", cause, err)
	}
	if Permanent(err) != err {
		t.Errorf("marking twice wraps twice")
	}
}
