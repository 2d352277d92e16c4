package worker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/api"
)

// TestRestoreAfterEveryRecordIsGone: a config topic whose records are all gone (its tombstones
// compacted away, or deleted by hand) restores no connector, at once: the read stops at the log
// start instead of waiting for records below it that will never come.
func TestRestoreAfterEveryRecordIsGone(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	m := newManager(ctx, t, kafka, newFakeFactory())
	mustPut(ctx, t, m, "a", fakeConfig("pa"))
	if _, err := m.DeleteConnector(ctx, "a", api.DeleteKeep); err != nil {
		t.Fatal(err)
	}
	m.Close()

	cl, err := kgo.NewClient(kafka...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, DefaultConfigTopic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(DefaultConfigTopic, 0)
	if end.Offset != 2 {
		t.Fatalf("config topic end %d, want 2 (a's record and its tombstone)", end.Offset)
	}
	var o kadm.Offsets
	o.Add(kadm.Offset{Topic: DefaultConfigTopic, Partition: 0, At: end.Offset})
	resp, err := adm.DeleteRecords(ctx, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("deleting the config topic's records: %v", err)
	}

	m2 := newManager(ctx, t, kafka, newFakeFactory())
	if names, err := m2.Connectors(ctx); err != nil || len(names) != 0 {
		t.Fatalf("Connectors = %v, %v; want none", names, err)
	}
}
