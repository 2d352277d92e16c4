package snapshot

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/rs/zerolog"
)

func sigRow(id, kind, data string) []decoder.Value {
	v := func(s string) decoder.Value { return decoder.Value{State: decoder.ValueSet, Bytes: []byte(s)} }
	return []decoder.Value{v(id), v(kind), v(data)}
}

var sigTable = &decoder.Table{Name: "sig", Columns: []decoder.Column{{Name: "id"}, {Name: "type"}, {Name: "data"}}}

func TestSignalsApplyAtCommit(t *testing.T) {
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	var s Signals
	s.Add(log, "s.sig", sigTable, sigRow("a", SignalExecute, `{"data-collections": ["s.t"]}`))
	s.Add(log, "s.sig", sigTable, sigRow("b", "explode", ``))
	s.Add(log, "s.sig", sigTable, sigRow("c", SignalStop, ``))
	if !strings.Contains(logs.String(), "signal ignored") || !strings.Contains(logs.String(), "s.sig") {
		t.Errorf("bad signal not logged: %s", logs.String())
	}
	var got []string
	apply := func() {
		s.Apply(func(sig Signal) { got = append(got, "execute "+sig.ID) }, func(sig Signal) { got = append(got, "stop "+sig.ID) })
	}
	apply()
	if want := []string{"execute a", "stop c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("applied %q, want %q", got, want)
	}
	got = nil
	s.Add(log, "s.sig", sigTable, sigRow("d", SignalStop, ``))
	s.Drop()
	apply()
	if got != nil {
		t.Errorf("dropped or applied signals applied again: %q", got)
	}
}

func TestExecuteAndStop(t *testing.T) {
	var logs bytes.Buffer
	log := zerolog.New(&logs)
	canonical := func(s string) (string, error) {
		if strings.HasPrefix(s, `"`) {
			return strings.ReplaceAll(s, `"`, ""), nil
		}
		return "", errors.New("plain")
	}
	tables := Tables{Form: "schema.table", Qualified: func(t string) bool { return strings.Contains(t, ".") }, Canonical: canonical,
		Signal: "s.sig", Captures: func(t string) bool { return t != "s.no" }}
	p, add := Execute(log, nil, Signal{ID: "1", Tables: []string{`"s"."a"`, "s.no", "s.b", "s.a", "nodot", "s.sig"}}, tables)
	if want := (&IncrementalProgress{ID: "1", Tables: []string{"s.a", "s.b"}}); !reflect.DeepEqual(p, want) || len(add) != 2 {
		t.Fatalf("started %+v (added %q), want %+v", p, add, want)
	}
	for _, want := range []string{"table is not captured by this connector; skipped", "table name is not schema.table; skipped",
		"the signal table is not captured; skipped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %s", want, logs.String())
		}
	}
	p.After, p.Max = []string{"3"}, []string{"9"}
	same, add := Execute(log, p, Signal{ID: "2", Tables: []string{"s.b", "s.no"}}, tables)
	if same != p || add != nil {
		t.Errorf("nothing to add gave %+v, %q", same, add)
	}
	q, add := Execute(log, p, Signal{ID: "2", Tables: []string{"s.c"}}, tables)
	if want := (&IncrementalProgress{ID: "1", Tables: []string{"s.a", "s.b", "s.c"}, After: []string{"3"}, Max: []string{"9"}}); !reflect.DeepEqual(q, want) ||
		q == p || len(p.Tables) != 2 || !reflect.DeepEqual(add, []string{"s.c"}) {
		t.Fatalf("added %+v (from %+v, added %q), want %+v", q, p, add, want)
	}
	r, current := Stop(log, q, Signal{ID: "3", Tables: []string{"s.b"}})
	if want := (&IncrementalProgress{ID: "1", Tables: []string{"s.a", "s.c"}, After: []string{"3"}, Max: []string{"9"}}); !reflect.DeepEqual(r, want) || current {
		t.Errorf("stopping another table: %+v (current %t), want %+v", r, current, want)
	}
	r, current = Stop(log, q, Signal{ID: "4", Tables: []string{"s.a"}})
	if want := (&IncrementalProgress{ID: "1", Tables: []string{"s.b", "s.c"}}); !reflect.DeepEqual(r, want) || !current {
		t.Errorf("stopping the current table: %+v (current %t), want %+v", r, current, want)
	}
	if r, current = Stop(log, q, Signal{ID: "5"}); r != nil || !current {
		t.Errorf("stopping all: %+v (current %t)", r, current)
	}
	if r, current = Stop(log, nil, Signal{ID: "6"}); r != nil || current {
		t.Errorf("stopping nothing: %+v (current %t)", r, current)
	}
}

