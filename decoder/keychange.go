package decoder

import "bytes"

// SplitKeyChange tells whether c is an update that changed the row's key and, if so, returns
// the two changes Debezium emits for it instead: a delete of the old key (with c's Before) and
// a create of the new key (with c's After). Consumers of a compacted topic then see the old key
// deleted rather than an update filed under the new key. Both share c's memory.
func SplitKeyChange(c *Change) (del, create *Change, split bool) {
	if c.Op != OpUpdate || c.Before == nil || c.After == nil || !keyChanged(c) {
		return nil, nil, false
	}
	d := *c
	d.Op, d.After = OpDelete, nil
	cr := *c
	cr.Op, cr.Before, cr.NewKey = OpCreate, nil, true
	return &d, &cr, true
}

func keyChanged(c *Change) bool {
	for i, col := range c.Table.Columns {
		if !col.Key || i >= len(c.Before) || i >= len(c.After) {
			continue
		}
		if !equalValues(c.Before[i], c.After[i]) {
			return true
		}
	}
	return false
}

func equalValues(a, b Value) bool {
	if a.State != b.State || a.Int != b.Int || a.Float != b.Float || a.Scale != b.Scale ||
		!bytes.Equal(a.Bytes, b.Bytes) || len(a.Elems) != len(b.Elems) {
		return false
	}
	for i := range a.Elems {
		if !equalValues(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}
