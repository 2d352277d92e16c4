package avro

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func namedTable(ns, name string) *decoder.Table {
	return &decoder.Table{Namespace: ns, Name: name, Version: 1, Columns: []decoder.Column{{Name: "id", Type: decoder.TypeInt32, Key: true}}}
}

func TestEncoderSanitisesTopicAndNames(t *testing.T) {
	reg := newFakeRegistry()
	e := newTestEncoder(t, reg)
	tbl := namedTable("my schema", "Ümlaut Tab")
	topic, _, _, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpCreate, Table: tbl, After: []decoder.Value{set(decoder.Value{Int: 1})}})
	if err != nil {
		t.Fatal(err)
	}
	if topic != "cdc.my_schema._mlaut_Tab" {
		t.Errorf("topic = %q", topic)
	}
	subj := reg.subjects["cdc.my_schema._mlaut_Tab-value"]
	if len(subj) != 1 || !strings.Contains(subj[0].Schema, `"namespace":"cdc.my_schema._mlaut_Tab"`) {
		t.Errorf("value subject: %v (all: %v)", subj, reg.subjects)
	}
}

func TestEncoderRefusesTwoTablesOfOneName(t *testing.T) {
	for _, c := range []struct {
		a, b [2]string
		what string
	}{
		{[2]string{"s", "a b"}, [2]string{"s", "a_b"}, "topic"},
		{[2]string{"s", "a.b"}, [2]string{"s.a", "b"}, "topic"},
		{[2]string{"s", "a-b"}, [2]string{"s", "a_b"}, "record name"},
	} {
		e := newTestEncoder(t, newFakeRegistry())
		enc := func(tbl [2]string) error {
			_, _, _, err := e.Encode(context.Background(), &decoder.Change{Op: decoder.OpCreate, Table: namedTable(tbl[0], tbl[1]),
				After: []decoder.Value{set(decoder.Value{Int: 1})}})
			return err
		}
		if err := enc(c.a); err != nil {
			t.Fatal(err)
		}
		if err := enc(c.a); err != nil { // the same table again (a new version, say) is no collision
			t.Fatal(err)
		}
		err := enc(c.b)
		nc, ok := errors.AsType[*NameCollisionError](err)
		if !ok || nc.What != c.what || nc.First != c.a || nc.Second != c.b || nc.Retryable() || !errors.Is(err, ErrSchema) {
			t.Errorf("%q then %q: %v, want a %s collision", c.a, c.b, err, c.what)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.a[1]) || !strings.Contains(msg, c.b[1]) {
			t.Errorf("error does not name both tables: %s", msg)
		}
	}
}
