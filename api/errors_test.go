package api

import (
	"errors"
	"testing"
)

// TestInvalidConfig: one problem is the message as it is, several are counted and joined,
// each with its key; the error is ErrInvalid (400).
func TestInvalidConfig(t *testing.T) {
	for _, c := range []struct {
		problems []FieldError
		want     string
	}{
		{[]FieldError{{Name: "postgres.host", Message: "required"}}, "invalid request: postgres.host: required"},
		{[]FieldError{{Message: "no tables"}}, "invalid request: no tables"},
		{[]FieldError{{Name: "a", Message: "bad"}, {Message: "worse"}}, "invalid request: 2 problems: a: bad; worse"},
	} {
		err := InvalidConfig(c.problems)
		if !errors.Is(err, ErrInvalid) || err.Error() != c.want {
			t.Errorf("InvalidConfig(%v) = %v, want %q wrapping ErrInvalid", c.problems, err, c.want)
		}
	}
}
