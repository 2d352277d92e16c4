package integration

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Forwarder is a TCP forwarder on a loopback port the test controls: open, it passes every
// connection to its target; closed, the port refuses connections and the open ones are cut, as
// when the server behind it goes down; hanging, it accepts connections and never answers, as a
// server that hangs.
type Forwarder struct {
	t      testing.TB
	Addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	hang  bool
	conns map[net.Conn]struct{}
	// held are the connections accepted while hanging.
	held map[net.Conn]struct{}
}

// Hang makes the forwarder hold the connections it accepts from now on, never answering.
func (f *Forwarder) Hang() {
	f.mu.Lock()
	f.hang = true
	f.mu.Unlock()
}

// Unhang makes the forwarder forward again, cutting the connections it held.
func (f *Forwarder) Unhang() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hang = false
	for c := range f.held {
		_ = c.Close()
		delete(f.held, c)
	}
}

// NewForwarder returns a closed forwarder to target on a free port; it is closed at the end of
// the test.
func NewForwarder(t testing.TB, target string) *Forwarder {
	t.Helper()
	f := &Forwarder{t: t, Addr: FreeAddr(t), target: target, conns: make(map[net.Conn]struct{}),
		held: make(map[net.Conn]struct{})}
	t.Cleanup(f.Close)
	return f
}

// Open listens on the forwarder's port and forwards what it accepts.
func (f *Forwarder) Open() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.Addr)
	if err != nil {
		f.t.Fatalf("forwarder: listening on %s: %v", f.Addr, err)
	}
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.forward(c)
		}
	}()
}

// forward pipes c to a new connection to the target until either side ends, or holds it
// while the forwarder hangs.
func (f *Forwarder) forward(c net.Conn) {
	f.mu.Lock()
	if f.hang {
		f.held[c] = struct{}{}
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	up, err := net.Dial("tcp", f.target)
	if err != nil {
		_ = c.Close()
		return
	}
	if !f.track(c, up) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	f.untrack(c, up)
}

// track records the connections of one forwarded session, or closes them when the forwarder
// was closed meanwhile (false then).
func (f *Forwarder) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln == nil {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *Forwarder) untrack(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
		delete(f.conns, c)
	}
}

// Close stops listening (the port refuses connections) and cuts the forwarded connections.
func (f *Forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		_ = f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		_ = c.Close()
		delete(f.conns, c)
	}
	for c := range f.held {
		_ = c.Close()
		delete(f.held, c)
	}
}
