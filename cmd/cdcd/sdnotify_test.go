package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// notifySocket listens on a unixgram socket and sets NOTIFY_SOCKET to it (name "@..." for the
// abstract namespace, else a path).
func notifySocket(t *testing.T, abstract bool) *net.UnixConn {
	t.Helper()
	var name, env string
	if abstract {
		name = "\x00cdcd-test-" + filepath.Base(t.TempDir())
		env = "@" + name[1:]
	} else {
		dir, err := os.MkdirTemp("", "sdn")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		name = filepath.Join(dir, "notify")
		env = name
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	t.Setenv("NOTIFY_SOCKET", env)
	return conn
}

// readDatagram reads one datagram, failing the test after a minute.
func readDatagram(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading the notification: %v", err)
	}
	return string(buf[:n])
}

func TestSDNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		conn := notifySocket(t, abstract)
		if err := sdNotify("READY=1"); err != nil {
			t.Fatalf("sdNotify (abstract %v): %v", abstract, err)
		}
		if got := readDatagram(t, conn); got != "READY=1" {
			t.Fatalf("datagram %q, want READY=1", got)
		}
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatalf("sdNotify without NOTIFY_SOCKET: %v, want nil (nothing to tell)", err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative/path")
	if err := sdNotify("READY=1"); err == nil {
		t.Fatal("sdNotify to a relative NOTIFY_SOCKET: nil, want an error")
	}
}

// fakeHealth is not ready for its first calls, then ready; alive until setDead.
type fakeHealth struct {
	calls     atomic.Int32
	dead      atomic.Bool
	deadCalls atomic.Int32
}

func (f *fakeHealth) Ready(context.Context) error {
	if f.calls.Add(1) < 3 {
		return errors.New("no Kafka broker answers")
	}
	return nil
}

func (f *fakeHealth) Live(context.Context) error {
	if f.dead.Load() {
		f.deadCalls.Add(1)
		return errors.New("the worker's heartbeat is 40s old")
	}
	return nil
}

// notifyWhenReady says why it is not ready, then READY=1 once it is, and STOPPING=1 when told
// to stop.
func TestNotifyWhenReady(t *testing.T) {
	conn := notifySocket(t, false)
	t.Setenv("WATCHDOG_USEC", "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		notifyWhenReady(ctx, &fakeHealth{}, zerolog.Nop())
	}()
	if got := readDatagram(t, conn); !strings.HasPrefix(got, "STATUS=not ready: no Kafka broker answers") {
		t.Fatalf("first notification %q, want the reason it is not ready", got)
	}
	if got := readDatagram(t, conn); !strings.HasPrefix(got, "READY=1\n") {
		t.Fatalf("notification %q, want READY=1", got)
	}
	cancel()
	if got := readDatagram(t, conn); !strings.HasPrefix(got, "STOPPING=1") {
		t.Fatalf("notification %q after the stop, want STOPPING=1", got)
	}
	<-done
}

// With a watchdog (WatchdogSec=), notifyWhenReady sends WATCHDOG=1 while alive and stops
// while not, so that systemd restarts a wedged cdcd.
func TestNotifyFeedsTheWatchdog(t *testing.T) {
	conn := notifySocket(t, false)
	t.Setenv("WATCHDOG_USEC", "100000") // every 50 ms
	t.Setenv("WATCHDOG_PID", "")
	h := &fakeHealth{}
	h.calls.Store(10) // ready at once
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		notifyWhenReady(ctx, h, zerolog.Nop())
	}()
	defer func() { cancel(); <-done }()
	if got := readDatagram(t, conn); !strings.HasPrefix(got, "READY=1") {
		t.Fatalf("notification %q, want READY=1", got)
	}
	for range 2 {
		if got := readDatagram(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("notification %q, want WATCHDOG=1", got)
		}
	}

	// Dead: once Live has failed, nothing but STATUS= is sent. A datagram is in the socket as
	// soon as it is sent, so what was sent before the first failing Live is drained first.
	h.dead.Store(true)
	waitCalls := func(n int32) {
		deadline := time.Now().Add(time.Minute)
		for h.deadCalls.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("Live called %d times while dead, want %d", h.deadCalls.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitCalls(1)
	drain := func() []string {
		var got []string
		buf := make([]byte, 4096)
		for {
			if err := conn.SetReadDeadline(time.Now()); err != nil {
				t.Fatal(err)
			}
			n, err := conn.Read(buf)
			if err != nil {
				return got
			}
			got = append(got, string(buf[:n]))
		}
	}
	drain()
	waitCalls(3)
	for _, n := range drain() {
		if !strings.HasPrefix(n, "STATUS=not alive: ") {
			t.Fatalf("notification %q while not alive, want only STATUS=not alive", n)
		}
	}
	h.dead.Store(false)
	deadline := time.Now().Add(time.Minute)
	for readDatagram(t, conn) != "WATCHDOG=1" {
		if time.Now().After(deadline) {
			t.Fatal("no WATCHDOG=1 once alive again")
		}
	}

	t.Setenv("WATCHDOG_PID", "1")
	if d := watchdogInterval(); d != 0 {
		t.Fatalf("watchdog of another process (WATCHDOG_PID=1): interval %s, want none", d)
	}
}
