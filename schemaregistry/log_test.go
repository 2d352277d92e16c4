package schemaregistry

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestOpenAfterEveryRecordIsGone: a schemas topic whose records are all gone (deleted by hand, or
// its tombstones compacted away) opens as an empty registry at once, instead of waiting for
// records below its end that will never come.
func TestOpenAfterEveryRecordIsGone(t *testing.T) {
	c := newCluster(t)
	r := openRegistry(t, c)
	newAPI(t, r).register("users-value", userV1)
	r.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, DefaultTopic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(DefaultTopic, 0)
	if end.Offset < 1 {
		t.Fatalf("schemas topic end %d, want the registration's records", end.Offset)
	}
	var o kadm.Offsets
	o.Add(kadm.Offset{Topic: DefaultTopic, Partition: 0, At: end.Offset})
	resp, err := adm.DeleteRecords(ctx, o)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("deleting the schemas topic's records: %v", err)
	}

	r2 := openRegistry(t, c)
	if names := r2.subjects(false); len(names) != 0 {
		t.Fatalf("subjects %v, want none", names)
	}
}
