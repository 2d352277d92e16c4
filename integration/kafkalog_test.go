package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/kafkalog"
)

// textCodec stores entries "key=value" as key and value; a tombstone is "key=".
type textCodec struct{}

func (textCodec) Encode(e [2]string) (key, value []byte, err error) {
	if e[1] == "" {
		return []byte(e[0]), nil, nil
	}
	return []byte(e[0]), []byte(e[1]), nil
}

func (textCodec) Decode(key, value []byte) ([2]string, error) {
	return [2]string{string(key), string(value)}, nil
}

// TestKafkaLog runs kafkalog on the stack's Kafka: the log creates its compacted topic, a
// transactional and an idempotent writer share it, a follower sees both, a reader reads to the
// stable end once another writer's open transaction is aborted, and a topic of another layout
// is refused when the log asks for its own.
func TestKafkaLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	kafka := []kgo.Opt{kgo.SeedBrokers(StackFromEnv().KafkaAddr)}
	topic := Name(t, "log")
	adm := kadm.NewClient(NewKafkaClient(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(ctx, topic); err != nil {
			t.Errorf("deleting topic %s: %v", topic, err)
		}
	})

	strict := kafkalog.CompactedTopic(topic)
	strict.Check = kafkalog.TopicMustMatch
	txn, err := kafkalog.Open(ctx, kafka, textCodec{}, kafkalog.Options{Topic: strict, TransactionalID: Name(t, "txn")})
	if err != nil {
		t.Fatalf("Open (transactional): %v", err)
	}
	defer txn.Close()
	idem, err := kafkalog.Open(ctx, kafka, textCodec{}, kafkalog.Options{Topic: strict})
	if err != nil {
		t.Fatalf("Open (idempotent): %v", err)
	}
	defer idem.Close()

	var (
		mu       sync.Mutex
		followed []string
		next     int64
	)
	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	followDone := make(chan error, 1)
	go func() {
		followDone <- idem.Follow(followCtx, func(entries []kafkalog.Entry[[2]string], n int64) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range entries {
				followed = append(followed, e.Value[0]+"="+e.Value[1])
			}
			next = n
		}, func(err error) { t.Logf("follower fetch error: %v", err) })
	}()

	if _, err := txn.Write(ctx, [2]string{"a", "1"}, [2]string{"b", "2"}); err != nil {
		t.Fatalf("transactional Write: %v", err)
	}
	if _, err := idem.Write(ctx, [2]string{"a", ""}); err != nil {
		t.Fatalf("idempotent Write: %v", err)
	}

	// Another writer's transaction open below the end holds readers back until it ends.
	other := NewKafkaClient(t, kgo.TransactionalID(Name(t, "other")))
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := other.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("c"), Value: []byte("aborted")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	last, err := txn.Write(ctx, [2]string{"b", "3"})
	if err != nil {
		t.Fatalf("transactional Write: %v", err)
	}
	waiting, cancelWait := context.WithTimeout(ctx, 2*time.Second)
	err = txn.ReadToEnd(waiting, func(kafkalog.Entry[[2]string]) error { return nil })
	cancelWait()
	if err == nil {
		t.Fatal("ReadToEnd returned with a transaction open below the end, want it to wait")
	}
	if err := other.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	var read []string
	if err := txn.ReadToEnd(ctx, func(e kafkalog.Entry[[2]string]) error {
		read = append(read, e.Value[0]+"="+e.Value[1])
		return nil
	}); err != nil {
		t.Fatalf("ReadToEnd: %v", err)
	}
	want := []string{"a=1", "b=2", "a=", "b=3"}
	if !slices.Equal(read, want) {
		t.Fatalf("read %q, want %q", read, want)
	}

	for {
		mu.Lock()
		n, got := next, slices.Clone(followed)
		mu.Unlock()
		if n >= last {
			if !slices.Equal(got, want) {
				t.Fatalf("followed %q, want %q", got, want)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the follower stayed at offset %d (read %q), want %d", n, got, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stopFollow()
	if err := <-followDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow ended with %v, want context.Canceled", err)
	}

	// A topic of three partitions is not a log's.
	wide := NewKafkaTopic(t, 3)
	strict.Name = wide
	l, err := kafkalog.Open(ctx, kafka, textCodec{}, kafkalog.Options{Topic: strict})
	if !errors.Is(err, kafkalog.ErrTopicMismatch) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Open on a topic of 3 partitions: %v, want ErrTopicMismatch", err)
	}
	t.Log(fmt.Sprint("refused as expected: ", err))
}
