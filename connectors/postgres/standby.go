package postgres

import (
	"encoding/binary"
	"time"

	"github.com/jackc/pglogrepl"
)

// standbyStatusLen is the length of a whole standby status update as sent: CopyData's type
// byte and length, then 'r', write, flush and apply LSNs, the client's clock and the reply flag.
const standbyStatusLen = 1 + 4 + 1 + 8 + 8 + 8 + 8 + 1

// pgEpoch is PostgreSQL's time origin, 2000-01-01 UTC.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// appendStandbyStatus appends a CopyData message carrying a standby status update whose write,
// flush and apply positions are all acked. It is built here, not with pglogrepl's helper, which
// would replace a zero flush or apply position with the write position: every field is set on
// purpose, and a zero says "nothing confirmed", which the server ignores.
func appendStandbyStatus(buf []byte, acked pglogrepl.LSN, now time.Time) []byte {
	buf = append(buf, 'd')
	buf = binary.BigEndian.AppendUint32(buf, standbyStatusLen-1)
	buf = append(buf, pglogrepl.StandbyStatusUpdateByteID)
	buf = binary.BigEndian.AppendUint64(buf, uint64(acked)) // written
	buf = binary.BigEndian.AppendUint64(buf, uint64(acked)) // flushed: what the slot may release
	buf = binary.BigEndian.AppendUint64(buf, uint64(acked)) // applied
	buf = binary.BigEndian.AppendUint64(buf, uint64(now.Sub(pgEpoch).Microseconds()))
	// Never ask for a reply: the server's keepalives come anyway.
	return append(buf, 0)
}
