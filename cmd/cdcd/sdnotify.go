package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// sdNotify sends state ("READY=1", "STOPPING=1", "STATUS=...", newline-separated) to the
// service manager, as sd_notify(3) does: one datagram to the unix socket named by
// $NOTIFY_SOCKET ("@name" for Linux's abstract namespace). Without $NOTIFY_SOCKET (not run by
// systemd as Type=notify) it does nothing and returns nil.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:]
	} else if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET %q is neither a path nor an abstract name", path)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// readyChecker is what notifyWhenReady asks: the worker's Ready.
type readyChecker interface {
	Ready(ctx context.Context) error
}

// readyPoll is how often notifyWhenReady asks whether the daemon is ready.
const readyPoll = time.Second

// notifyWhenReady tells the service manager READY=1 once r is ready (the connectors'
// configurations loaded and a Kafka broker answering, as GET /readyz), and meanwhile says in
// STATUS= why it is not; then, when ctx ends, STOPPING=1. It returns when ctx ends.
func notifyWhenReady(ctx context.Context, r readyChecker, log zerolog.Logger) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	last := ""
	for {
		err := r.Ready(ctx)
		if ctx.Err() != nil {
			break
		}
		if err == nil {
			if err := sdNotify("READY=1\nSTATUS=ready: connectors restored, Kafka answering"); err != nil {
				log.Warn().Err(err).Msg("telling systemd cdcd is ready")
			}
			break
		}
		if status := "STATUS=not ready: " + err.Error(); status != last {
			last = status
			_ = sdNotify(status)
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	<-ctx.Done()
	_ = sdNotify("STOPPING=1\nSTATUS=stopping")
}
