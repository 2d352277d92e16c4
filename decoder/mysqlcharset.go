package decoder

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// mysqlCharset says how a text column's bytes, as the binlog carries them, become UTF-8.
type mysqlCharset uint8

const (
	// charsetUTF8: utf8mb4, utf8mb3 (utf8) and ascii bytes are UTF-8 already.
	charsetUTF8 mysqlCharset = iota
	// charsetLatin1: MySQL's latin1, which is Windows-1252 with its five undefined bytes
	// mapped to the C1 controls of the same code, as the server converts them.
	charsetLatin1
	// charsetUTF16BE: utf16 and ucs2 (big-endian code units).
	charsetUTF16BE
	// charsetUTF16LE: utf16le.
	charsetUTF16LE
	// charsetUTF32BE: utf32.
	charsetUTF32BE
)

// lookupMySQLCharset returns the conversion for a CHARACTER_SET_NAME; "" (no charset known,
// e.g. from a DDL without one) is read as UTF-8.
func lookupMySQLCharset(name string) (mysqlCharset, error) {
	switch strings.ToLower(name) {
	case "", "utf8mb4", "utf8mb3", "utf8", "ascii":
		return charsetUTF8, nil
	case "latin1":
		return charsetLatin1, nil
	case "utf16", "ucs2":
		return charsetUTF16BE, nil
	case "utf16le":
		return charsetUTF16LE, nil
	case "utf32":
		return charsetUTF32BE, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrMySQLUnsupportedCharset, name)
}

// cp1252High maps latin1 bytes 0x80..0x9f to their code points; 0xa0..0xff are U+00A0..U+00FF.
var cp1252High = [32]rune{
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
}

// toUTF8 converts src from the charset, writing into memory from the arena. It returns false
// when src is not valid in the charset (odd length for UTF-16, a lone surrogate...).
func (cs mysqlCharset) toUTF8(src []byte, a *mysqlArena) ([]byte, bool) {
	switch cs {
	case charsetLatin1:
		ascii := true
		for _, c := range src {
			if c >= 0x80 {
				ascii = false
				break
			}
		}
		if ascii {
			return a.copyBytes(src), true
		}
		out := a.start(3 * len(src))
		for _, c := range src {
			switch {
			case c < 0x80:
				out = append(out, c)
			case c < 0xa0:
				out = utf8.AppendRune(out, cp1252High[c-0x80])
			default:
				out = utf8.AppendRune(out, rune(c))
			}
		}
		return a.commit(out), true
	case charsetUTF16BE, charsetUTF16LE:
		if len(src)%2 != 0 {
			return nil, false
		}
		out := a.start(3 * len(src) / 2)
		for i := 0; i+1 < len(src); i += 2 {
			r := rune(src[i])<<8 | rune(src[i+1])
			if cs == charsetUTF16LE {
				r = rune(src[i+1])<<8 | rune(src[i])
			}
			if r >= 0xd800 && r < 0xdc00 { // high surrogate: a low one must follow
				if i+3 >= len(src) {
					return nil, false
				}
				lo := rune(src[i+2])<<8 | rune(src[i+3])
				if cs == charsetUTF16LE {
					lo = rune(src[i+3])<<8 | rune(src[i+2])
				}
				if lo < 0xdc00 || lo > 0xdfff {
					return nil, false
				}
				r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
				i += 2
			} else if r >= 0xdc00 && r <= 0xdfff {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
		}
		return a.commit(out), true
	case charsetUTF32BE:
		if len(src)%4 != 0 {
			return nil, false
		}
		out := a.start(len(src))
		for i := 0; i+3 < len(src); i += 4 {
			r := rune(src[i])<<24 | rune(src[i+1])<<16 | rune(src[i+2])<<8 | rune(src[i+3])
			if !utf8.ValidRune(r) {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
		}
		return a.commit(out), true
	}
	return src, true
}

// mysqlArena hands out memory for decoded values in chunks, so that a row costs no allocation
// per value. A chunk is never reused: a Value's Bytes stay valid for as long as the Value is
// kept, however many rows are decoded after it.
type mysqlArena struct {
	buf []byte
}

const (
	mysqlArenaChunk = 16 << 10
	// mysqlArenaMax is the largest piece taken from a chunk; larger ones get their own memory
	// so that one big value does not waste a chunk.
	mysqlArenaMax = 1 << 10
)

// start returns an empty slice with room for at most n bytes, to append to and then commit.
func (a *mysqlArena) start(n int) []byte {
	if n > mysqlArenaMax {
		return make([]byte, 0, n)
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, mysqlArenaChunk)
	}
	return a.buf[len(a.buf):len(a.buf)]
}

// commit takes the bytes appended to a slice from start out of the arena and returns them
// with their capacity capped, so that appending to a Value never writes into a neighbour.
func (a *mysqlArena) commit(b []byte) []byte {
	if len(b) > 0 && cap(a.buf)-len(a.buf) >= len(b) && &a.buf[:len(a.buf)+1][len(a.buf)] == &b[0] {
		a.buf = a.buf[:len(a.buf)+len(b)]
	}
	return b[:len(b):len(b)]
}

func (a *mysqlArena) copyBytes(src []byte) []byte {
	return a.commit(append(a.start(len(src)), src...))
}

func (a *mysqlArena) copyString(src string) []byte {
	return a.commit(append(a.start(len(src)), src...))
}
