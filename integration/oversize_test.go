package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// oversizeTopicMax is the max.message.bytes of the data topic the oversize tests create
// themselves, so that a row of a few hundred kilobytes is refused by the shared broker.
const oversizeTopicMax = 64 << 10

// oversizeRow is the size of the value of the row too large for the topic.
const oversizeRow = 256 << 10

// oversizeSource is one source's side of the oversize tests: a table files (id int primary key,
// data <bytes>) captured by one connector.
type oversizeSource struct {
	table  string // schema.table as the connector names it
	topic  string
	prefix string
	// insert writes row id with a data value of size bytes, in its own transaction.
	insert func(t *testing.T, id, size int)
	// start runs cdcd on the connector with the extra connector lines, once it reads changes.
	start func(t *testing.T, extra []string) *CDCD
	// registry is the embedded registry's URL.
	registry string
}

func postgresOversize(t *testing.T) oversizeSource {
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE files (id int PRIMARY KEY, data bytea NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.files")
	return oversizeSource{
		table: "public.files", topic: c.Topic("files"), prefix: c.Prefix, registry: c.RegistryURL(),
		insert: func(t *testing.T, id, size int) {
			mustExec(t, conn, `INSERT INTO files VALUES ($1, $2)`, id, incompressible(size))
		},
		start: func(t *testing.T, extra []string) *CDCD {
			c.ConnectorExtra = extra
			p := c.StartStreaming(t, conn)
			return p
		},
	}
}

func mysqlOversize(t *testing.T) oversizeSource {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, `CREATE TABLE files (id int PRIMARY KEY, data longblob NOT NULL)`)
	c := NewMySQLConnector(t, m, "files")
	return oversizeSource{
		table: m.Name + ".files", topic: c.Topic("files"), prefix: c.Prefix, registry: c.RegistryURL(),
		insert: func(t *testing.T, id, size int) {
			mustExecMySQL(t, m.DB, `INSERT INTO files VALUES (?, ?)`, id, incompressible(size))
		},
		start: func(t *testing.T, extra []string) *CDCD {
			c.ConnectorExtra = extra
			return c.StartStreaming(t)
		},
	}
}

// incompressible returns size bytes that no compression shrinks much.
func incompressible(size int) []byte {
	b := make([]byte, size)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// createLimitedTopic creates topic on the shared broker with max.message.bytes set to maxBytes,
// as an operator would, before cdcd writes to it.
func createLimitedTopic(t *testing.T, topic string, maxBytes int) {
	t.Helper()
	admin := kadm.NewClient(NewKafkaClient(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	v := strconv.Itoa(maxBytes)
	resp, err := admin.CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": &v}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		_, _ = admin.DeleteTopics(ctx, topic)
	})
}

// readAll reads topic with read_committed until it holds n records, then for a short while
// more, to see any extra.
func readAll(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := NewKafkaClient(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var rs []*kgo.Record
	poll := func(wait time.Duration) {
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		defer cancel()
		rs = append(rs, cl.PollFetches(ctx).Records()...)
	}
	WaitFor(t, 2*time.Minute, fmt.Sprintf("%d records in %s", n, topic), func() error {
		poll(time.Second)
		if len(rs) < n {
			return fmt.Errorf("%d records", len(rs))
		}
		return nil
	})
	poll(2 * time.Second)
	return rs
}

// TestPostgresRecordTooLarge and TestMySQLRecordTooLarge write a row whose record is larger
// than its topic's max.message.bytes between two small rows, under each error policy: dlq
// writes its dead letter (key, position, reason, without the large value) and goes on, skip
// logs it and goes on, each later change exactly once; fail stops the connector for good with
// an error naming the table, the key and the size.
func TestPostgresRecordTooLarge(t *testing.T) { testRecordTooLarge(t, postgresOversize) }

func TestMySQLRecordTooLarge(t *testing.T) { testRecordTooLarge(t, mysqlOversize) }

func testRecordTooLarge(t *testing.T, newSource func(*testing.T) oversizeSource) {
	for _, policy := range []string{"dlq", "skip", "fail"} {
		t.Run(policy, func(t *testing.T) {
			src := newSource(t)
			createLimitedTopic(t, src.topic, oversizeTopicMax)
			p := src.start(t, []string{"error_policy: " + policy})
			src.insert(t, 1, 100)
			src.insert(t, 2, oversizeRow)
			src.insert(t, 3, 100)

			if policy == "fail" {
				// A cdcd running a config file's connector exits when it fails for good.
				if code := p.Wait(2 * time.Minute); code == 0 {
					t.Errorf("cdcd exited 0, want the connector's failure")
				}
				var failure string
				for line := range strings.SplitSeq(p.Logs(), "\n") {
					if strings.Contains(line, "connector stopped") {
						failure = line
					}
				}
				for _, want := range []string{src.table, `{\"id\":\"2\"}`, "bytes, over the 65536 bytes", "max.message.bytes"} {
					if !strings.Contains(failure, want) {
						t.Errorf("failure %q does not say %q", failure, want)
					}
				}
				if p.LogsContain("restarting from the committed position") {
					t.Errorf("the connector restarted after a record too large")
				}
				// The embedded registry left with cdcd: count the records, row 1's at most.
				if rs := readAll(t, src.topic, 0); len(rs) > 1 {
					t.Errorf("data topic holds %d records, want nothing from the row too large on", len(rs))
				}
				return
			}

			consumer := NewAvroConsumer(t, src.registry, src.topic)
			data := consumer.Collect(t, 2, 2*time.Minute)
			data = append(data, consumer.Drain(t, 2*time.Second)...)
			if got := ids(data); len(got) != 2 || got[0] != 1 || got[1] != 3 {
				t.Fatalf("data topic ids %v, want [1 3]: each later change once", got)
			}
			if policy == "skip" {
				WaitFor(t, time.Minute, "the skip logged", func() error {
					if !p.LogsContain("poison change skipped") {
						return fmt.Errorf("not logged")
					}
					return nil
				})
				p.Stop(time.Minute)
				return
			}
			dead := readAll(t, src.prefix+".dlq", 1)
			if len(dead) != 1 {
				t.Fatalf("dead-letter topic holds %d records, want 1", len(dead))
			}
			d := dead[0]
			h := map[string]string{}
			for _, kv := range d.Headers {
				h[kv.Key] = string(kv.Value)
			}
			if string(d.Key) != `{"id":"2"}` || h["cdcd.stage"] != "produce" || h["cdcd.table"] != src.table ||
				h["cdcd.position"] == "" || !strings.Contains(h["cdcd.error"], "max.message.bytes") {
				t.Errorf("dead letter key %s headers %v, want id 2, its position and the reason", d.Key, h)
			}
			var value struct {
				After   map[string]any `json:"after"`
				Omitted []string       `json:"omitted"`
			}
			if err := json.Unmarshal(d.Value, &value); err != nil {
				t.Fatalf("dead-letter value: %v", err)
			}
			if len(d.Value) > 4096 || value.After["id"] != "2" || len(value.Omitted) != 1 || value.Omitted[0] != "data" {
				t.Errorf("dead-letter value of %d bytes: after %v omitted %v, want id 2 without data", len(d.Value), value.After, value.Omitted)
			}
			p.Stop(time.Minute)
		})
	}
}
