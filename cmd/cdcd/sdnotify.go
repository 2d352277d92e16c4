package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
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

// healthChecker is what notifyWhenReady asks: the worker's Ready and Live.
type healthChecker interface {
	Ready(ctx context.Context) error
	Live(ctx context.Context) error
}

// readyPoll is how often notifyWhenReady asks whether the daemon is ready.
const readyPoll = time.Second

// notifyWhenReady tells the service manager READY=1 once h is ready (the connectors'
// configurations loaded and a Kafka broker answering, as GET /readyz), and meanwhile says in
// STATUS= why it is not; then, when the service has a watchdog (WatchdogSec=, which sets
// $WATCHDOG_USEC), WATCHDOG=1 at half its interval while h is alive (as GET /healthz), so that
// systemd restarts a wedged cdcd as a kubelet's liveness probe would; then, when ctx ends,
// STOPPING=1. It returns when ctx ends.
func notifyWhenReady(ctx context.Context, h healthChecker, log zerolog.Logger) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	t := time.NewTicker(readyPoll)
	defer t.Stop()
	last := ""
	for {
		err := h.Ready(ctx)
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
	if every := watchdogInterval(); every > 0 && ctx.Err() == nil {
		feedWatchdog(ctx, h, every, log)
	}
	<-ctx.Done()
	_ = sdNotify("STOPPING=1\nSTATUS=stopping")
}

// watchdogInterval is half the service's watchdog timeout ($WATCHDOG_USEC, for this process
// when $WATCHDOG_PID says which), 0 without a watchdog.
func watchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0
	}
	return time.Duration(usec) * time.Microsecond / 2
}

// feedWatchdog sends WATCHDOG=1 every interval while h is alive, until ctx ends. While h is
// not, it sends nothing (and says why in STATUS=), so that systemd's watchdog fires.
func feedWatchdog(ctx context.Context, h healthChecker, every time.Duration, log zerolog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := h.Live(ctx); err == nil {
			_ = sdNotify("WATCHDOG=1")
		} else if ctx.Err() == nil {
			log.Error().Err(err).Msg("not alive: the systemd watchdog is not fed")
			_ = sdNotify("STATUS=not alive: " + err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
