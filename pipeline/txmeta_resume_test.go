package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/transform"
)

// eventRecorder is a TransactionEncoder that keeps the transaction events it encodes.
type eventRecorder struct {
	events []format.TransactionEvent
}

func (e *eventRecorder) EncodeRecord(context.Context, *transform.Record) (string, []byte, []byte, error) {
	return "t", nil, nil, nil
}

func (e *eventRecorder) EncodeRecordInTransaction(context.Context, *transform.Record, *format.TransactionBlock) (string, []byte, []byte, error) {
	return "t", nil, nil, nil
}

func (e *eventRecorder) EncodeTransactionEvent(_ context.Context, ev *format.TransactionEvent) (string, []byte, []byte, error) {
	e.events = append(e.events, *ev)
	return "tx", nil, nil, nil
}

// TestTxMetaEndsAResumedTransactionWithNoChangeLeft checks the case of a Kafka transaction cut
// right after a source transaction's last change, then a failure before its commit: the next
// run resumes with every change skipped, and only the Begin's id can name the END.
func TestTxMetaEndsAResumedTransactionWithNoChangeLeft(t *testing.T) {
	enc := &eventRecorder{}
	m := newTxMeta(enc)
	commit := time.Unix(1700000000, 0).UTC()
	m.begin(3, "741:5368709120", commit)
	_, _, _, ok, err := m.endRecord(t.Context())
	if err != nil || !ok {
		t.Fatalf("endRecord = %t, %v: want the END written", ok, err)
	}
	got := enc.events[0]
	if got.Status != format.TransactionEnd || got.ID != "741:5368709120" || got.EventCount != 3 ||
		!got.Time.Equal(commit) || got.DataCollections != nil {
		t.Fatalf("END = %+v, want id 741:5368709120, 3 events, the commit time, collections unknown", got)
	}

	// A source that names no transaction at its Begin: nothing to name the END with.
	m.begin(3, "", time.Time{})
	if _, _, _, ok, err := m.endRecord(t.Context()); ok || err != nil {
		t.Fatalf("endRecord without an id = %t, %v: want none", ok, err)
	}
}
