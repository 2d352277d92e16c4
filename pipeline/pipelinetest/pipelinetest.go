// Package pipelinetest holds test doubles of the pipeline's collaborators, shared by the unit
// tests (with kfake) and the integration tests (with a real Kafka): a scripted Source that
// records its Acks, a fake Encoder, and an oracle that reads a topic as a read_committed
// consumer does.
package pipelinetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/pipeline"
	"github.com/cdcd-dev/cdcd/transform"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Table is the one table of the scripted changes.
var Table = &decoder.Table{
	ID: 1, Namespace: "public", Name: "t", Version: 1,
	Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt64, SourceType: "int8", Key: true}},
}

// Txn is one scripted source transaction: the op of each of its changes.
type Txn []decoder.Op

// Inserts returns a transaction of n inserts.
func Inserts(n int) Txn {
	t := make(Txn, n)
	for i := range t {
		t[i] = decoder.OpCreate
	}
	return t
}

// Pos returns the position of the start of transaction tx of a script, past skip of its
// changes. The position after transaction tx is Pos(tx+1, 0).
func Pos(tx int, skip int64) offsets.Position {
	return offsets.Position{Source: json.RawMessage(`{"tx":` + strconv.Itoa(tx) + `}`), Skip: skip}
}

// ParsePos reads a position made by Pos; the zero Position is the start of transaction 0.
func ParsePos(p offsets.Position) (tx int, skip int64, err error) {
	if p.IsZero() {
		return 0, 0, nil
	}
	var v struct {
		Tx *int `json:"tx"`
	}
	if err := json.Unmarshal(p.Source, &v); err != nil || v.Tx == nil {
		return 0, 0, fmt.Errorf("pipelinetest: bad position %s: %v", p, err)
	}
	return *v.Tx, p.Skip, nil
}

// Change returns change i of transaction tx: its row id is RowID(tx, i), and its source
// information carries tx and i, which the fake Encoder writes in the value.
func Change(op decoder.Op, tx, i int) *decoder.Change {
	row := []decoder.Value{{State: decoder.ValueSet, Int: RowID(tx, i)}}
	c := &decoder.Change{Op: op, Table: Table, Source: SourceInfo(tx, i)}
	if op == decoder.OpDelete {
		c.Before = row
	} else {
		c.After = row
	}
	return c
}

// RowID is the row id of change i of transaction tx.
func RowID(tx, i int) int64 { return int64(tx)*1_000_000 + int64(i) }

// Source replays a fixed script of transactions from any position, then waits for its
// context to end, as a live source waits for new transactions. Its Begin events carry the
// Skip it applied when resuming inside a transaction.
type Source struct {
	// Txns is the script.
	Txns []Txn
	// Before, if set, is called before change i of transaction tx is sent; it may block until
	// ctx ends, and its error ends Stream.
	Before func(ctx context.Context, tx, i int) error
	// OnAck, if set, is called by Ack first; its error is Ack's, and the ack is not recorded.
	OnAck func(pos offsets.Position) error
	// TableOf, if set, is the table of change i of transaction tx, in place of Table (the
	// encoder still writes every change to Table's topic).
	TableOf func(tx, i int) *decoder.Table

	mu     sync.Mutex
	acks   []offsets.Position
	starts []offsets.Position
	bad    error
}

var _ connectors.Source = (*Source)(nil)

// Stream sends the script's events from position from.
func (s *Source) Stream(ctx context.Context, from offsets.Position, out *connectors.Queue) error {
	s.mu.Lock()
	s.starts = append(s.starts, from)
	s.mu.Unlock()
	tx, skip, err := ParsePos(from)
	if err != nil {
		return err
	}
	send := func(ev connectors.Event) error { return out.Send(ctx, ev) }
	for ; tx < len(s.Txns); tx++ {
		if err := send(connectors.Event{Kind: connectors.EventBegin, Position: Pos(tx, skip)}); err != nil {
			return err
		}
		for i := int(skip); i < len(s.Txns[tx]); i++ {
			if s.Before != nil {
				if err := s.Before(ctx, tx, i); err != nil {
					return err
				}
			}
			ev := connectors.Event{Kind: connectors.EventChange, Change: Change(s.Txns[tx][i], tx, i)}
			if s.TableOf != nil {
				ev.Change.Table = s.TableOf(tx, i)
			}
			if err := send(ev); err != nil {
				return err
			}
		}
		if err := send(connectors.Event{Kind: connectors.EventCommit, Position: Pos(tx+1, 0)}); err != nil {
			return err
		}
		skip = 0
	}
	<-ctx.Done()
	return ctx.Err()
}

// Ack records pos. An ack that moves backwards is recorded as a violation, see Violation.
func (s *Source) Ack(pos offsets.Position) error {
	if s.OnAck != nil {
		if err := s.OnAck(pos); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.acks); n > 0 && s.bad == nil {
		ptx, pskip, _ := ParsePos(s.acks[n-1])
		tx, skip, err := ParsePos(pos)
		if err != nil {
			s.bad = err
		} else if tx < ptx || (tx == ptx && skip < pskip) {
			s.bad = fmt.Errorf("ack %s after %s moves backwards", pos, s.acks[n-1])
		}
	}
	s.acks = append(s.acks, pos)
	return nil
}

