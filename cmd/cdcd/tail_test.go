package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTailMissingTopic: tail on a topic Kafka does not have says so, with the close names, and
// fails, instead of waiting forever (or, under --timeout, exiting 0 as if it were empty).
func TestTailMissingTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(1, "demo.public.items", "demo.public.orders", "demo.transaction", "other.public.users"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	o := tailOptions{brokers: c.ListenAddrs(), registry: "http://127.0.0.1:1", timeout: 30 * time.Second}
	for _, tc := range []struct {
		topic string
		want  string
	}{
		{"demo.public.itms", `topic "demo.public.itms" does not exist; close names: demo.public.items`},
		{"items", `topic "items" does not exist; close names: demo.public.items`},
		{"demo_1765000000.public.items", "close names: demo.public.items"},
		{"zzz", `topic "zzz" does not exist, nor does one with a close name (4 topics`},
	} {
		var out bytes.Buffer
		err := tail(context.Background(), tc.topic, o, &out)
		if !errors.Is(err, ErrNoTopic) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tail %s: err = %v, want %q", tc.topic, err, tc.want)
		}
	}
	// A topic that exists, empty: tail waits for records until --timeout, then exits 0.
	o.timeout = time.Second
	if err := tail(context.Background(), "demo.public.items", o, &bytes.Buffer{}); err != nil {
		t.Errorf("tail of an existing empty topic: %v", err)
	}
}

func TestCloseNames(t *testing.T) {
	all := []string{"a.public.items", "a.public.item", "b.public.items", "_cdcd_offsets", "a.public.orders"}
	got := closeNames("a.public.itemz", all)
	if want := []string{"a.public.item", "a.public.items", "b.public.items"}; !slices.Equal(got, want) {
		t.Errorf("closeNames = %q, want %q", got, want)
	}
}

// TestTailSince: --since starts at the first record written at or after the time, so that a
// run's events are told from earlier runs' in the same topic (make demo).
func TestTailSince(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	base := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	for i := range 3 {
		r := &kgo.Record{Timestamp: base.Add(time.Duration(i) * time.Hour)}
		if err := cl.ProduceSync(t.Context(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	o := tailOptions{brokers: c.ListenAddrs(), registry: "http://127.0.0.1:1", since: "2026-01-02T15:30:00Z", max: 1, timeout: 60 * time.Second}
	if err := tail(t.Context(), "t", o, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"offset":1,`) {
		t.Errorf("tail --since 15:30 printed %q, want offset 1 (written at 16:00)", out.String())
	}
	for _, bad := range []tailOptions{{since: "yesterday"}, {since: "-5m"}, {since: "5m", fromBeginning: true}} {
		if _, err := tailStart(bad, time.Now()); err == nil {
			t.Errorf("tailStart(%+v) accepted", bad)
		}
	}
}
