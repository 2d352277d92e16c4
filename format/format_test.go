package format

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/cdcd-dev/cdcd/transform"
)

type nopEncoder struct{ cfg Config }

func (nopEncoder) EncodeRecord(context.Context, *transform.Record) (string, []byte, []byte, error) {
	return "", nil, nil, nil
}

func (nopEncoder) EncodeRecordInTransaction(context.Context, *transform.Record, *TransactionBlock) (string, []byte, []byte, error) {
	return "", nil, nil, nil
}

func (nopEncoder) EncodeTransactionEvent(context.Context, *TransactionEvent) (string, []byte, []byte, error) {
	return "", nil, nil, nil
}

// TestFormatsByName checks that a format is chosen by name, the empty name being the default,
// and that an unknown name is refused with the known ones.
func TestFormatsByName(t *testing.T) {
	var built []string
	mk := func(name string) Format {
		return Format{Name: name, New: func(c Config) (Encoder, error) {
			built = append(built, name)
			if c.TopicPrefix == "" {
				return nil, errors.New("no prefix")
			}
			return nopEncoder{c}, nil
		}}
	}
	fs := Formats{mk("avro"), mk("json")}
	if _, err := fs.New("", Config{TopicPrefix: "p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.New("json", Config{TopicPrefix: "p"}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(built) != "[avro json]" {
		t.Errorf("built %v, want [avro json]", built)
	}
	_, err := fs.New("xml", Config{TopicPrefix: "p"})
	if !errors.Is(err, ErrUnknownFormat) || err.Error() != `format: unknown format "xml" (known: avro, json)` {
		t.Errorf("New(xml) = %v", err)
	}
	if _, err := fs.New("json", Config{}); err == nil || err.Error() != "format json: no prefix" {
		t.Errorf("New(json) without prefix = %v, want the format's error named", err)
	}
}

// TestIsPoison checks the engine's classification of encoder errors by kind alone.
func TestIsPoison(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("other"), false},
		{fmt.Errorf("value: %w", ErrValue), true},
		{fmt.Errorf("%w: %w", ErrValue, ErrSchema), false},
		{fmt.Errorf("%w: %w", ErrValue, ErrIncompatible), false},
		{fmt.Errorf("%w: %w", ErrValue, ErrRegistry), false},
		{fmt.Errorf("%w: %w", ErrValue, context.DeadlineExceeded), false},
		{fmt.Errorf("%w: %w", ErrValue, &net.OpError{Op: "dial", Err: errors.New("refused")}), false},
	} {
		if got := IsPoison(tt.err); got != tt.want {
			t.Errorf("IsPoison(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
