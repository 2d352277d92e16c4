package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/connectors/postgres"
)

// runCLI runs the root command with args and returns what it wrote to stdout and stderr.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

// TestVersionPrintsToStdout runs `cdcd version` as a shell does, without SetOut (cobra's
// Println writes to stderr then), and reads what reached the process's stdout.
func TestVersionPrintsToStdout(t *testing.T) {
	stdout, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = stdout
	root := newRootCommand()
	root.SetArgs([]string{"version"})
	err = root.Execute()
	os.Stdout = saved
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "cdcd "+version+"\n" {
		t.Errorf("stdout of cdcd version is %q, want %q", got, "cdcd "+version+"\n")
	}
}

func TestRunHelpNamesBothSources(t *testing.T) {
	out, _, err := runCLI(t, "run", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PostgreSQL", "MySQL", "MariaDB"} {
		if !strings.Contains(out, want) {
			t.Errorf("cdcd run --help does not name %s:\n%s", want, out)
		}
	}
}

func TestConsoleLogWritesNoColourOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(LogConfig{Level: "info", Format: "console"}, &buf)
	log.Warn().Err(context.Canceled).Str("connector", "shop").Msg("hello")
	if strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("console log into a buffer holds colour codes: %q", buf.String())
	}
	if !strings.Contains(buf.String(), "hello") {
		t.Errorf("console log lost the message: %q", buf.String())
	}
}

func TestDurationsInLogsCarryTheirUnit(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(LogConfig{Level: "info", Format: "json"}, &buf)
	log.Warn().Stringer("retry_in", 8*time.Second).Msg("retrying")
	if !strings.Contains(buf.String(), `"retry_in":"8s"`) {
		t.Errorf("log line %q does not say retry_in 8s", buf.String())
	}
}

// TestNoUnitlessDurationsInLogs keeps zerolog's Dur (and Durs) out of the code: it writes a
// duration as a bare number of milliseconds (retry_in=8000), which a reader takes for seconds.
// Durations are logged with Stringer, "8s".
func TestNoUnitlessDurationsInLogs(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Dur" || sel.Sel.Name == "Durs") {
				t.Errorf("%s: a log field written with %s, a number without its unit: use Stringer", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// TestSourceErrorsNameTheSourceOnce: a source's errors carry their prefix ("postgres source:")
// from the source itself; the daemon does not add it a second time.
func TestSourceErrorsNameTheSourceOnce(t *testing.T) {
	cfg := &Config{Kafka: KafkaConfig{Brokers: []string{"127.0.0.1:1"}}}
	for _, conn := range []ConnectorConfig{
		{Name: "pg", Type: "postgres", TopicPrefix: "pg", Postgres: &postgres.Section{Host: "127.0.0.1", Port: closedPort(t),
			User: "cdcd", Database: "shop", Tables: []string{"public.items"}}},
		{Name: "my", Type: "mysql", TopicPrefix: "my", MySQL: &mysql.Section{Host: "127.0.0.1", Port: closedPort(t), User: "cdcd"}},
	} {
		applyConnectorDefaults(&conn)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		_, _, err := openSource(ctx, cfg, conn, nil, zerolog.Nop())
		cancel()
		if err == nil {
			t.Fatalf("%s: opened a source on a closed port", conn.Type)
		}
		prefix := conn.Type + " source: "
		if n := strings.Count(err.Error(), prefix); n != 1 {
			t.Errorf("%s: %q says %q %d times, want once", conn.Type, err, prefix, n)
		}
	}
}
