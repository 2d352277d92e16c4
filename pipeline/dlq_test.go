package pipeline

import (
	"errors"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	for _, p := range []Policy{PolicyFail, PolicyDLQ, PolicySkip} {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePolicy("ignore"); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("ParsePolicy(ignore) = %v, want ErrInvalidOption", err)
	}
}
