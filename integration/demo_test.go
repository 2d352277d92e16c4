package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestMakeDemo runs make demo's script (deploy/dev/demo.sh; the stack is up) against the
// servers, in a folder and on a registry port of its own: it says what it builds, captures
// public.items into demo.public.items as the README says, explains each event printed, and
// drops its replication slot at the end.
func TestMakeDemo(t *testing.T) {
	stack := StackFromEnv()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	// The demo builds cdcd itself; with the flags of the other tests' binary (GOFLAGS, which
	// go build reads), that build is a link from the cache, not two minutes of compiling.
	if _, err := buildOnce(); err != nil {
		t.Fatal(err)
	}
	registry := FreeAddr(t)
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "deploy", "dev", "demo.sh"))
	cmd.Env = append(os.Environ(), "GOFLAGS=-race", "CDCD_STACK_DIR="+t.TempDir(),
		"CDCD_REGISTRY_PORT="+registry[strings.LastIndexByte(registry, ':')+1:])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"[demo] building cdcd into",
		"[demo] built in",
		`{"topic":"demo.public.items"`,
		"the commit marker of the last Kafka transaction",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the demo's output does not say %q:\n%s", want, text)
		}
	}
	// Each of the 6 events (3 c, 1 u, 1 d, 1 tombstone) is followed by its explanation.
	if n := len(regexp.MustCompile(`(?m)^\{"topic":"demo\.public\.items".*\n    \^ \S`).FindAllString(text, -1)); n != 6 {
		t.Errorf("%d explained events, want 6:\n%s", n, text)
	}
	slot := regexp.MustCompile(`replication slot (cdcd_demo_\d+) dropped`).FindStringSubmatch(text)
	if slot == nil {
		t.Fatalf("the demo does not say it dropped its slot:\n%s", text)
	}
	conn, err := pgx.Connect(ctx, "postgres://postgres@"+stack.PostgresAddr+"/postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var left int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot[1]).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("slot %s is left on the server", slot[1])
	}
}
