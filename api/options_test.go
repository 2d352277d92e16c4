package api

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	const tok = "0123456789abcdef"
	for _, c := range []struct {
		name string
		opts []Option
		want string // "" for valid; else a substring of the error
	}{
		{"defaults", nil, ""},
		{"loopback v4 range", []Option{WithAddr("127.1.2.3:9000")}, ""},
		{"loopback v6", []Option{WithAddr("[::1]:8083")}, ""},
		{"localhost", []Option{WithAddr("localhost:0")}, ""},
		{"all interfaces without token", []Option{WithAddr(":8083")}, "bearer token is required"},
		{"any v4 without token", []Option{WithAddr("0.0.0.0:8083")}, "bearer token is required"},
		{"public IP without token", []Option{WithAddr("10.0.0.5:8083")}, "bearer token is required"},
		{"host name without token", []Option{WithAddr("cdcd.internal:8083")}, "bearer token is required"},
		{"all interfaces with token", []Option{WithAddr(":8083"), WithToken(tok)}, ""},
		{"short token", []Option{WithToken("short")}, "shorter than"},
		{"token with space", []Option{WithToken("0123456789 abcdef")}, "spaces or control"},
		{"no port", []Option{WithAddr("127.0.0.1")}, "listen address"},
		{"empty port", []Option{WithAddr("127.0.0.1:")}, "no port"},
		{"cert without key", []Option{WithTLS("c.pem", "")}, "both a certificate and a key"},
		{"key without cert", []Option{WithTLS("", "k.pem")}, "both a certificate and a key"},
		{"zero body limit", []Option{WithMaxBodyBytes(0)}, "max body bytes"},
		{"negative header limit", []Option{WithMaxHeaderBytes(-1)}, "max header bytes"},
		{"zero read timeout", []Option{WithReadTimeout(0)}, "timeouts"},
		{"negative write timeout", []Option{WithWriteTimeout(-time.Second)}, "timeouts"},
		{"zero shutdown timeout", []Option{WithShutdownTimeout(0)}, "timeouts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := defaultConfig()
			for _, o := range c.opts {
				o(&cfg)
			}
			err := cfg.validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrInvalidOption with %q", err, c.want)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(nil); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("nil backend: %v", err)
	}
	if _, err := New(newFake(), WithAddr("0.0.0.0:8083")); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("off-loopback without token: %v", err)
	}
	if _, err := New(newFake(), WithTLS("/nonexistent/cert.pem", "/nonexistent/key.pem")); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("missing TLS files: %v", err)
	}
}
