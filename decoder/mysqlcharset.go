package decoder

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/transform"
)

// mysqlCharset says how a text column's stored bytes (as the binlog carries them, and as a
// snapshot reads them) become UTF-8. The zero value is UTF-8 already.
type mysqlCharset struct {
	kind charsetKind
	// single maps each byte of a single-byte charset to its code point (kind charsetSingle).
	single *[256]rune
	// multi decodes a multi-byte charset (kind charsetMulti).
	multi encoding.Encoding
	// fix maps the code points where multi's table differs from the server's to the server's.
	fix map[rune]rune
	// own, for a charset with byte sequences x/text maps otherwise than the server (a
	// user-defined area, vendor extensions), reads the character at the start of src (never
	// empty): its length and, for such a sequence, the code point the server maps it to.
	own func(src []byte) (size int, r rune, ok bool)
}

// charsetKind is the kind of conversion a mysqlCharset does.
type charsetKind uint8

const (
	// charsetUTF8: utf8mb4, utf8mb3 (utf8) and ascii bytes are UTF-8 already.
	charsetUTF8 charsetKind = iota
	// charsetSingle: a single-byte charset, by a table.
	charsetSingle
	// charsetUTF16BE: utf16 and ucs2 (big-endian code units).
	charsetUTF16BE
	// charsetUTF16LE: utf16le.
	charsetUTF16LE
	// charsetUTF32BE: utf32.
	charsetUTF32BE
	// charsetMulti: a multi-byte legacy charset (the CJK ones), by golang.org/x/text.
	charsetMulti
)

// mysqlSingleByte are the single-byte charsets: golang.org/x/text's table of the same code
// page, with the bytes where the server's own table differs put back to the server's code
// point (MariaDB 10.11's, checked character by character by TestMySQLCharsetsDecodeAsTheServer
// in integration). A byte the server leaves undefined (it converts it to '?') becomes
// U+FFFD or x/text's character; only raw bytes written to the column can hold one.
var mysqlSingleByte = map[string]*[256]rune{
	// MySQL's latin1 is Windows-1252 with its five undefined bytes mapped to the C1 controls of
	// the same code, as the server converts them.
	"latin1": singleByteTable(charmap.Windows1252, c1Controls(0x81, 0x8d, 0x8f, 0x90, 0x9d)),
	// The ISO 8859 charsets have the C1 controls at 0x80..0x9f.
	"latin2": singleByteTable(charmap.ISO8859_2, c1Controls(c1Range()...)),
	"latin5": singleByteTable(charmap.ISO8859_9, nil),
	"latin7": singleByteTable(charmap.ISO8859_13, c1Controls(c1Range()...)),
	// MySQL's greek is ISO 8859-7:1987: 0xa1 and 0xa2 are the modifier letters, and 0xa4,
	// 0xa5 and 0xaa, added in 2003, are undefined.
	"greek": singleByteTable(charmap.ISO8859_7, merge(c1Controls(c1Range()...),
		map[byte]rune{0xa1: 0x02bd, 0xa2: 0x02bc, 0xa4: 0xfffd, 0xa5: 0xfffd, 0xaa: 0xfffd})),
	// MySQL's hebrew has the overline at 0xaf (ISO 8859-8:1988).
	"hebrew": singleByteTable(charmap.ISO8859_8, merge(c1Controls(c1Range()...), map[byte]rune{0xaf: 0x203e})),
	// MySQL's tis620 is TIS-620 itself: C1 controls where Windows-874 has its additions.
	"tis620":   singleByteTable(charmap.Windows874, c1Controls(c1Range()...)),
	"cp1250":   singleByteTable(charmap.Windows1250, nil),
	"cp1251":   singleByteTable(charmap.Windows1251, nil),
	"cp1256":   singleByteTable(charmap.Windows1256, nil),
	"cp1257":   singleByteTable(charmap.Windows1257, nil),
	"cp850":    singleByteTable(charmap.CodePage850, nil),
	"cp852":    singleByteTable(charmap.CodePage852, nil),
	"cp866":    singleByteTable(charmap.CodePage866, map[byte]rune{0xfc: 0x207f, 0xfd: 0x00b2}),
	"koi8r":    singleByteTable(charmap.KOI8R, nil),
	"koi8u":    singleByteTable(charmap.KOI8U, map[byte]rune{0x95: 0x2022, 0xae: 0x255d, 0xbe: 0x256c}),
	"macroman": singleByteTable(charmap.Macintosh, nil),
}

