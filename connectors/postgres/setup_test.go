package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestJudgeWALLevel(t *testing.T) {
	if err := judgeWALLevel("logical"); err != nil {
		t.Errorf("judgeWALLevel(logical) = %v", err)
	}
	for _, level := range []string{"replica", "minimal", ""} {
		err := judgeWALLevel(level)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "wal_level" ||
			!strings.Contains(err.Error(), "set wal_level=logical in postgresql.conf and restart") {
			t.Errorf("judgeWALLevel(%q) = %v, want a wal_level ConfigError saying how to fix it", level, err)
		}
	}
}

func TestJudgeRole(t *testing.T) {
	if judgeRole("r", true, false) != nil || judgeRole("s", false, true) != nil {
		t.Error("a role with REPLICATION or superuser was refused")
	}
	err := judgeRole("app", false, false)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "user" || !strings.Contains(ce.Fix, `ALTER ROLE "app" WITH REPLICATION`) {
		t.Errorf("judgeRole(app) = %v, want a user ConfigError with the ALTER ROLE fix", err)
	}
}

func TestClassifyConnectError(t *testing.T) {
	cfg := validConfig().withDefaults()
	tests := []struct {
		code, field string
	}{
		{"28P01", "password"},
		{"28000", "user"},
		{"3D000", "database"},
		{"42501", "user"},
	}
	for _, tt := range tests {
		err := classifyConnectError(cfg, fmt.Errorf("connecting: %w", &pgconn.PgError{Code: tt.code, Message: "no"}))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field {
			t.Errorf("code %s: %v, want a ConfigError on %s", tt.code, err, tt.field)
			continue
		}
		if !strings.Contains(err.Error(), "db:5432") || strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("code %s: %v should name the host and not the password", tt.code, err)
		}
		if IsRetryable(err) {
			t.Errorf("code %s: configuration error judged retryable", tt.code)
		}
	}
	netErr := classifyConnectError(cfg, errors.New("dial tcp: connection refused"))
	if !errors.Is(netErr, ErrUnreachable) || !IsRetryable(netErr) {
		t.Errorf("network failure = %v, want ErrUnreachable, retryable", netErr)
	}
}

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrBadPosition, false},
		{fmt.Errorf("x: %w", ErrPositionReleased), false},
		{ErrResumeTxMissing, false},
		{ErrProtocol, false},
		{&ConfigError{Source: "postgres", Field: "slot"}, false},
		{&pgconn.PgError{Code: "57P01"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{&pgconn.PgError{Code: "55006"}, true},
		{&pgconn.PgError{Code: "42601"}, false},
		{fmt.Errorf("x: %w", ErrUnreachable), true},
	}
	for _, tt := range tests {
		if got := IsRetryable(tt.err); got != tt.want {
			t.Errorf("IsRetryable(%v) = %t, want %t", tt.err, got, tt.want)
		}
	}
}

func TestQuoteTables(t *testing.T) {
	if got, want := quoteTables([]string{"public.orders", "Sales.Items"}), `"public"."orders", "Sales"."Items"`; got != want {
		t.Errorf("quoteTables = %s, want %s", got, want)
	}
}
