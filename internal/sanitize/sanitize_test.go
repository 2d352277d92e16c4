package sanitize

import "testing"

func letter(c byte) bool { return c >= 'a' && c <= 'z' }

func letterOrDigit(c byte) bool { return letter(c) || c >= '0' && c <= '9' }

// TestReplace checks the UTF-16 counting and the first-byte rule on a small charset; the
// callers' tests (transform, format/avro) check their own charsets.
func TestReplace(t *testing.T) {
	cs := NewCharset(letter, letterOrDigit)
	for in, want := range map[string]string{
		"":       "",
		"abc1":   "abc1",
		"1abc":   "_abc",
		"a-b":    "a_b",
		"é":      "_",   // one character, two UTF-8 bytes: one '_'
		"日本":     "__",  // one '_' per character of the BMP
		"😀x":     "__x", // past the BMP: two UTF-16 units
		"a\xffb": "a_b", // invalid UTF-8: one '_' per byte
		"éa":     "_a",  // a non-ASCII first character is replaced like any other
	} {
		if got := Replace(in, cs); got != want {
			t.Errorf("Replace(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReplaceCleanDoesNotAllocate: the topic of every record goes through Replace.
func TestReplaceCleanDoesNotAllocate(t *testing.T) {
	cs := NewCharset(letter, letterOrDigit)
	s := "abc123"
	if n := testing.AllocsPerRun(100, func() { _ = Replace(s, cs) }); n != 0 {
		t.Errorf("Replace of a clean name: %v allocations, want 0", n)
	}
}
