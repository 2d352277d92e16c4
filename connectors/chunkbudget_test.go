package connectors

import (
	"errors"
	"testing"
)

func TestCheckChunkBytes(t *testing.T) {
	for _, tt := range []struct {
		budget int64
		ok     bool
	}{
		{DefaultSnapshotChunkBytes, true},
		{MinSnapshotChunkBytes, true},
		{MaxSnapshotChunkBytes, true},
		{MinSnapshotChunkBytes - 1, false},
		{MaxSnapshotChunkBytes + 1, false},
		{0, false},
		{-1, false},
	} {
		err := CheckChunkBytes("postgres", "snapshot chunk bytes", tt.budget)
		var ce *ConfigError
		switch {
		case tt.ok && err != nil:
			t.Errorf("CheckChunkBytes(%d) = %v, want nil", tt.budget, err)
		case !tt.ok && (!errors.As(err, &ce) || ce.Field != "snapshot chunk bytes"):
			t.Errorf("CheckChunkBytes(%d) = %v, want a ConfigError on the field", tt.budget, err)
		}
	}
}