// mysqlMultiByte are the multi-byte legacy charsets, decoded with golang.org/x/text's WHATWG
// tables, which are supersets of MySQL's (Big5-HKSCS for big5, windows-31j for sjis, UHC for
// euckr, GBK for gb2312), with the code points where MariaDB's table differs put back (see
// docs/mysql.md for the few that remain); a byte sequence invalid in the charset becomes
// U+FFFD.
var mysqlMultiByte = map[string]mysqlCharset{
	// MySQL's big5 has eleven symbols at other code points than Big5-HKSCS, and the ETEN
	// extensions where Big5-HKSCS has its own characters.
	"big5": {kind: charsetMulti, multi: traditionalchinese.Big5, fix: map[rune]rune{0x2027: 0x2022, 0x00af: 0x203e,
		0xff5e: 0x223c, 0x2295: 0x2641, 0x2299: 0x2609, 0xffe5: 0x00a5, 0xffe0: 0x00a2, 0xffe1: 0x00a3,
		0x2215: 0xff0f, 0xfe68: 0xff3c, 0xfe51: 0xff64}, own: big5ETEN},
	"gbk":    {kind: charsetMulti, multi: simplifiedchinese.GBK},
	"gb2312": {kind: charsetMulti, multi: simplifiedchinese.GBK, fix: map[rune]rune{0x2014: 0x2015, 0x00b7: 0x30fb}},
	// MySQL 8 only: not checked against a server here.
	"gb18030": {kind: charsetMulti, multi: simplifiedchinese.GB18030},
	// MySQL's sjis and ujis are JIS X 0208 as JIS maps it, where windows-31j has fullwidth
	// forms and other code points for six characters (the wave dash among them); sjis stores
	// the backslash as 0x815F.
	"sjis":    {kind: charsetMulti, multi: japanese.ShiftJIS, fix: withFix(jisX0208Fix, 0xff3c, 0x005c)},
	"cp932":   {kind: charsetMulti, multi: japanese.ShiftJIS, own: sjisUserDefined},
	"ujis":    {kind: charsetMulti, multi: japanese.EUCJP, fix: jisX0208Fix, own: eucJPUserDefined},
	"eucjpms": {kind: charsetMulti, multi: japanese.EUCJP, fix: map[rune]rune{0x00a6: 0xffe4}, own: eucJPUserDefined},
	"euckr":   {kind: charsetMulti, multi: korean.EUCKR},
}

// jisX0208Fix puts back the six JIS X 0208 characters that windows-31j (WHATWG's Shift_JIS
// and EUC-JP) maps to other code points than JIS and MySQL do.
var jisX0208Fix = map[rune]rune{0xffe0: 0x00a2, 0xffe1: 0x00a3, 0xffe2: 0x00ac, 0x2225: 0x2016, 0xff0d: 0x2212, 0xff5e: 0x301c}

// withFix returns a copy of fix with from mapped to to as well.
func withFix(fix map[rune]rune, from, to rune) map[rune]rune {
	out := maps.Clone(fix)
	out[from] = to
	return out
}

// c1Range returns the bytes 0x80..0x9f, where ISO 8859 has its C1 controls.
func c1Range() []byte {
	b := make([]byte, 0, 32)
	for c := 0x80; c < 0xa0; c++ {
		b = append(b, byte(c))
	}
	return b
}

// c1Controls maps each of bytes to the C1 control of the same code.
func c1Controls(bytes ...byte) map[byte]rune {
	m := make(map[byte]rune, len(bytes))
	for _, b := range bytes {
		m[b] = rune(b)
	}
	return m
}

