package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
)

// historyEntry is one record of a fakeHistory.
type historyEntry struct {
	offset     int64
	key, value string
}

// fakeHistory is a HistoryReader over fixed records of any topic, or failing with err.
type fakeHistory struct {
	entries []historyEntry
	err     error
}

func (f fakeHistory) ReadHistory(_ context.Context, _ string, fn func(offset int64, key, value []byte) error) error {
	for _, e := range f.entries {
		if err := fn(e.offset, []byte(e.key), []byte(e.value)); err != nil {
			return err
		}
	}
	return f.err
}

func TestReadHistoryKeepsTheConnectorsRecords(t *testing.T) {
	m := testModel()
	mine, err := encodeHistory("h", "conn", snapshotRecord(m, startPos(t), time.UnixMilli(1)))
	if err != nil {
		t.Fatal(err)
	}
	r := fakeHistory{entries: []historyEntry{
		{0, "other", "not even JSON: another connector's record is not read"},
		{1, "conn", string(mine.Value)},
		{2, "conn", string(mine.Value)},
	}}
	recs, err := readHistory(t.Context(), r, "h", "conn")
	if err != nil || len(recs) != 2 || recs[0].Kind != historySnapshot || recs[1].pos.String() != startPos(t).String() {
		t.Fatalf("readHistory = %d records, %v; want the connector's 2 snapshots", len(recs), err)
	}
}

func TestReadHistoryErrors(t *testing.T) {
	// A record that cannot be decoded is corrupt history, named by its offset.
	r := fakeHistory{entries: []historyEntry{{7, "conn", "{}"}}, err: errors.New("not reached")}
	_, err := readHistory(t.Context(), r, "h", "conn")
	if !errors.Is(err, ErrHistoryCorrupt) || !strings.HasPrefix(err.Error(), "topic h offset 7: ") {
		t.Errorf("corrupt record: %v, want ErrHistoryCorrupt naming topic h offset 7", err)
	}
	// The reader's own errors keep their cause and name the source.
	cause := errors.New("listing the end of the schema history topic h: broker gone")
	_, err = readHistory(t.Context(), fakeHistory{err: cause}, "h", "conn")
	if !errors.Is(err, cause) || err.Error() != "mysql source: "+cause.Error() {
		t.Errorf("reader error: %v", err)
	}
}

func TestTopicsDeclareHistoryAndHeartbeats(t *testing.T) {
	// The history: one partition, never deleted; the heartbeats' only with heartbeats on.
	history := connectors.TopicSpec{Name: "conn.schema-history", Purpose: "schema history", Partitions: 1,
		Cleanup: connectors.CleanupDelete, KeepForever: true}
	cfg := Config{Name: "conn", TopicPrefix: "shop"}.withDefaults()
	if got := (&Source{cfg: cfg}).Topics(); len(got) != 1 || got[0] != history {
		t.Errorf("Topics() = %+v, want only %+v", got, history)
	}
	cfg.HeartbeatInterval = time.Second
	cfg = cfg.withDefaults()
	beats := connectors.TopicSpec{Name: "__debezium-heartbeat.shop", Purpose: "heartbeat", Partitions: 1}
	if got := (&Source{cfg: cfg}).Topics(); len(got) != 2 || got[0] != history || got[1] != beats {
		t.Errorf("Topics() with heartbeats = %+v, want %+v and %+v", got, history, beats)
	}
}
