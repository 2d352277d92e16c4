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
