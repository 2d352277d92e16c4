package kafkalog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/kafkalog"
)

// kv is the entry of the test codec: a key and its value, a tombstone when del is set.
type kv struct {
	key, value string
	del        bool
}

// kvCodec stores kv entries as they are; it skips keys starting with "other-" and refuses
// values starting with "bad".
type kvCodec struct{}

func (kvCodec) Encode(e kv) (key, value []byte, err error) {
	if e.key == "" {
		return nil, nil, errors.New("kvCodec: empty key")
	}
	if e.del {
		return []byte(e.key), nil, nil
	}
	return []byte(e.key), []byte(e.value), nil
}

func (kvCodec) Decode(key, value []byte) (kv, error) {
	k := string(key)
	switch {
	case strings.HasPrefix(k, "other-"):
		return kv{}, kafkalog.ErrSkip
	case value == nil:
		return kv{key: k, del: true}, nil
	case strings.HasPrefix(string(value), "bad"):
		return kv{key: k}, fmt.Errorf("unreadable value %q", value)
	}
	return kv{key: k, value: string(value)}, nil
}

var _ kafkalog.Codec[kv] = kvCodec{}

// readAll reads log to its end and renders each entry as "offset key=value", "offset key
// deleted" or "offset key: error".
func readAll(ctx context.Context, t *testing.T, kafka []kgo.Opt, topic string) []string {
	t.Helper()
	var got []string
	err := kafkalog.ReadToEnd(ctx, kafka, topic, kvCodec{}, func(e kafkalog.Entry[kv]) error {
		switch {
		case e.Err != nil:
			got = append(got, fmt.Sprintf("%d %s: %v", e.Offset, e.Value.key, e.Err))
		case e.Value.del:
			got = append(got, fmt.Sprintf("%d %s deleted", e.Offset, e.Value.key))
		default:
			got = append(got, fmt.Sprintf("%d %s=%s", e.Offset, e.Value.key, e.Value.value))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ReadToEnd: %v", err)
	}
	return got
}

func open(ctx context.Context, t *testing.T, kafka []kgo.Opt, o kafkalog.Options) *kafkalog.Log[kv] {
	t.Helper()
	l, err := kafkalog.Open(ctx, kafka, kvCodec{}, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(l.Close)
	return l
}

func TestOpenCreatesTheTopic(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	l := open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log")})
	if l.Topic() != "log" {
		t.Fatalf("Topic() = %q", l.Topic())
	}
	adm := kadm.NewClient(newClient(t, kafka))
	details, err := adm.ListTopics(ctx, "log")
	if err != nil || details["log"].Err != nil || len(details["log"].Partitions) != 1 {
		t.Fatalf("topic details %+v, %v; want one partition", details["log"], err)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, "log")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("log", nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" {
			policy = c.MaybeValue()
		}
	}
	if policy != "compact" {
		t.Fatalf("cleanup.policy = %q, want compact", policy)
	}
	// Opening it again finds it and succeeds.
	open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log")})
}

// TestTopicCheck: an existing topic of another layout is refused with ErrTopicMismatch when the
// log asks for its layout, and used as it is otherwise.
func TestTopicCheck(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kafka := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	if err := c.CreateTopic("plain", 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic("wide", 3, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTopic("both", 1, map[string]string{"cleanup.policy": "compact,delete"}); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for topic, want := range map[string]string{"plain": `cleanup.policy="delete", want compact`, "wide": "has 3 partitions, want 1"} {
		strict := kafkalog.CompactedTopic(topic)
		strict.Check = kafkalog.TopicMustMatch
		l, err := kafkalog.Open(ctx, kafka, kvCodec{}, kafkalog.Options{Topic: strict})
		if !errors.Is(err, kafkalog.ErrTopicMismatch) || !strings.Contains(err.Error(), want) {
			if l != nil {
				l.Close()
			}
			t.Fatalf("topic %s: Open error %v, want ErrTopicMismatch saying %q", topic, err, want)
		}
		open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic(topic)})
	}
	strict := kafkalog.CompactedTopic("both")
	strict.Check = kafkalog.TopicMustMatch
	open(ctx, t, kafka, kafkalog.Options{Topic: strict})
}

func TestOpenRefusesInvalidOptions(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	for name, o := range map[string]kafkalog.Options{
		"empty name":  {},
		"bad name":    {Topic: kafkalog.Topic{Name: "a b"}},
		"partitions":  {Topic: kafkalog.Topic{Name: "t", Partitions: -2}},
		"replication": {Topic: kafkalog.Topic{Name: "t", Replication: -2}},
	} {
		if l, err := kafkalog.Open(ctx, kafka, kvCodec{}, o); !errors.Is(err, kafkalog.ErrInvalidLog) {
			if l != nil {
				l.Close()
			}
			t.Errorf("%s: Open error %v, want ErrInvalidLog", name, err)
		}
	}
	if l, err := kafkalog.Open[kv](ctx, kafka, nil, kafkalog.Options{Topic: kafkalog.CompactedTopic("t")}); !errors.Is(err, kafkalog.ErrInvalidLog) {
		if l != nil {
			l.Close()
		}
		t.Errorf("no codec: Open error %v, want ErrInvalidLog", err)
	}
}

// TestWriteAndReadToEnd: entries come back in order through the codec, tombstones included;
// skipped records are passed over, unreadable ones reach the reader with their error and what
// the codec could read.
func TestWriteAndReadToEnd(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	if got := readAll(ctx, t, kafka, "log"); len(got) != 0 {
		t.Fatalf("missing topic read %v, want nothing", got)
	}
	l := open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log")})
	if got := readAll(ctx, t, kafka, "log"); len(got) != 0 {
		t.Fatalf("empty topic read %v, want nothing", got)
	}
	next, err := l.Write(ctx, kv{key: "a", value: "1"}, kv{key: "other-x", value: "9"}, kv{key: "b", value: "2"})
	if err != nil || next != 3 {
		t.Fatalf("Write = %d, %v; want 3", next, err)
	}
	if next, err := l.Write(ctx, kv{key: "a", del: true}, kv{key: "c", value: "bad"}); err != nil || next != 5 {
		t.Fatalf("Write = %d, %v; want 5", next, err)
	}
	if next, err := l.Write(ctx); err != nil || next != 0 {
		t.Fatalf("Write of nothing = %d, %v", next, err)
	}
	if _, err := l.Write(ctx, kv{}); err == nil || !strings.Contains(err.Error(), "kvCodec: empty key") {
		t.Fatalf("Write of an unencodable entry: %v, want the codec's error", err)
	}
	want := []string{"0 a=1", "2 b=2", "3 a deleted", `4 c: unreadable value "bad"`}
	if got := readAll(ctx, t, kafka, "log"); !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	var n int
	stop := errors.New("stop")
	err = l.ReadToEnd(ctx, func(kafkalog.Entry[kv]) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("ReadToEnd with a failing apply = %v after %d entries, want stop after 1", err, n)
	}
	if end, err := l.End(ctx); err != nil || end != 5 {
		t.Fatalf("End = %d, %v; want 5", end, err)
	}
}

// TestReadToEndAfterDeletedRecords: a log whose first records are gone reads from its start, and
// one whose records are all gone reads as empty, without waiting for records that will never
// come.
func TestReadToEndAfterDeletedRecords(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	l := open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log")})
	if _, err := l.Write(ctx, kv{key: "a", value: "1"}, kv{key: "b", value: "2"}, kv{key: "c", value: "3"}); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(newClient(t, kafka))
	deleteTo := func(off int64) {
		t.Helper()
		var o kadm.Offsets
		o.Add(kadm.Offset{Topic: "log", Partition: 0, At: off})
		resp, err := adm.DeleteRecords(ctx, o)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("deleting records below %d: %v", off, err)
		}
	}
	deleteTo(2)
	if got, want := readAll(ctx, t, kafka, "log"), []string{"2 c=3"}; !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	deleteTo(3)
	if got := readAll(ctx, t, kafka, "log"); len(got) != 0 {
		t.Fatalf("read %q, want nothing", got)
	}
}

// TestReadToEndWaitsForOpenTransactions: a transaction open below the end holds the read back
// until it is decided; an aborted transaction's records are never read, even at the log's end.
func TestReadToEndWaitsForOpenTransactions(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	l := open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log"), TransactionalID: "writer-a"})
	other := newClient(t, kafka, kgo.TransactionalID("writer-b"))
	if _, err := l.Write(ctx, kv{key: "a", value: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := other.ProduceSync(ctx, &kgo.Record{Topic: "log", Key: []byte("b"), Value: []byte("2")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write(ctx, kv{key: "a", value: "3"}); err != nil {
		t.Fatal(err)
	}
	waiting, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := kafkalog.ReadToEnd(waiting, kafka, "log", kvCodec{}, func(kafkalog.Entry[kv]) error { return nil }); err == nil {
		t.Fatal("ReadToEnd with a transaction open below the end returned, want it to wait")
	}
	if err := other.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	// The log's offsets: a=1 at 0, its commit marker at 1, b=2 at 2, a=3 at 3, its marker at 4,
	// b's abort marker at 5.
	if got, want := readAll(ctx, t, kafka, "log"), []string{"0 a=1", "3 a=3"}; !slices.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

// TestTransactionalWriteFences: opening a transactional log fences the earlier producer of its
// id, whose open transaction is aborted.
func TestTransactionalWriteFences(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log")})
	zombie := newClient(t, kafka, kgo.TransactionalID("writer"))
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Topic: "log", Key: []byte("z"), Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	l := open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log"), TransactionalID: "writer"})
	if _, err := l.Write(ctx, kv{key: "a", value: "1"}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := zombie.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the fenced producer committed")
	}
	got := readAll(ctx, t, kafka, "log")
	if len(got) != 1 || !strings.HasSuffix(got[0], " a=1") {
		t.Fatalf("read %q, want only a=1", got)
	}
}

// TestFollow: a follower sees what another log on the topic writes, and its next offset reaches
// what Write returned; it ends with ctx, or with ErrLogClosed when its log is closed.
func TestFollow(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	w := open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log")})
	if _, err := w.Write(ctx, kv{key: "a", value: "1"}, kv{key: "other-x", value: "9"}); err != nil {
		t.Fatal(err)
	}
	f, err := kafkalog.Open(ctx, kafka, kvCodec{}, kafkalog.Options{Topic: kafkalog.CompactedTopic("log")})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		got     []string
		next    int64
		changed = make(chan struct{}, 1)
	)
	done := make(chan error, 1)
	go func() {
		done <- f.Follow(ctx, func(entries []kafkalog.Entry[kv], n int64) {
			mu.Lock()
			for _, e := range entries {
				got = append(got, fmt.Sprintf("%d %s=%s", e.Offset, e.Value.key, e.Value.value))
			}
			next = n
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
		}, nil)
	}()
	waitNext := func(off int64) {
		t.Helper()
		for {
			mu.Lock()
			n := next
			mu.Unlock()
			if n >= off {
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatalf("the follower's next offset stayed at %d, want %d", n, off)
			}
		}
	}
	end, err := f.End(ctx)
	if err != nil || end != 2 {
		t.Fatalf("End = %d, %v; want 2", end, err)
	}
	waitNext(end)
	if err := f.Follow(ctx, func([]kafkalog.Entry[kv], int64) {}, nil); !errors.Is(err, kafkalog.ErrInvalidLog) {
		t.Fatalf("a second Follow: %v, want ErrInvalidLog", err)
	}
	off, err := w.Write(ctx, kv{key: "b", value: "2"})
	if err != nil {
		t.Fatal(err)
	}
	waitNext(off)
	mu.Lock()
	if want := []string{"0 a=1", "2 b=2"}; !slices.Equal(got, want) {
		t.Errorf("followed %q, want %q", got, want)
	}
	mu.Unlock()
	f.Close()
	select {
	case err := <-done:
		if !errors.Is(err, kafkalog.ErrLogClosed) {
			t.Fatalf("Follow after Close = %v, want ErrLogClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("Follow did not return after Close")
	}

	// With ctx's end, Follow returns ctx's error.
	g := open(ctx, t, kafka, kafkalog.Options{Topic: kafkalog.CompactedTopic("log")})
	fctx, cancel := context.WithCancel(ctx)
	go func() { done <- g.Follow(fctx, func([]kafkalog.Entry[kv], int64) { cancel() }, nil) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow after cancel = %v, want context.Canceled", err)
		}
	case <-ctx.Done():
		t.Fatal("Follow did not return after its context ended")
	}
}

// TestZeroLog: the zero Log is a closed one, not a panic.
func TestZeroLog(t *testing.T) {
	ctx := testCtx(t)
	var l kafkalog.Log[kv]
	if _, err := l.Write(ctx, kv{key: "a"}); !errors.Is(err, kafkalog.ErrLogClosed) {
		t.Errorf("Write = %v, want ErrLogClosed", err)
	}
	if _, err := l.End(ctx); !errors.Is(err, kafkalog.ErrLogClosed) {
		t.Errorf("End = %v, want ErrLogClosed", err)
	}
	if err := l.ReadToEnd(ctx, func(kafkalog.Entry[kv]) error { return nil }); !errors.Is(err, kafkalog.ErrLogClosed) {
		t.Errorf("ReadToEnd = %v, want ErrLogClosed", err)
	}
	if err := l.Follow(ctx, func([]kafkalog.Entry[kv], int64) {}, nil); !errors.Is(err, kafkalog.ErrLogClosed) {
		t.Errorf("Follow = %v, want ErrLogClosed", err)
	}
	l.Close()
}

func TestNewClient(t *testing.T) {
	ctx := testCtx(t)
	kafka := newCluster(t)
	cl, err := kafkalog.NewClient(kafka, kgo.ClientID("kafkalog-test"))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := kafkalog.NewClient(nil, kgo.TransactionalID("t"), kgo.DisableIdempotentWrite()); err == nil {
		t.Fatal("NewClient with contradictory options succeeded")
	}
}
