package mysql

import "testing"

func TestBytesBehind(t *testing.T) {
	files := []binlogFile{{"b.000001", 1000}, {"b.000002", 500}, {"b.000003", 200}}
	for _, c := range []struct {
		file string
		pos  uint64
		want int64
		ok   bool
	}{
		{"b.000001", 400, 600 + 500 + 200, true},
		{"b.000003", 200, 0, true},
		{"b.000002", 4, 496 + 200, true},
		{"b.000000", 4, 0, false}, // purged
	} {
		got, ok := bytesBehind(files, c.file, c.pos)
		if got != c.want || ok != c.ok {
			t.Errorf("bytesBehind(%s:%d) = %d, %v; want %d, %v", c.file, c.pos, got, ok, c.want, c.ok)
		}
	}
}
