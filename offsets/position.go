// Package offsets holds source positions and the encoding of their offset records: the record
// that the pipeline writes as the last record of every Kafka transaction, and reads back
// (read_committed, through kafkalog) to resume a connector exactly where its last committed
// transaction ended. It is pure code: sources import it, and know nothing of Kafka.
package offsets

import (
	"encoding/json"
	"fmt"
)

// Position is a point in a source's stream from which the source resumes exactly.
//
// Source is the source's own resume point, as JSON it alone interprets (for PostgreSQL LSNs, for
// MySQL a GTID set and binlog file/position). Skip counts the changes of the transaction that
// starts at Source that are already delivered: it is 0 at a transaction boundary, and above 0
// only when a Kafka transaction had to close inside one huge source transaction, so that the
// resumed stream skips exactly what was committed.
type Position struct {
	Source json.RawMessage `json:"source"`
	Skip   int64           `json:"skip,omitempty"`
}

// IsZero tells whether p is the zero Position: no stored offset, start as the source's
// snapshot mode says.
func (p Position) IsZero() bool { return len(p.Source) == 0 && p.Skip == 0 }

// String returns p for logs and errors.
func (p Position) String() string {
	if p.Skip == 0 {
		return string(p.Source)
	}
	return fmt.Sprintf("%s+%d", p.Source, p.Skip)
}
