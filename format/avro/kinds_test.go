package avro

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cdcd-dev/cdcd/format"
)

// TestErrorKinds checks that the encoder's errors say their format-neutral kind, which the
// engine's error policy reads without knowing Avro.
func TestErrorKinds(t *testing.T) {
	for _, tt := range []struct {
		err  error
		kind error
	}{
		{&EncodeError{Table: "t", Column: "c", Err: ErrNullValue}, format.ErrValue},
		{fmt.Errorf("%w: unknown type", ErrSchema), format.ErrSchema},
		{&NameCollisionError{}, format.ErrSchema},
		{&IncompatibleError{}, format.ErrIncompatible},
		{fmt.Errorf("x: %w", ErrIncompatible), format.ErrIncompatible},
		{&RegistryError{URL: "u", Op: "register", Err: errors.New("refused")}, format.ErrRegistry},
	} {
		if !errors.Is(tt.err, tt.kind) {
			t.Errorf("%v is not of kind %v", tt.err, tt.kind)
		}
	}
	if !format.IsPoison(fmt.Errorf("avro: value: %w", &EncodeError{Err: ErrBadValue})) {
		t.Error("an EncodeError is not poison")
	}
	if format.IsPoison(&RegistryError{Err: &EncodeError{Err: ErrBadValue}}) {
		t.Error("a registry failure is poison")
	}
}