// Acks returns the acknowledged positions, in order.
func (s *Source) Acks() []offsets.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]offsets.Position(nil), s.acks...)
}

// LastAck returns the last acknowledged position as (tx, skip), or ok false before any.
func (s *Source) LastAck() (tx int, skip int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.acks) == 0 {
		return 0, 0, false
	}
	tx, skip, _ = ParsePos(s.acks[len(s.acks)-1])
	return tx, skip, true
}

// Starts returns the position of every Stream call, in order.
func (s *Source) Starts() []offsets.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]offsets.Position(nil), s.starts...)
}

// Violation returns the first ordering violation seen by Ack, or nil.
func (s *Source) Violation() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bad
}

// Encoder encodes a scripted change as topic Topic(prefix) (or the record's routed topic),
// key "k<row id>" and value Value(tx, i, op); a delete the chain made a tombstone alone has no
// value.
type Encoder struct {
	// Prefix is the topic prefix.
	Prefix string
	// Fail, if set, is called with each change first; its error is EncodeRecord's.
	Fail func(c *decoder.Change) error
}

var _ pipeline.Encoder = (*Encoder)(nil)

// Topic is the topic of the scripted table under prefix.
func Topic(prefix string) string { return prefix + "." + Table.Namespace + "." + Table.Name }

// Value is the value the Encoder writes for change i of transaction tx.
func Value(tx, i int, op decoder.Op) string { return fmt.Sprintf("%d/%d/%c", tx, i, op) }

// EncodeRecord implements pipeline.Encoder.
func (e *Encoder) EncodeRecord(_ context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	c := rec.Change
	if e.Fail != nil {
		if err := e.Fail(c); err != nil {
			return "", nil, nil, err
		}
	}
	row := c.After
	if row == nil {
		row = c.Before
	}
	if len(row) != 1 {
		return "", nil, nil, fmt.Errorf("pipelinetest: change of %d columns, want 1", len(row))
	}
	topic := Topic(e.Prefix)
	if rec.Topic != "" {
		topic = rec.Topic
	}
	key := []byte("k" + strconv.FormatInt(row[0].Int, 10))
	if c.Op == decoder.OpDelete && rec.Tombstone == transform.TombstoneOnly {
		return topic, key, nil, nil
	}
	value := []byte(Value(int(TxID(&c.Source)), int(Row(&c.Source)), c.Op))
	return topic, key, value, nil
}

// Expected returns the values a read_committed consumer must see for the script, in order,
// with "<tombstone k...>" after each delete when tombstones is on.
func Expected(txns []Txn, tombstones pipeline.Tombstones) []string {
	var out []string
	for tx, t := range txns {
		for i, op := range t {
			out = append(out, Value(tx, i, op))
			if op == decoder.OpDelete && tombstones == pipeline.TombstonesOn {
				out = append(out, tombstone(RowID(tx, i)))
			}
		}
	}
	return out
}

func tombstone(id int64) string { return "<tombstone k" + strconv.FormatInt(id, 10) + ">" }

// Values returns the values of rs as Expected writes them.
func Values(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		if r.Value == nil {
			out[i] = "<tombstone " + string(r.Key) + ">"
		} else {
			out[i] = string(r.Value)
		}
	}
	return out
}

// Diff returns nil when got equals want, else an error naming the first difference: the
// exactly-once oracle (no gap, no duplicate, in order).
func Diff(got, want []string) error {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Errorf("record %d is %q, want %q (got %d records, want %d)", i, got[i], want[i], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("got %d records, want %d", len(got), len(want))
	}
	return nil
}

// ReadCommitted returns the data records of every partition of topic that a read_committed
// consumer sees, up to the end offsets listed at the call, partition by partition. opts
// configure the client (seed brokers). A missing topic has no records.
func ReadCommitted(ctx context.Context, opts []kgo.Opt, topic string) ([]*kgo.Record, error) {
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	parts := map[int32]kgo.Offset{}
	remaining := map[int32]int64{}
	for _, o := range ends[topic] {
		if o.Err != nil || o.Partition < 0 {
			continue
		}
		if o.Offset > 0 {
			parts[o.Partition] = kgo.NewOffset().AtStart()
			remaining[o.Partition] = o.Offset
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	all := append(append([]kgo.Opt(nil), opts...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", topic, err)
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			end, ok := remaining[r.Partition]
			if !ok || r.Offset >= end {
				continue
			}
			if r.Offset == end-1 {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Gate holds a Source at one change until it is released: a test uses it to keep a pipeline in
// the middle of a transaction while something else happens (another process fencing it).
type Gate struct {
	// Reached is closed when the source arrives at the change.
	Reached chan struct{}
	release chan struct{}
	once    sync.Once
}

// NewGate returns a Gate; At chooses the change it holds the source at.
func NewGate() *Gate {
	return &Gate{Reached: make(chan struct{}), release: make(chan struct{})}
}

// At returns a Source.Before function that blocks at change i of transaction tx until Release.
func (g *Gate) At(tx, i int) func(ctx context.Context, tx, i int) error {
	atTx, atI := tx, i
	return func(ctx context.Context, tx, i int) error {
		if tx != atTx || i != atI {
			return nil
		}
		g.once.Do(func() { close(g.Reached) })
		select {
		case <-g.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release lets the held source go on.
func (g *Gate) Release() { close(g.release) }
