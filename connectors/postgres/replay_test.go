package postgres

import (
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
)

func TestAckWindowReleasesOnlyWhatIsOlderThanTheWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := &ackWindow{span: time.Minute}
	w.add(100, t0)
	w.add(150, t0.Add(500*time.Millisecond)) // coalesced with the first
	w.add(200, t0.Add(30*time.Second))
	w.add(300, t0.Add(90*time.Second))
	for _, tc := range []struct {
		at   time.Duration
		want pglogrepl.LSN
	}{
		{59 * time.Second, 0},
		{60 * time.Second, 150},
		{89 * time.Second, 150},
		{90 * time.Second, 200},
		{10 * time.Minute, 300},
		{5 * time.Minute, 300}, // never back
	} {
		if got := w.releasable(t0.Add(tc.at)); got != tc.want {
			t.Errorf("at +%s: releasable %s, want %s", tc.at, got, tc.want)
		}
	}
	if len(w.entries) != 0 {
		t.Errorf("%d entries left after all were released", len(w.entries))
	}
}

func TestFlushLSNWithoutWindowIsTheAck(t *testing.T) {
	s := &Source{}
	s.acked.Store(42)
	if got := s.flushLSN(time.Now()); got != 42 {
		t.Errorf("flushLSN = %s, want the acked 0/2A", got)
	}
}
