package pipeline

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/cdcd-dev/cdcd/transform"
)

// keyFlagEncoder writes as key the values of the columns the change's table flags as key,
// and the op as value.
type keyFlagEncoder struct{}

func (keyFlagEncoder) EncodeRecord(_ context.Context, rec *transform.Record) (string, []byte, []byte, error) {
	c := rec.Change
	row := c.After
	if row == nil {
		row = c.Before
	}
	var key []string
	for i, col := range c.Table.Columns {
		if col.Key {
			key = append(key, col.Name+"="+strconv.FormatInt(row[i].Int, 10))
		}
	}
	if rec.Tombstone == transform.TombstoneOnly {
		return "t", []byte(strings.Join(key, ",")), nil, nil
	}
	return "t", []byte(strings.Join(key, ",")), []byte(c.Op.String()), nil
}

// TestMessageKeyColumnsBeforeKeySplit: the message key columns make the key, and an update is
// split into a delete and a create when they change, not when the primary key does.
func TestMessageKeyColumnsBeforeKeySplit(t *testing.T) {
	table := &decoder.Table{ID: 2, Namespace: "public", Name: "orders", Version: 1, Columns: []decoder.Column{
		{Name: "id", Type: decoder.TypeInt64, Key: true}, {Name: "customer", Type: decoder.TypeInt64}}}
	row := func(id, customer int64) []decoder.Value {
		return []decoder.Value{{State: decoder.ValueSet, Int: id}, {State: decoder.ValueSet, Int: customer}}
	}
	update := func(before, after []decoder.Value) connectors.Event {
		return connectors.Event{Kind: connectors.EventChange, Change: &decoder.Change{Op: decoder.OpUpdate, Table: table, Before: before, After: after}}
	}
	keys, err := transform.ParseKeyColumns(`public\.orders:customer`)
	if err != nil {
		t.Fatal(err)
	}
	missing, _ := transform.ParseKeyColumns(`public\.orders:nope`)
	for _, tc := range []struct {
		name string
		keys transform.Transform
		ev   connectors.Event
		want []string // key/value
	}{
		{"primary key changed, message key not", keys, update(row(1, 7), row(2, 7)), []string{"customer=7/u"}},
		{"message key changed", keys, update(row(1, 7), row(1, 8)), []string{"customer=7/d", "customer=7/<nil>", "customer=8/c"}},
		{"no message key columns: the primary key", nil, update(row(1, 7), row(2, 7)), []string{"id=1/d", "id=1/<nil>", "id=2/c"}},
		{"no message key columns, primary key unchanged", nil, update(row(1, 7), row(1, 8)), []string{"id=1/u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pipeline{enc: keyFlagEncoder{}, cfg: defaultConfig()}
			p.cfg.keyColumns = tc.keys
			s := newEncodeStage(p, offsets.Position{})
			b := &batch{}
			it, err := s.stage(t.Context(), tc.ev, b)
			if err != nil || it.err != nil {
				t.Fatalf("stage: %v, %v", err, it.err)
			}
			var got []string
			for _, r := range b.recs[it.lo:it.hi] {
				v := "<nil>"
				if r.Value != nil {
					v = string(r.Value)
				}
				got = append(got, string(r.Key)+"/"+v)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("records %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("a column the table lacks", func(t *testing.T) {
		p := &Pipeline{enc: keyFlagEncoder{}, cfg: defaultConfig()}
		p.cfg.keyColumns = missing
		s := newEncodeStage(p, offsets.Position{})
		it, err := s.stage(t.Context(), update(row(1, 7), row(1, 8)), &batch{})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(it.err, transform.ErrNoKeyColumn) {
			t.Errorf("error %v, want ErrNoKeyColumn", it.err)
		}
	})
}
