package postgres

import (
	"errors"
	"sync"
	"testing"

	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/jackc/pglogrepl"
)

func newTestSource() *Source {
	return &Source{cfg: validConfig().withDefaults(), wake: make(chan struct{}, 1)}
}

func TestAckNeverMovesBack(t *testing.T) {
	s := newTestSource()
	for _, p := range []position{{lsn: 0x200}, {lsn: 0x100}, {lsn: 0x300, tx: 0x400, skip: 2}, {lsn: 0x250}} {
		if err := s.Ack(p.encode()); err != nil {
			t.Fatalf("Ack(%+v) = %v", p, err)
		}
	}
	// The Skip position acknowledges its lsn, not its transaction.
	if got := s.Acked(); got != 0x300 {
		t.Errorf("acked = %s, want 0/300", got)
	}
	select {
	case <-s.wake:
	default:
		t.Error("an Ack that moved the LSN did not wake the stream loop")
	}
}

func TestAckConcurrentKeepsTheMaximum(t *testing.T) {
	s := newTestSource()
	var wg sync.WaitGroup
	for i := 1; i <= 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Ack(position{lsn: pglogrepl.LSN(0x1000 * i)}.encode())
		}()
	}
	wg.Wait()
	if got := s.Acked(); got != 0x1000*50 {
		t.Errorf("acked = %s, want 0/32000", got)
	}
}

func TestAckRejectsBadPositionAndAfterFailure(t *testing.T) {
	s := newTestSource()
	if err := s.Ack(offsets.Position{Source: []byte(`{"lsn":"x"}`)}); !errors.Is(err, ErrBadPosition) {
		t.Errorf("Ack(bad) = %v, want ErrBadPosition", err)
	}
	s.failed.Store(true)
	if err := s.Ack(position{lsn: 0x10}.encode()); !errors.Is(err, ErrStreamFailed) {
		t.Errorf("Ack after failure = %v, want ErrStreamFailed", err)
	}
	if s.Acked() != 0 {
		t.Errorf("an Ack after failure was recorded: %s", s.Acked())
	}
}
