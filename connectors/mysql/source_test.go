package mysql

import (
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// TestSourceInfo checks the MySQL source block: valid, its values read back, and the
// transaction id derived from a change: its GTID, else "<file>:<pos>".
func TestSourceInfo(t *testing.T) {
	if err := SourceBlock.Check(); err != nil {
		t.Fatal(err)
	}
	commit := time.Unix(1700000000, 0)
	s := NewSourceInfo(commit, decoder.SnapshotFalse, "binlog.000003", 7758, "0-1-42", 7, 2)
	if s.Block != SourceBlock || SourceFile(&s) != "binlog.000003" || SourcePos(&s) != 7758 || SourceGTID(&s) != "0-1-42" ||
		SourceServerID(&s) != 7 || SourceRow(&s) != 2 || !s.CommitTime.Equal(commit) {
		t.Errorf("source info %+v", s)
	}
	for _, tt := range []struct {
		s    decoder.SourceInfo
		want string
	}{
		{s, "0-1-42"},
		{NewSourceInfo(commit, decoder.SnapshotFalse, "binlog.000003", 7758, "", 7, 2), "binlog.000003:7758"},
		{NewSourceInfo(commit, decoder.SnapshotFalse, "", 0, "", 0, 0), "0:0"},
	} {
		if id := SourceBlock.TransactionID(&tt.s); id != tt.want {
			t.Errorf("transaction id %q, want %q", id, tt.want)
		}
	}
}
