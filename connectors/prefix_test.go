package connectors

import (
	"errors"
	"fmt"
	"testing"
)

func TestPrefixOnce(t *testing.T) {
	base := errors.New("postgres source: unexpected message sequence")
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("postgres source: snapshot: %w", base), "postgres source: snapshot: unexpected message sequence"},
		{fmt.Errorf("postgres source: a: %w", fmt.Errorf("postgres source: b: %w", base)), "postgres source: a: b: unexpected message sequence"},
		{fmt.Errorf("starting: %w", base), "starting: postgres source: unexpected message sequence"},
		{errors.New("no prefix"), "no prefix"},
	} {
		got := PrefixOnce("postgres source: ", c.err)
		if got.Error() != c.want {
			t.Errorf("PrefixOnce(%q) = %q, want %q", c.err, got, c.want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("PrefixOnce(%q) hides the error", c.err)
		}
	}
	if PrefixOnce("x: ", nil) != nil {
		t.Error("PrefixOnce(nil) != nil")
	}
	ce := &ConfigError{Source: "postgres", Field: "tables", Problem: "p"}
	if _, ok := errors.AsType[*ConfigError](PrefixOnce("postgres source: ", fmt.Errorf("postgres source: x: %w", ce))); !ok {
		t.Error("ConfigError lost")
	}
}
