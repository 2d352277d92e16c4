package integration

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ChangeRecord is one record of a cdcd topic, decoded through the schema registry the way any
// Confluent Avro consumer decodes it.
type ChangeRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	// Key is the decoded key record; nil for a null key.
	Key map[string]any
	// Value is the decoded envelope; nil for a tombstone.
	Value map[string]any
	// Headers are the record's headers.
	Headers []kgo.RecordHeader
}

// Header returns the value of the record's header name, and whether it has one.
func (r ChangeRecord) Header(name string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == name {
			return string(h.Value), true
		}
	}
	return "", false
}

// Op returns the envelope's op, or "tombstone".
func (r ChangeRecord) Op() string {
	if r.Value == nil {
		return "tombstone"
	}
	op, _ := r.Value["op"].(string)
	return op
}

// After returns the envelope's after row (nil when absent).
func (r ChangeRecord) After() map[string]any { return row(r.Value, "after") }

// Before returns the envelope's before row (nil when absent).
func (r ChangeRecord) Before() map[string]any { return row(r.Value, "before") }

// Source returns the envelope's source block.
func (r ChangeRecord) Source() map[string]any { return row(r.Value, "source") }

func row(v map[string]any, field string) map[string]any {
	if v == nil {
		return nil
	}
	m, _ := Unwrap(v[field]).(map[string]any)
	return m
}

// Unwrap returns the value inside a union of null and another type, which hamba/avro decodes as
// a one-entry map from the type's name to the value: a named type's full name (e.g.
// "demo.public.items.Value"), or "array" or "map".
func Unwrap(v any) any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return v
	}
	for name, inner := range m {
		if strings.Contains(name, ".") || name == "array" || name == "map" {
			return inner
		}
	}
	return v
}

// AvroConsumer reads topics with isolation read_committed and decodes keys and values in the
// Confluent wire format, fetching each schema by id from the registry once.
type AvroConsumer struct {
	client      *kgo.Client
	registryURL string
	schemas     map[uint32]avro.Schema
}

// NewAvroConsumer consumes topics from their start.
func NewAvroConsumer(t testing.TB, registryURL string, topics ...string) *AvroConsumer {
	t.Helper()
	return &AvroConsumer{
		client: NewKafkaClient(t,
			kgo.ConsumeTopics(topics...),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			// A topic cdcd has yet to create is looked for again this often (the client's
			// default is 5 s): a test that kills cdcd after so many records read must see
			// them while cdcd writes, not once a fast snapshot is over.
			kgo.MetadataMinAge(250*time.Millisecond),
		),
		registryURL: registryURL,
		schemas:     map[uint32]avro.Schema{},
	}
}

// Collect reads until this call has read at least n records, and returns them; it fails the
// test if timeout passes first.
func (c *AvroConsumer) Collect(t testing.TB, n int, timeout time.Duration) []ChangeRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var out []ChangeRecord
	for len(out) < n {
		fetches := c.client.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming: got %d of %d records before the deadline", len(out), n)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("consuming %s: %v", errs[0].Topic, errs[0].Err)
		}
		for _, r := range fetches.Records() {
			out = append(out, c.decode(t, r))
		}
	}
	return out
}

// Poll returns what arrives within wait (perhaps nothing): for reading while records keep
// coming, where Drain would wait for a quiet moment that never comes.
func (c *AvroConsumer) Poll(t testing.TB, wait time.Duration) []ChangeRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	var out []ChangeRecord
	for _, r := range c.client.PollFetches(ctx).Records() {
		out = append(out, c.decode(t, r))
	}
	return out
}

// Drain reads whatever arrives until quiet passes with nothing new, and returns it. It is for
// asserting that nothing more than expected arrived.
func (c *AvroConsumer) Drain(t testing.TB, quiet time.Duration) []ChangeRecord {
	t.Helper()
	var out []ChangeRecord
	for {
		ctx, cancel := context.WithTimeout(t.Context(), quiet)
		fetches := c.client.PollFetches(ctx)
		cancel()
		records := fetches.Records()
		if len(records) == 0 {
			return out
		}
		for _, r := range records {
			out = append(out, c.decode(t, r))
		}
	}
}

func (c *AvroConsumer) decode(t testing.TB, r *kgo.Record) ChangeRecord {
	t.Helper()
	out := ChangeRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Headers: r.Headers}
	var err error
	if out.Key, err = c.decodeWire(r.Key); err != nil {
		t.Fatalf("decoding the key of %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
	}
	if out.Value, err = c.decodeWire(r.Value); err != nil {
		t.Fatalf("decoding the value of %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
	}
	return out
}

func (c *AvroConsumer) decodeWire(b []byte) (map[string]any, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) < 5 || b[0] != 0 {
		return nil, fmt.Errorf("not in the Confluent wire format (%d bytes)", len(b))
	}
	id := binary.BigEndian.Uint32(b[1:5])
	schema, ok := c.schemas[id]
	if !ok {
		var err error
		if schema, err = c.fetchSchema(id); err != nil {
			return nil, err
		}
		c.schemas[id] = schema
	}
	var v map[string]any
	if err := avro.Unmarshal(schema, b[5:], &v); err != nil {
		return nil, fmt.Errorf("avro with schema %d: %w", id, err)
	}
	return v, nil
}

func (c *AvroConsumer) fetchSchema(id uint32) (avro.Schema, error) {
	// The registry may be cdcd's embedded one, down while a test restarts cdcd: the fetch
	// goes on until it answers, within a deadline.
	var body []byte
	err := Eventually(time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		body, err = httpGetBody(ctx, fmt.Sprintf("%s/schemas/ids/%d", c.registryURL, id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fetching schema %d: %w", id, err)
	}
	var resp struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return avro.Parse(resp.Schema)
}

func httpGet(ctx context.Context, url string) error {
	_, err := httpGetBody(ctx, url)
	return err
}

func httpGetBody(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}
