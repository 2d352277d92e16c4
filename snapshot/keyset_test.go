package snapshot

import "testing"

func TestKeysetWhere(t *testing.T) {
	for _, tt := range []struct{ after, upTo, want string }{
		{"", "", ""},
		{"1, 'x'", "", ` WHERE ("a", "b") > (1, 'x')`},
		{"", "?, ?", ` WHERE ("a", "b") <= (?, ?)`},
		{"?, ?", "?, ?", ` WHERE ("a", "b") > (?, ?) AND ("a", "b") <= (?, ?)`},
	} {
		if got := KeysetWhere(`"a", "b"`, tt.after, tt.upTo); got != tt.want {
			t.Errorf("KeysetWhere(%q, %q) = %q, want %q", tt.after, tt.upTo, got, tt.want)
		}
	}
}
