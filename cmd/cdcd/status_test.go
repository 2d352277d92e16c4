package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cdcd-dev/cdcd/api"
)

// fakeSnapshotDaemon serves /metrics and /connectors/inventory/status as a daemon does while
// the connector snapshots two tables: each status request reads 25 more rows of each table's
// 100, and a table is done at 100.
func fakeSnapshotDaemon(t *testing.T) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	looks := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n := looks
		mu.Unlock()
		fmt.Fprintf(w, `# HELP cdcd_connector_state 1 for the connector's current state, 0 for the others.
# TYPE cdcd_connector_state gauge
cdcd_connector_state{connector="inventory",state="PAUSED"} 0
cdcd_connector_state{connector="inventory",state="RUNNING"} 1
cdcd_connector_lag_seconds{connector="inventory"} 1.25
cdcd_connector_uncommitted_lag_seconds{connector="inventory"} 0
cdcd_connector_source_backlog_bytes{connector="inventory"} 3.145728e+06
cdcd_connector_records_total{connector="inventory"} %d
go_goroutines 12
`, 1000*n)
	})
	mux.HandleFunc("GET /connectors/inventory/status", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		looks++
		rows := int64(min(25*looks, 100))
		mu.Unlock()
		st := api.ConnectorStatus{Name: "inventory", Connector: api.ConnectorState{State: api.StateRunning}}
		for _, table := range []string{"public.orders", "public.customers"} {
			st.Snapshot = append(st.Snapshot, api.TableProgress{Table: table, Rows: rows, EstimatedTotal: 100,
				RowsPerSecond: 25, Done: rows == 100})
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// openPTY opens a pseudo-terminal pair with the kernel's /dev/ptmx: the master, which the test
// reads, and the slave, a terminal for the command's output.
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

// TestStatusWatchDrawsBarsOnATerminal runs `cdcd status --watch` with a pseudo-terminal as its
// output during a snapshot: it redraws in place (cursor moves), and each table's bar rises to
// 100%.
func TestStatusWatchDrawsBarsOnATerminal(t *testing.T) {
	srv := fakeSnapshotDaemon(t)
	master, slave := openPTY(t)
	var mu sync.Mutex
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
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
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		cmd := newRootCommand()
		cmd.SetArgs([]string{"status", "--watch", "--interval", "20ms", "--api", srv.URL})
		cmd.SetOut(slave)
		done <- cmd.ExecuteContext(ctx)
	}()
	text := func() string {
		mu.Lock()
		defer mu.Unlock()
		return screen.String()
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(text(), "public.orders") || strings.Count(text(), "100%") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no bar at 100%% for both tables after a minute; the terminal shows:\n%q", text())
		}
		time.Sleep(10 * time.Millisecond) // spaces the looks at the screen
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("status --watch: %v", err)
	}
	_ = slave.Close()
	_ = master.Close()
	<-read
	out := text()
	if !strings.Contains(out, "\x1b[J") || !strings.Contains(out, "F\x1b[J") {
		t.Errorf("no redraw in place (cursor up, clear) in %q", out)
	}
	for _, table := range []string{"public.orders", "public.customers"} {
		pcts := percentages(t, out, table)
		if len(pcts) < 2 || pcts[len(pcts)-1] != 100 || pcts[0] >= 100 {
			t.Errorf("%s's bar went %v, want rising to 100", table, pcts)
		}
		for i := 1; i < len(pcts); i++ {
			if pcts[i] < pcts[i-1] {
				t.Errorf("%s's bar went down: %v", table, pcts)
			}
		}
	}
	for _, want := range []string{"inventory", "RUNNING", "1250 ms", "3.0 MiB", "[###", "rows/s", "left"} {
		if !strings.Contains(out, want) {
			t.Errorf("the terminal does not show %q:\n%s", want, out)
		}
	}
}

// percentages returns the percentages of table's bar, in the order drawn.
func percentages(t *testing.T, out, table string) []int {
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

// TestStatusPlainLinesWithoutATerminal runs `cdcd status` into a buffer: plain lines, one per
// connector and one per snapshot table, and no terminal control sequence.
func TestStatusPlainLinesWithoutATerminal(t *testing.T) {
	srv := fakeSnapshotDaemon(t)
	var out bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs([]string{"status", "--api", srv.URL})
	cmd.SetOut(&out)
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("status: %v", err)
	}
	got := out.String()
	if strings.Contains(got, "\x1b") {
		t.Errorf("terminal control sequences in plain output %q", got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3 (the connector, its two tables):\n%s", len(lines), got)
	}
	for i, want := range []string{
		"connector=inventory state=RUNNING lag_ms=1250 uncommitted_lag_ms=0 retained_bytes=3145728 events_per_second=-",
		"connector=inventory table=public.customers rows=25 estimated=100 percent=25 rows_per_second=25 left=3s",
		"connector=inventory table=public.orders rows=25 estimated=100 percent=25 rows_per_second=25 left=3s",
	} {
		if !strings.HasSuffix(lines[i], want) {
			t.Errorf("line %d %q, want it to end with %q", i, lines[i], want)
		}
	}
}

// TestStatusWatchFailsWithoutADaemon: plain output has nobody to show an error in place to.
func TestStatusWatchFailsWithoutADaemon(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	cmd := newRootCommand()
	cmd.SetArgs([]string{"status", "--watch", "--api", srv.URL})
	cmd.SetOut(&bytes.Buffer{})
	err := cmd.ExecuteContext(t.Context())
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("status --watch without a daemon = %v, want an error", err)
	}
}
