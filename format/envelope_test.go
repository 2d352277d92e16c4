package format

import (
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// TestEnvelopeRules checks the envelope's format-neutral rules: a truncate has no rows,
// source.ts falls back to the processing time, source.db follows the kind.
func TestEnvelopeRules(t *testing.T) {
	row := []decoder.Value{{State: decoder.ValueSet, Int: 1}}
	now, commit := time.Unix(2000, 0), time.Unix(1000, 0)
	tab := &decoder.Table{Namespace: "shop", Name: "items"}
	e := Envelope{Change: &decoder.Change{Op: decoder.OpUpdate, Table: tab, Before: row, After: row}, Time: now}
	if b, a := e.Rows(); b == nil || a == nil {
		t.Error("an update without rows")
	}
	if !e.SourceTime().Equal(now) {
		t.Errorf("source time without commit time %v, want the processing time", e.SourceTime())
	}
	e.Change.Source.CommitTime = commit
	if !e.SourceTime().Equal(commit) {
		t.Errorf("source time %v, want the commit time", e.SourceTime())
	}
	e.Change.Op = decoder.OpTruncate
	if b, a := e.Rows(); b != nil || a != nil {
		t.Error("a truncate with rows")
	}
	byNamespace := &decoder.SourceBlock{DB: decoder.SourceNamespace}
	byDatabase := &decoder.SourceBlock{DB: decoder.SourceDatabase}
	if SourceDB(byNamespace, "db", tab) != "shop" || SourceDB(byDatabase, "db", tab) != "db" {
		t.Error("source.db does not follow the kind")
	}
	for v, want := range map[decoder.SourceValue]string{decoder.SourceNamespace: "shop", decoder.SourceTableName: "items", decoder.SourceDatabase: "db"} {
		if got := SourceTableValue(&decoder.SourceField{Value: v}, tab, "db"); got != want {
			t.Errorf("source table value %d = %q, want %q", v, got, want)
		}
	}
}
