package postgres

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
)

func TestAppendStandbyStatusBytes(t *testing.T) {
	// 2000-01-01 00:00:01.000002 UTC is 1000002 µs after PostgreSQL's epoch.
	now := time.Date(2000, 1, 1, 0, 0, 1, 2000, time.UTC)
	got := appendStandbyStatus(nil, pglogrepl.LSN(0x1_0000_00AB), now)
	want, _ := hex.DecodeString("64" + "00000026" + "72" +
		"00000001000000ab" + "00000001000000ab" + "00000001000000ab" +
		"00000000000f4242" + "00")
	if !bytes.Equal(got, want) {
		t.Errorf("standby status =\n%x, want\n%x", got, want)
	}
	if len(got) != standbyStatusLen {
		t.Errorf("length %d, want %d", len(got), standbyStatusLen)
	}
}

func TestAppendStandbyStatusZeroStaysZero(t *testing.T) {
	// Nothing acknowledged: flush and apply stay 0, which the server ignores, whatever the
	// write position would have been.
	got := appendStandbyStatus(make([]byte, 0, 64), 0, time.Now())
	if !bytes.Equal(got[6:30], make([]byte, 24)) {
		t.Errorf("write/flush/apply = %x, want all zero", got[6:30])
	}
	// The CopyData frame parses back as pgproto3 would: type, then length excluding the type.
	if got[0] != 'd' || int(got[1])<<24|int(got[2])<<16|int(got[3])<<8|int(got[4]) != len(got)-1 {
		t.Errorf("bad CopyData frame %x", got[:5])
	}
}
