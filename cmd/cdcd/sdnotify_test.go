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

// flipReady is not ready for its first calls, then ready.
type flipReady struct{ calls atomic.Int32 }

func (f *flipReady) Ready(context.Context) error {
	if f.calls.Add(1) < 3 {
		return errors.New("no Kafka broker answers")
	}
	return nil
}

// notifyWhenReady says why it is not ready, then READY=1 once it is, and STOPPING=1 when told
// to stop.
func TestNotifyWhenReady(t *testing.T) {
	conn := notifySocket(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		notifyWhenReady(ctx, &flipReady{}, zerolog.Nop())
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
