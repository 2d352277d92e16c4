package main

import (
	"slices"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func TestSkippedOperations(t *testing.T) {
	for _, c := range []struct {
		items []string
		ops   []decoder.Op
		set   bool
		bad   bool
	}{
		{nil, nil, false, false},
		{[]string{"none"}, nil, true, false},
		{[]string{"t"}, []decoder.Op{decoder.OpTruncate}, true, false},
		{[]string{"c", "u", "d", "t"}, []decoder.Op{decoder.OpCreate, decoder.OpUpdate, decoder.OpDelete, decoder.OpTruncate}, true, false},
		{[]string{"r"}, nil, false, true},
		{[]string{"x"}, nil, false, true},
		{[]string{"none", "t"}, nil, false, true},
		{[]string{"t", "t"}, nil, false, true},
	} {
		errs := validateSkippedOperations(c.items)
		if c.bad {
			if len(errs) == 0 || errs[0].Name != "skipped_operations" {
				t.Errorf("%q: %v, want an error on skipped_operations", c.items, errs)
			}
			continue
		}
		if len(errs) != 0 {
			t.Errorf("%q: %v", c.items, errs)
		}
		ops, set := skippedOperations(c.items)
		if set != c.set || !slices.Equal(ops, c.ops) {
			t.Errorf("%q: %v %v, want %v %v", c.items, ops, set, c.ops, c.set)
		}
	}
}
