package pipeline

import (
	"context"
	"strconv"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
)

func TestEncodeStageReleasesWhatItEncoded(t *testing.T) {
	s := newTestStage(t, &valueEncoder{size: 10}, DefaultEncodeQueueEvents, DefaultEncodeQueueBytes)
	q := connectors.NewQueue(100, 1<<20)
	for i := range 50 {
		if !q.TrySend(blob(int64(i), 500)) {
			t.Fatalf("event %d refused", i)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); s.run(ctx, q) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, "the encode stage to release every event", func() bool { return q.Bytes() == 0 })
	var keys []string
	for len(keys) < 50 {
		b, ks := takeBatch(t, s)
		keys = append(keys, ks...)
		s.giveBack(b)
	}
	for i, k := range keys {
		if k != strconv.Itoa(i) {
			t.Fatalf("record %d has key %s", i, k)
		}
	}
}

// blob returns a change whose one value holds n bytes.
func blob(id int64, n int) connectors.Event {
	return connectors.Event{Kind: connectors.EventChange, Change: &decoder.Change{Op: decoder.OpCreate, Table: stageTable,
		After: []decoder.Value{{State: decoder.ValueSet, Int: id, Bytes: make([]byte, n)}}}}
}
