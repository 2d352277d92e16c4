package integration

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"
)

// Stack holds the addresses of the local stack's servers.
type Stack struct {
	// PostgresAddr is host:port of PostgreSQL.
	PostgresAddr string
	// MariaDBAddr is host:port of MariaDB.
	MariaDBAddr string
	// KafkaAddr is host:port of the Kafka broker.
	KafkaAddr string
}

// StackFromEnv returns the addresses the stack scripts use, with the same environment overrides.
func StackFromEnv() Stack {
	return Stack{
		PostgresAddr: "127.0.0.1:" + envOr("CDCD_PG_PORT", "55432"),
		MariaDBAddr:  "127.0.0.1:" + envOr("CDCD_MARIADB_PORT", "33306"),
		KafkaAddr:    "127.0.0.1:" + envOr("CDCD_KAFKA_PORT", "19092"),
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// maxNameLen keeps names valid everywhere they are used: PostgreSQL identifiers and slot names
// stop at 63 bytes, MariaDB database names at 64.
const maxNameLen = 63

// Name returns a name unique to this test and this run, built from kind and the test's name,
// made only of lowercase letters, digits and underscores so that it is a valid PostgreSQL
// identifier and slot name, MariaDB database name and Kafka topic name without quoting.
func Name(t testing.TB, kind string) string {
	t.Helper()
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatalf("reading random bytes: %v", err)
	}
	tail := "_" + hex.EncodeToString(suffix[:])
	base := sanitize(kind + "_" + strings.TrimPrefix(t.Name(), "Test"))
	if room := maxNameLen - len(tail); len(base) > room {
		base = base[:room]
	}
	return base + tail
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// WaitFor calls cond until it returns nil, failing the test with what and cond's last error if
// that has not happened within timeout. The pause between calls grows from 10 ms to 200 ms; it
// spaces the polls out and decides nothing.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Eventually(timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Eventually calls cond until it returns nil or timeout passes, and then returns cond's last
// error. It is [WaitFor] for code that has no testing.TB, such as a goroutine.
func Eventually(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	pause := 10 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not true after %s: %w", timeout, err)
		}
		time.Sleep(pause)
		pause = min(2*pause, 200*time.Millisecond)
	}
}
