package avro

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// slowRegistry is a fakeRegistry whose calls take a while, counting how many run at once.
type slowRegistry struct {
	*fakeRegistry
	mu            sync.Mutex
	running, most int
}

func (s *slowRegistry) enter() func() {
	s.mu.Lock()
	s.running++
	s.most = max(s.most, s.running)
	s.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // a registry round trip, so that calls overlap if they can
	return func() {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}
}

func (s *slowRegistry) Lookup(ctx context.Context, subject, schema string) (Schema, bool, error) {
	defer s.enter()()
	return s.fakeRegistry.Lookup(ctx, subject, schema)
}

func (s *slowRegistry) Register(ctx context.Context, subject, schema string) (int, error) {
	defer s.enter()()
	return s.fakeRegistry.Register(ctx, subject, schema)
}

func manyTables(n int) []*decoder.Table {
	tables := make([]*decoder.Table, n)
	for i := range tables {
		tables[i] = &decoder.Table{Namespace: "public", Name: fmt.Sprintf("t%03d", i), Version: 1, Columns: []decoder.Column{
			{Name: "id", Type: decoder.TypeInt32, Key: true},
			{Name: "qty", Type: decoder.TypeInt32},
		}}
	}
	return tables
}

// TestPrepareTablesRegistersTogetherOnce: PrepareTables registers the key and value schemas of
// many tables several tables at a time, each once; the tables' first changes then cost no
// registry call.
func TestPrepareTablesRegistersTogetherOnce(t *testing.T) {
	ctx := context.Background()
	reg := &slowRegistry{fakeRegistry: newFakeRegistry()}
	e := newTestEncoder(t, reg)
	tables := manyTables(40)
	topics, err := e.PrepareTables(ctx, tables)
	if err != nil {
		t.Fatal(err)
	}
	if len(topics) != len(tables) || topics[0] != "cdc.public.t000" {
		t.Errorf("PrepareTables topics %v, want the %d tables'", topics, len(tables))
	}
	if reg.most < 2 || reg.most > RegistryConcurrency {
		t.Errorf("at most %d registry calls at once, want 2 to %d", reg.most, RegistryConcurrency)
	}
	registered := map[string]int{}
	for _, c := range reg.calls {
		if subject, ok := strings.CutPrefix(c, "register "); ok {
			registered[subject]++
		}
	}
	if len(registered) != 2*len(tables) {
		t.Errorf("%d subjects registered, want %d", len(registered), 2*len(tables))
	}
	for subject, n := range registered {
		if n != 1 {
			t.Errorf("%s registered %d times", subject, n)
		}
	}
	calls := reg.callCount()
	// Again, and the changes: nothing more is asked.
	if topics, err := e.PrepareTables(ctx, tables); err != nil || len(topics) != len(tables) {
		t.Fatalf("PrepareTables again: %d topics, %v", len(topics), err)
	}
	for _, tab := range tables {
		if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: tab,
			After: []decoder.Value{set(decoder.Value{Int: 1}), set(decoder.Value{Int: 2})}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := reg.callCount(); n != calls {
		t.Errorf("%d registry calls after the tables were prepared, want none", n-calls)
	}
}

// TestPrepareTablesKeepsVersionsInOrder: of two versions of one table given together, only the
// first is prepared, so that the subject's versions are registered in their order; the second
// is registered at its first change, after it.
func TestPrepareTablesKeepsVersionsInOrder(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	v1, v2 := itemsTable(1, decoder.TypeInt32), itemsTable(2, decoder.TypeInt64)
	if _, err := e.PrepareTables(ctx, []*decoder.Table{v1, v2}); err != nil {
		t.Fatal(err)
	}
	if n := len(reg.subjects["cdc.public.items-value"]); n != 1 {
		t.Fatalf("%d versions of the value subject after PrepareTables, want 1 (v1's)", n)
	}
	if _, _, _, err := e.Encode(ctx, &decoder.Change{Op: decoder.OpCreate, Table: v2,
		After: itemsRow(set(decoder.Value{Int: 3}))}); err != nil {
		t.Fatal(err)
	}
	versions := reg.subjects["cdc.public.items-value"]
	if len(versions) != 2 || !strings.Contains(versions[0].Schema, `"int"`) || !strings.Contains(versions[1].Schema, `"long"`) {
		t.Errorf("value subject versions %v, want v1 (int) then v2 (long)", versions)
	}
}

// TestPrepareTablesLeavesFailuresToTheChange: a table PrepareTables cannot register (the
// registry down) is not cached: its first change asks again and meets the error itself.
func TestPrepareTablesLeavesFailuresToTheChange(t *testing.T) {
	ctx := context.Background()
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	reg.fail = errOutage
	tab := itemsTable(1, decoder.TypeInt32)
	if _, err := e.PrepareTables(ctx, []*decoder.Table{tab}); err == nil {
		t.Fatal("PrepareTables with the registry down: no error")
	}
	change := &decoder.Change{Op: decoder.OpCreate, Table: tab, After: itemsRow(set(decoder.Value{Int: 3}))}
	if _, _, _, err := e.Encode(ctx, change); err == nil || !IsRetryable(err) {
		t.Fatalf("Encode with the registry down: %v, want a retryable registry error", err)
	}
	reg.fail = nil
	if _, _, _, err := e.Encode(ctx, change); err != nil {
		t.Fatalf("Encode with the registry back: %v", err)
	}
}
