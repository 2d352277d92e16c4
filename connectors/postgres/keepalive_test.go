package postgres

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
)

// statusRecorder stands for the replication connection: it keeps each standby status sent.
type statusRecorder struct{ msgs [][]byte }

func (r *statusRecorder) SendUnbufferedEncodedCopyData(msg []byte) error {
	r.msgs = append(r.msgs, append([]byte(nil), msg...))
	return nil
}

// fakeClock moves on by step at each reading, so that the time a replay takes is the number
// of times the streamer looked at the clock.
type fakeClock struct {
	t     time.Time
	step  time.Duration
	reads int
}

func (c *fakeClock) now() time.Time {
	c.reads++
	c.t = c.t.Add(c.step)
	return c.t
}

// A replay of a streamed transaction longer than the status interval, whether its changes are
// all skipped by a resume or delivered to a pipeline that keeps up, sends standby statuses at
// the interval, carrying the acknowledged LSN, and reads the clock only every few hundred
// changes. Without them the server's wal_sender_timeout ends the connection mid-replay, and
// every later Stream replays the same transaction and fails again.
func TestReplayKeepsConnectionAlive(t *testing.T) {
	const (
		rows     = 20000
		interval = 10 * time.Second
		step     = time.Second
		acked    = pglogrepl.LSN(0x180)
	)
	for _, tc := range []struct {
		name  string
		skip  int64
		lines int
	}{
		{"all changes skipped", rows, 2},
		{"all changes delivered", 0, rows + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, position{lsn: 0x100, tx: 0x900000, skip: tc.skip}, spillBufferSize)
			src := newTestSource()
			src.cfg.StatusInterval = interval
			if err := src.Ack(position{lsn: acked}.encode()); err != nil {
				t.Fatal(err)
			}
			rec := &statusRecorder{}
			clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), step: step}
			st := newStreamer(src, nil, rec, g.r, nil)
			st.now = clock.now
			st.nextStatus = st.now().Add(interval)
			start := clock.t

			g.mustFeed(streamStart(100, true), relMsg(100, 2))
			for i := range rows {
				g.mustFeed(insMsg(100, i, 2, "a"))
			}
			g.mustFeed(streamStop(), streamCommit(100, 0x900000, 0x900010))

			if len(g.lines) != tc.lines {
				t.Fatalf("%d events, want %d", len(g.lines), tc.lines)
			}
			if reads := clock.reads - 1; reads == 0 || reads > rows/keepAliveCheckEvery+1 {
				t.Errorf("clock read %d times for %d changes, want between 1 and %d", reads, rows, rows/keepAliveCheckEvery+1)
			}
			elapsed := clock.t.Sub(start)
			if want := int(elapsed/interval) - 1; len(rec.msgs) < want || want < 5 {
				t.Fatalf("%d standby statuses over a replay of %s, want at least %d (and the test at least 5)",
					len(rec.msgs), elapsed, want)
			}
			prev := start
			for i, m := range rec.msgs {
				if len(m) != standbyStatusLen || m[5] != pglogrepl.StandbyStatusUpdateByteID {
					t.Fatalf("status %d = %x, not a standby status update", i, m)
				}
				for _, off := range []int{6, 14, 22} {
					if got := pglogrepl.LSN(binary.BigEndian.Uint64(m[off:])); got != acked {
						t.Errorf("status %d reports %s at byte %d, want the acknowledged %s", i, got, off, acked)
					}
				}
				sentAt := pgEpoch.Add(time.Duration(binary.BigEndian.Uint64(m[30:])) * time.Microsecond)
				if gap := sentAt.Sub(prev); gap > interval+step {
					t.Errorf("status %d sent %s after the previous one, want at most %s", i, gap, interval+step)
				}
				prev = sentAt
			}
		})
	}
}
