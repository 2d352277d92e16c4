package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStackScriptsAreIdempotentAndLeaveNoProcess runs deploy/dev/stack.sh on a private stack (its
// own folder and free ports, beside the stack the other tests use): a second `up` reuses the
// running servers, `status` reports them, and `down` leaves no process and no open port behind.
func TestStackScriptsAreIdempotentAndLeaveNoProcess(t *testing.T) {
	dir := privateStackDir(t)
	ports := freePorts(t, 5)
	env := append(os.Environ(),
		"CDCD_STACK_DIR="+dir,
		"CDCD_PG_PORT="+strconv.Itoa(ports[0]),
		"CDCD_MARIADB_PORT="+strconv.Itoa(ports[1]),
		"CDCD_KAFKA_PORT="+strconv.Itoa(ports[2]),
		"CDCD_KAFKA_CONTROLLER_PORT="+strconv.Itoa(ports[3]),
		"CDCD_KAFKA_SASL_PORT="+strconv.Itoa(ports[4]),
		"CDCD_KAFKA_HEAP=-Xms256m -Xmx512m",
	)
	// Not t.Context(): that is cancelled before the cleanup below runs its down.
	stack := func(command string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "../deploy/dev/stack.sh", command)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		t.Logf("stack.sh %s:\n%s", command, out.String())
		return out.String(), err
	}
	t.Cleanup(func() {
		// Stop whatever a failed step left running, so no test run leaks servers.
		_, _ = stack("down")
	})

	if _, err := stack("up"); err != nil {
		t.Fatalf("stack.sh up: %v", err)
	}
	out, err := stack("up")
	if err != nil {
		t.Fatalf("second stack.sh up: %v", err)
	}
	for _, server := range []string{"postgres", "mariadb", "kafka"} {
		if !strings.Contains(out, "["+server+"] already running") {
			t.Errorf("second up did not reuse the running %s", server)
		}
	}
	if _, err := stack("status"); err != nil {
		t.Errorf("stack.sh status with every server up: %v", err)
	}

	if _, err := stack("down"); err != nil {
		t.Fatalf("stack.sh down: %v", err)
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("processes left after down: %s", strings.Join(left, "; "))
	}
	for _, port := range ports {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			_ = conn.Close()
			t.Errorf("port %d still accepts connections after down", port)
		}
	}
	_, err = stack("status")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("stack.sh status after down: err = %v, want exit status 3", err)
	}
}

// privateStackDir returns a fresh folder the postgres user can reach: PostgreSQL runs as postgres
// when the tests run as root, and test temp folders are private to their owner.
func privateStackDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("opening %s to the postgres user: %v", d, err)
		}
	}
	return filepath.Join(dir, "stack")
}

// freePorts returns n TCP ports on 127.0.0.1 that were free a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		defer func() { _ = l.Close() }()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// processesMentioning lists the live processes whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatalf("listing processes: %v", err)
	}
	var found []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(cmdline) == 0 {
			continue // gone meanwhile, or a zombie, which has exited
		}
		line := string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		if strings.Contains(line, s) {
			found = append(found, fmt.Sprintf("pid %d: %s", pid, line))
		}
	}
	return found
}
