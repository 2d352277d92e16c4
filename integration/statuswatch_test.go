package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair with the kernel's /dev/ptmx: the master, which the test
// reads, and the slave, a terminal for a process's output.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening /dev/ptmx: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlocking the pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("reading the pty's number: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pty's slave: %v", err)
	}
	return m, s
}

// TestStatusWatchDuringSnapshot runs `cdcd status --watch` in a pseudo-terminal while a daemon's
// new connector snapshots two tables, and reads the bars back from the terminal: each table's
// name, its percentage rising to 100; then `cdcd status` into a pipe prints plain lines.
func TestStatusWatchDuringSnapshot(t *testing.T) {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	for _, table := range []string{"big_a", "big_b"} {
		mustExec(t, conn, fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, v text NOT NULL);
			INSERT INTO %s SELECT i, md5(i::text) FROM generate_series(1, 60000) i; ANALYZE %s`, table, table, table))
	}
	d := StartDaemon(t)
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t)
	var mu sync.Mutex
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 8192)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	watch := exec.Command(bin, "status", "--watch", "--interval", "100ms", "--api", d.API)
	watch.Stdout, watch.Stderr = slave, slave
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = watch.Process.Signal(syscall.SIGINT)
		_ = watch.Wait()
		_ = slave.Close()
		_ = master.Close()
		<-read
	}
	t.Cleanup(stop)
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return screen.String()
	}

	name := Name(t, "st")
	cfg := PostgresAPIConfig(db, name, Name(t, "sp"), "public.big_a", "public.big_b")
	cfg["postgres.snapshot_chunk_rows"] = "500"
	d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": name, "config": cfg}, nil)
	WaitFor(t, 3*time.Minute, "both tables' bars at 100% on the terminal", func() error {
		if watch.ProcessState != nil {
			t.Fatalf("status --watch exited; the terminal shows:\n%s", text())
		}
		for _, table := range []string{"public.big_a", "public.big_b"} {
			if pcts := barPercentages(t, text(), table); len(pcts) == 0 || pcts[len(pcts)-1] != 100 {
				return fmt.Errorf("%s's bar: %v", table, pcts)
			}
		}
		return nil
	})
	stop()
	out := text()
	for _, table := range []string{"public.big_a", "public.big_b"} {
		pcts := barPercentages(t, out, table)
		t.Logf("%s's bar: %v", table, pcts)
		if pcts[0] >= 100 {
			t.Errorf("%s's bar was at 100%% when first drawn: the test saw no snapshot in progress", table)
		}
		for i := 1; i < len(pcts); i++ {
			if pcts[i] < pcts[i-1] {
				t.Errorf("%s's bar went down: %v", table, pcts)
			}
		}
	}
	if !strings.Contains(out, name) || !strings.Contains(out, "RUNNING") || !strings.Contains(out, "\x1b[J") {
		t.Errorf("the terminal does not show the connector RUNNING, redrawn in place:\n%q", out)
	}

	plain, err := exec.Command(bin, "status", "--api", d.API).Output()
	if err != nil {
		t.Fatalf("status into a pipe: %v", err)
	}
	if bytes.Contains(plain, []byte("\x1b")) || !bytes.Contains(plain, []byte("connector="+name+" state=RUNNING lag_ms=")) {
		t.Errorf("status into a pipe printed %q, want plain lines", plain)
	}
}

// barPercentages returns the percentages of table's bar, in the order drawn.
func barPercentages(t *testing.T, out, table string) []int {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(table) + ` +\[[#-]+\] +(\d+)%`)
	var pcts []int
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		pcts = append(pcts, n)
	}
	return pcts
}
