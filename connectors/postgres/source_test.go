package postgres

import (
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// TestSourceInfo checks the PostgreSQL source block: valid, its values read back, and the
// transaction id "<xid>:<lsn>" derived from a change.
func TestSourceInfo(t *testing.T) {
	if err := SourceBlock.Check(); err != nil {
		t.Fatal(err)
	}
	commit := time.Unix(1700000000, 0)
	s := NewSourceInfo(commit, decoder.SnapshotLast, 741, 0x16B3748)
	if s.Block != SourceBlock || SourceTxID(&s) != 741 || SourceLSN(&s) != 0x16B3748 || !s.CommitTime.Equal(commit) || s.Snapshot != decoder.SnapshotLast {
		t.Errorf("source info %+v", s)
	}
	if id := SourceBlock.TransactionID(&s); id != "741:23803720" {
		t.Errorf("transaction id %q", id)
	}
}