// merge adds b's entries to a and returns a.
func merge(a, b map[byte]rune) map[byte]rune {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// singleByteTable builds the table of a single-byte charset from cm, with the bytes of over
// mapped otherwise.
func singleByteTable(cm *charmap.Charmap, over map[byte]rune) *[256]rune {
	var t [256]rune
	for b := range t {
		t[b] = cm.DecodeByte(byte(b))
		if r, ok := over[byte(b)]; ok {
			t[b] = r
		}
	}
	return &t
}

// lookupMySQLCharset returns the conversion for a CHARACTER_SET_NAME; "" (no charset known,
// e.g. from a DDL without one) is read as UTF-8.
func lookupMySQLCharset(name string) (mysqlCharset, error) {
	name = strings.ToLower(name)
	switch name {
	case "", "utf8mb4", "utf8mb3", "utf8", "ascii":
		return mysqlCharset{kind: charsetUTF8}, nil
	case "utf16", "ucs2":
		return mysqlCharset{kind: charsetUTF16BE}, nil
	case "utf16le":
		return mysqlCharset{kind: charsetUTF16LE}, nil
	case "utf32":
		return mysqlCharset{kind: charsetUTF32BE}, nil
	}
	if t, ok := mysqlSingleByte[name]; ok {
		return mysqlCharset{kind: charsetSingle, single: t}, nil
	}
	if cs, ok := mysqlMultiByte[name]; ok {
		return cs, nil
	}
	return mysqlCharset{}, fmt.Errorf("%w: %q", ErrMySQLUnsupportedCharset, name)
}

// utf8Already tells whether the charset's bytes are UTF-8 as they are.
func (cs mysqlCharset) utf8Already() bool { return cs.kind == charsetUTF8 }

// toUTF8 converts src from the charset, writing into memory from the arena. It returns false
// when src is not valid in the charset (odd length for UTF-16, a lone surrogate...).
func (cs mysqlCharset) toUTF8(src []byte, a *mysqlArena) ([]byte, bool) {
	switch cs.kind {
	case charsetSingle:
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
			if c < 0x80 {
				out = append(out, c)
			} else {
				out = utf8.AppendRune(out, cs.single[c])
			}
		}
		return a.commit(out), true
	case charsetMulti:
		// No character of these charsets takes more than 3 UTF-8 bytes per byte (an invalid
		// byte becomes the 3 of U+FFFD).
		out := a.start(3*len(src) + utf8.UTFMax)
		dec := cs.multi.NewDecoder()
		ok := true
		start := 0
		for i := 0; cs.own != nil && i < len(src) && ok; {
			size, r, ud := cs.own(src[i:])
			if ud {
				out, ok = appendDecoded(dec, out, src[start:i])
				out = utf8.AppendRune(out, r)
				start = i + size
			}
			i += size
		}
		if ok {
			out, ok = appendDecoded(dec, out, src[start:])
		}
		if !ok {
			return nil, false
		}
		if cs.fix != nil {
			out = cs.fixRunes(out)
		}
		return a.commit(out), true
	case charsetUTF16BE, charsetUTF16LE:
		if len(src)%2 != 0 {
			return nil, false
		}
		out := a.start(3 * len(src) / 2)
		for i := 0; i+1 < len(src); i += 2 {
			r := rune(src[i])<<8 | rune(src[i+1])
			if cs.kind == charsetUTF16LE {
				r = rune(src[i+1])<<8 | rune(src[i])
			}
			if r >= 0xd800 && r < 0xdc00 { // high surrogate: a low one must follow
				if i+3 >= len(src) {
					return nil, false
				}
				lo := rune(src[i+2])<<8 | rune(src[i+3])
				if cs.kind == charsetUTF16LE {
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

// appendDecoded appends src, decoded by dec, to out.
func appendDecoded(dec *encoding.Decoder, out, src []byte) ([]byte, bool) {
	if len(src) == 0 {
		return out, true
	}
	dec.Reset()
	n, _, err := dec.Transform(out[len(out):cap(out)], src, true)
	if errors.Is(err, transform.ErrShortDst) {
		b, err := dec.Bytes(src)
		return append(out, b...), err == nil
	}
	return out[:len(out)+n], err == nil
}

// big5Run is a run of Big5 codes (within one lead byte) that MariaDB maps to consecutive code
// points.
type big5Run struct {
	code  uint16
	first rune
	n     uint16
}

// big5ETENRuns are MariaDB's mapping of the ETEN extensions (kana, Cyrillic, enclosed
// numbers, 0xC6A1-0xC7FC) and of 0xA2CE, where Big5-HKSCS has other characters.
var big5ETENRuns = []big5Run{
	{0xa2ce, 0xfffd, 1},
	{0xc6a1, 0x30fe, 1}, {0xc6a2, 0x309d, 2}, {0xc6a4, 0x3005, 1}, {0xc6a5, 0x3041, 83}, {0xc6f8, 0x30a1, 7},
	{0xc740, 0x30a8, 63}, {0xc7a1, 0x30e7, 16}, {0xc7b1, 0x0414, 2}, {0xc7b3, 0x0401, 1}, {0xc7b4, 0x0416, 7},
	{0xc7bb, 0x0423, 19}, {0xc7ce, 0x0451, 1}, {0xc7cf, 0x0436, 26}, {0xc7e9, 0x2460, 10}, {0xc7f3, 0x2474, 10},
}

// big5ETEN reads the Big5 character at the start of src: its length and, for a code of
// big5ETENRuns, the code point MariaDB maps it to.
func big5ETEN(src []byte) (size int, r rune, ok bool) {
	if src[0] < 0x80 || len(src) < 2 {
		return 1, 0, false
	}
	code := uint16(src[0])<<8 | uint16(src[1])
	for _, run := range big5ETENRuns {
		if code >= run.code && code < run.code+run.n {
			return 2, run.first + rune(code-run.code), true
		}
	}
	return 2, 0, false
}

// sjisUserDefined reads the Shift-JIS character at the start of src: its length and, in the
// user-defined area 0xF040-0xF9FC, the private-use code point MariaDB maps it to (U+E000 on,
// 188 a row), which x/text does not.
func sjisUserDefined(src []byte) (size int, r rune, ok bool) {
	b := src[0]
	if b < 0x80 || b >= 0xa1 && b <= 0xdf || len(src) < 2 {
		return 1, 0, false
	}
	if t := src[1]; b >= 0xf0 && b <= 0xf9 && t >= 0x40 && t <= 0xfc && t != 0x7f {
		off := rune(t) - 0x40
		if t > 0x7f {
			off--
		}
		return 2, 0xe000 + rune(b-0xf0)*188 + off, true
	}
	return 2, 0, false
}

// eucJPUserDefined reads the EUC-JP character at the start of src: its length and, in the
// user-defined areas (rows 0xF5-0xFE of JIS X 0208, U+E000 on, and of JIS X 0212, U+E3AC on,
// 94 a row), the private-use code point MariaDB maps it to, which x/text does not.
func eucJPUserDefined(src []byte) (size int, r rune, ok bool) {
	inArea := func(lead, trail byte) bool { return lead >= 0xf5 && lead <= 0xfe && trail >= 0xa1 && trail <= 0xfe }
	switch b := src[0]; {
	case b < 0x80:
		return 1, 0, false
	case b == 0x8f:
		if len(src) >= 3 && inArea(src[1], src[2]) {
			return 3, 0xe3ac + rune(src[1]-0xf5)*94 + rune(src[2]-0xa1), true
		}
		return min(3, len(src)), 0, false
	default:
		if len(src) >= 2 && inArea(b, src[1]) {
			return 2, 0xe000 + rune(b-0xf5)*94 + rune(src[1]-0xa1), true
		}
		return min(2, len(src)), 0, false
	}
}

// fixRunes replaces in b, UTF-8 from cs.multi, the code points of cs.fix: in place while no
// replacement is longer than what it replaces, in new memory from the first that is.
func (cs mysqlCharset) fixRunes(b []byte) []byte {
	out, inPlace := b[:0], true
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		f, ok := cs.fix[r]
		if ok && inPlace && utf8.RuneLen(f) > size {
			out, inPlace = append(make([]byte, 0, len(b)+len(b)/2), out...), false
		}
		if ok {
			out = utf8.AppendRune(out, f)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

// MySQLConvertedText tells whether a column's values are text in a character set that is not
// UTF-8 (char, varchar and the text types, except of the binary charset), which the row
// decoder converts from the column's stored bytes. The binlog carries those bytes; a snapshot
// must read them too (CAST(column AS BINARY)) rather than the server's conversion to the
// connection's utf8mb4, or the decoder converts the value a second time. For such a column it
// also returns that conversion, for a snapshot's key values. UTF-8 text reads the same either
// way; ENUM and SET are not converted: the binlog carries their index, decoded with labels
// the server gives in UTF-8, as it gives a snapshot's. A column that does not map (an
// unsupported charset) is not either: its table is refused before any read.
func MySQLConvertedText(def MySQLColumnDef) (toUTF8 func([]byte) (string, error), ok bool) {
	c, _, err := mysqlColumnPlan(def)
	if err != nil || c.Type != TypeString {
		return nil, false
	}
	ct, err := parseMySQLColumnType(def.ColumnType)
	if err != nil {
		return nil, false
	}
	charset := def.Charset
	if ct.charset != "" {
		charset = ct.charset
	}
	cs, err := lookupMySQLCharset(charset)
	if err != nil || cs.utf8Already() {
		return nil, false
	}
	return func(b []byte) (string, error) {
		var a mysqlArena
		out, ok := cs.toUTF8(b, &a)
		if !ok {
			return "", mysqlBadValue("text in the column's character set", b)
		}
		return string(out), nil
	}, true
}