func TestReading(t *testing.T) {
	var logs bytes.Buffer
	var board Board
	r := Reading{Log: zerolog.New(&logs), Every: time.Hour, Now: time.Now, Board: &board}
	cur := r.Read(nil, "s.a", 10, 4)
	if cur = r.Next(cur, "s.a", &IncrementalProgress{ID: "1", Tables: []string{"s.a"}, After: []string{"4"}}); cur == nil {
		t.Fatal("the table's progress ended mid-table")
	}
	cur = r.Read(cur, "s.a", 10, 2)
	if cur = r.Next(cur, "s.a", &IncrementalProgress{ID: "1", Tables: []string{"s.b"}}); cur != nil {
		t.Fatal("the table's progress goes on past the table")
	}
	cur = r.Read(cur, "s.b", -1, 1)
	if r.Next(cur, "s.b", nil) != nil || !strings.Contains(logs.String(), "incremental snapshot done") {
		t.Errorf("the snapshot's end is not logged: %s", logs.String())
	}
	all := board.All()
	if len(all) != 2 || all[0].Table != "s.a" || all[0].Rows != 6 || !all[0].Done || !all[0].Incremental || all[1].Rows != 1 || !all[1].Done {
		t.Errorf("board %+v", all)
	}
}

// fakeWindow is a table of integer keys 1..n.
type fakeWindow struct {
	n, limit int
	reads    [][2][]string
}

func (f *fakeWindow) MaxKey(context.Context) ([]string, error) {
	if f.n == 0 {
		return nil, nil
	}
	return []string{strconv.Itoa(f.n)}, nil
}

func (f *fakeWindow) Limit(context.Context) (int, error) { return f.limit, nil }

func (f *fakeWindow) Keyset(_ context.Context, after, upTo []string, limit int) ([][]decoder.Value, []string, bool, error) {
	f.reads = append(f.reads, [2][]string{after, upTo})
	from := 0
	if after != nil {
		from, _ = strconv.Atoi(after[0])
	}
	to, _ := strconv.Atoi(upTo[0])
	var rows [][]decoder.Value
	for k := from + 1; k <= to && len(rows) < limit; k++ {
		rows = append(rows, []decoder.Value{{State: decoder.ValueSet, Int: int64(k)}})
	}
	last := from + len(rows)
	if last < to {
		return rows, []string{strconv.Itoa(last)}, true, nil
	}
	return rows, nil, false, nil
}

func TestReadWindow(t *testing.T) {
	f := &fakeWindow{n: 5, limit: 2}
	prog := &IncrementalProgress{ID: "1", Tables: []string{"s.a", "s.b"}}
	var keys []int64
	for steps := 0; prog != nil && prog.Tables[0] == "s.a"; steps++ {
		if steps == 5 {
			t.Fatalf("no end after %d chunks: %+v", steps, prog)
		}
		if steps == 1 {
			f.n = 9 // rows added meanwhile are past the greatest key the reading began with
		}
		rows, next, err := ReadWindow(t.Context(), f, prog)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			keys = append(keys, r[0].Int)
		}
		prog = next
	}
	if want := []int64{1, 2, 3, 4, 5}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if want := (&IncrementalProgress{ID: "1", Tables: []string{"s.b"}}); !reflect.DeepEqual(prog, want) {
		t.Errorf("progress %+v, want %+v", prog, want)
	}
	if want := [][2][]string{{nil, {"5"}}, {{"2"}, {"5"}}, {{"4"}, {"5"}}}; !reflect.DeepEqual(f.reads, want) {
		t.Errorf("reads %q, want %q", f.reads, want)
	}
	rows, next, err := ReadWindow(t.Context(), &fakeWindow{}, &IncrementalProgress{ID: "1", Tables: []string{"s.e"}})
	if rows != nil || next != nil || err != nil {
		t.Errorf("an empty last table: %v, %+v, %v", rows, next, err)
	}
}
