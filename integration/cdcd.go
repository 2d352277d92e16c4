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
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildOnce builds the cdcd binary once per test process, with the race detector so that the
// end-to-end runs also look for data races.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := binaryDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cdcd")
	cmd := exec.Command("go", "build", "-race", "-o", bin, "../cmd/cdcd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/cdcd: %w\n%s", err, out)
	}
	return bin, nil
})

// binaryDirs are the folders of the binaries this test process built, removed by TestMain
// when the tests end: at 80 MB each, left behind they fill a disk within a few hundred runs.
var binaryDirs struct {
	sync.Mutex
	dirs []string
}

// binaryDir makes a folder for a binary the tests build, removed when the tests end.
func binaryDir() (string, error) {
	dir, err := os.MkdirTemp("", "cdcd-bin-")
	if err != nil {
		return "", err
	}
	binaryDirs.Lock()
	binaryDirs.dirs = append(binaryDirs.dirs, dir)
	binaryDirs.Unlock()
	return dir, nil
}

// removeBinaries removes the folders of the binaries built (see binaryDir).
func removeBinaries() {
	binaryDirs.Lock()
	defer binaryDirs.Unlock()
	for _, dir := range binaryDirs.dirs {
		_ = os.RemoveAll(dir)
	}
	binaryDirs.dirs = nil
}

// CDCD is a cdcd process started by a test, killed when the test ends.
type CDCD struct {
	t       testing.TB
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// StartCDCD writes config to a file and runs `cdcd run --config` on it. Its output goes to a log
// file that the test prints when it fails.
func StartCDCD(t testing.TB, config string) *CDCD {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatalf("building cdcd: %v", err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cdcd.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatalf("writing the config: %v", err)
	}
	return startCDCD(t, bin, filepath.Join(dir, "cdcd.log"), "run", "--config", cfgPath)
}

func startCDCD(t testing.TB, bin, logPath string, args ...string) *CDCD {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("opening the cdcd log: %v", err)
	}
	defer func() { _ = logFile.Close() }()
	fmt.Fprintf(logFile, "--- %s: cdcd %v\n", time.Now().Format(time.RFC3339Nano), args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting cdcd: %v", err)
	}
	p := &CDCD{t: t, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		// How it ended, after its own output: a process killed by a signal (the OOM killer, a
		// stray kill) writes nothing itself, and its log would otherwise read as empty.
		if f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			fmt.Fprintf(f, "--- %s: cdcd exited: %s\n", time.Now().Format(time.RFC3339Nano), cmd.ProcessState)
			_ = f.Close()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("cdcd log (%s):\n%s", logPath, p.Logs())
		}
	})
	return p
}

// Restart starts the same binary with the same arguments and log file, after the process has
// ended.
func (p *CDCD) Restart() *CDCD {
	p.t.Helper()
	<-p.done
	return startCDCD(p.t, p.cmd.Path, p.logPath, p.cmd.Args[1:]...)
}

// Kill sends SIGKILL and waits for the process to end.
func (p *CDCD) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for the process to end; it returns the exit code,
// or fails the test if the process did not end in time.
func (p *CDCD) Stop(timeout time.Duration) int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	return p.Wait(timeout)
}

// Wait waits up to timeout for the process to end by itself and returns its exit code.
func (p *CDCD) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("cdcd did not exit within %s; log:\n%s", timeout, p.Logs())
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		p.t.Fatalf("waiting for cdcd: %v", p.err)
	}
	return 0
}

// Exited tells whether the process has ended.
func (p *CDCD) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Pid is the process id.
func (p *CDCD) Pid() int { return p.cmd.Process.Pid }

// Logs returns everything the process (and its earlier runs, after Restart) wrote.
func (p *CDCD) Logs() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	return string(b)
}

// LogsContain tells whether the log holds s.
func (p *CDCD) LogsContain(s string) bool {
	b, _ := os.ReadFile(p.logPath)
	return bytes.Contains(b, []byte(s))
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer func() { _ = l.Close() }()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// WaitForHTTP waits until url answers any HTTP status.
func WaitForHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, "HTTP at "+url, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return httpGet(ctx, url)
	})
}
