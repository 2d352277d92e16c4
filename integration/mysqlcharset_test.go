package integration

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/decoder"
)

// mysqlCharsetColumn is one column of TestMySQLCharsetsSnapshotAndStreamAgree: its definition
// and the value written to it through a utf8mb4 connection (a string for text, []byte for
// bytes), which the server converts into the column's character set.
type mysqlCharsetColumn struct {
	name, def string
	value     any
	// want is what the record must hold when it is not value itself (binary(n)'s padding).
	want any
}

// mysqlCharsetColumns are a column per character set MariaDB offers that cdcd decodes, text
// with _bin collations, the binary types, and ENUM/SET in non-UTF-8 character sets. Each value
// uses characters outside ASCII that the character set holds.
var mysqlCharsetColumns = []mysqlCharsetColumn{
	{name: "c_latin1", def: "VARCHAR(40) CHARACTER SET latin1", value: "café €‰Ÿ ÿ"},
	{name: "c_latin1_bin", def: "VARCHAR(40) CHARACTER SET latin1 COLLATE latin1_bin", value: "Ærøskøbing"},
	{name: "c_latin1_text", def: "TEXT CHARACTER SET latin1", value: "Müller – “quoted”"},
	{name: "c_latin1_char", def: "CHAR(12) CHARACTER SET latin1", value: "naïve"},
	{name: "c_latin2", def: "VARCHAR(40) CHARACTER SET latin2", value: "Příliš žluťoučký kůň"},
	{name: "c_latin5", def: "VARCHAR(40) CHARACTER SET latin5", value: "İstanbul ğüşöç"},
	{name: "c_latin7", def: "VARCHAR(40) CHARACTER SET latin7", value: "Ąžuolas ėū"},
	{name: "c_cp1250", def: "VARCHAR(40) CHARACTER SET cp1250", value: "Zażółć gęślą jaźń"},
	{name: "c_cp1251", def: "VARCHAR(40) CHARACTER SET cp1251", value: "Привет, мир №"},
	{name: "c_cp1251_bin", def: "VARCHAR(40) CHARACTER SET cp1251 COLLATE cp1251_bin", value: "Ёлка"},
	{name: "c_cp1256", def: "VARCHAR(40) CHARACTER SET cp1256", value: "مرحبا بالعالم"},
	{name: "c_cp1257", def: "VARCHAR(40) CHARACTER SET cp1257", value: "Ąčęėįšųūž"},
	{name: "c_cp850", def: "VARCHAR(40) CHARACTER SET cp850", value: "Ñandú ½"},
	{name: "c_cp852", def: "VARCHAR(40) CHARACTER SET cp852", value: "Łódź"},
	{name: "c_cp866", def: "VARCHAR(40) CHARACTER SET cp866", value: "Ёжик в тумане"},
	{name: "c_koi8r", def: "VARCHAR(40) CHARACTER SET koi8r", value: "Съешь же ещё"},
	{name: "c_koi8u", def: "VARCHAR(40) CHARACTER SET koi8u", value: "Україна ґ є ї"},
	{name: "c_greek", def: "VARCHAR(40) CHARACTER SET greek", value: "Καλημέρα κόσμε"},
	{name: "c_hebrew", def: "VARCHAR(40) CHARACTER SET hebrew", value: "שלום עולם"},
	{name: "c_macroman", def: "VARCHAR(40) CHARACTER SET macroman", value: "Crème brûlée ƒ"},
	{name: "c_tis620", def: "VARCHAR(40) CHARACTER SET tis620", value: "สวัสดี"},
	{name: "c_gbk", def: "VARCHAR(40) CHARACTER SET gbk", value: "中文测试"},
	{name: "c_gb2312", def: "VARCHAR(40) CHARACTER SET gb2312", value: "简体中文"},
	{name: "c_big5", def: "VARCHAR(40) CHARACTER SET big5", value: "繁體中文"},
	{name: "c_sjis", def: "VARCHAR(40) CHARACTER SET sjis", value: "日本語のテキスト"},
	{name: "c_cp932", def: "VARCHAR(40) CHARACTER SET cp932", value: "ｶﾀｶﾅ①"},
	{name: "c_ujis", def: "VARCHAR(40) CHARACTER SET ujis", value: "ひらがな漢字"},
	{name: "c_eucjpms", def: "VARCHAR(40) CHARACTER SET eucjpms", value: "カタカナ"},
	{name: "c_euckr", def: "VARCHAR(40) CHARACTER SET euckr", value: "한국어 텍스트"},
	{name: "c_ascii", def: "VARCHAR(40) CHARACTER SET ascii", value: "plain ascii ~"},
	{name: "c_ucs2", def: "VARCHAR(40) CHARACTER SET ucs2", value: "UCS-2 ✓ é"},
	{name: "c_ucs2_text", def: "TEXT CHARACTER SET ucs2", value: "ucs2 text ∑"},
	{name: "c_utf16", def: "VARCHAR(40) CHARACTER SET utf16", value: "UTF-16 😀 é"},
	{name: "c_utf16_char", def: "CHAR(10) CHARACTER SET utf16", value: "ab😀"},
	{name: "c_utf16le", def: "VARCHAR(40) CHARACTER SET utf16le", value: "UTF-16LE 😀 é"},
	{name: "c_utf32", def: "VARCHAR(40) CHARACTER SET utf32", value: "UTF-32 😀 é"},
	{name: "c_utf32_text", def: "MEDIUMTEXT CHARACTER SET utf32", value: "utf32 text 🎉"},
	{name: "c_utf8mb3", def: "VARCHAR(40) CHARACTER SET utf8mb3", value: "utf8mb3 é ✓"},
	{name: "c_utf8mb4", def: "VARCHAR(40) CHARACTER SET utf8mb4", value: "utf8mb4 😀 é"},
	{name: "c_utf8mb4_bin", def: "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", value: "bin 😀"},
	{name: "c_utf16_bin", def: "VARCHAR(40) CHARACTER SET utf16 COLLATE utf16_bin", value: "utf16 bin 😀"},
	{name: "c_varbinary", def: "VARBINARY(16)", value: []byte{0x00, 0xff, 0xe9, 0x80}},
	{name: "c_binary", def: "BINARY(4)", value: []byte{0x01, 0xe9}, want: []byte{0x01, 0xe9, 0, 0}},
	{name: "c_blob", def: "BLOB", value: []byte("caf\xe9\x00")},
	{name: "c_charset_binary", def: "VARCHAR(10) CHARACTER SET binary", value: []byte{0xc3, 0x28}},
	{name: "e_latin1", def: "ENUM('thé','café') CHARACTER SET latin1", value: "café"},
	// Not a label outside the BMP: MariaDB's information_schema (utf8mb3) gives it as '?'
	// (see docs/mysql.md).
	{name: "e_utf16", def: "ENUM('ä','€') CHARACTER SET utf16", value: "€"},
	{name: "s_cp1251", def: "SET('да','нет','ёж') CHARACTER SET cp1251", value: "да,ёж"},
	{name: "s_ucs2", def: "SET('α','β') CHARACTER SET ucs2", value: "α,β"},
	// MariaDB's information_schema (utf8mb3) gives a label beyond the Basic Multilingual
	// Plane as '?', and the labels come from there: the snapshot and the stream both say '?'
	// (see docs/mysql.md).
	{name: "e_emoji", def: "ENUM('a','😀') CHARACTER SET utf8mb4", value: "😀", want: "?"},
}

// mysqlCharsetKeys are the primary keys of a table keyed by latin1 text, read in chunks of two
// rows: the snapshot pages by key values that are not ASCII.
var mysqlCharsetKeys = []string{"a", "b", "café", "Ñandú", "Ärger", "über", "ÿ", "€uro", "ß"}

// createCharsetTables creates table cs, a column per mysqlCharsetColumns, and table ks, keyed
// by mysqlCharsetKeys, and returns the function that writes row id of cs. ks is filled.
func createCharsetTables(t *testing.T, m *MariaDB) (write func(id int)) {
	defs := []string{"id INT PRIMARY KEY"}
	names := []string{"id"}
	for _, c := range mysqlCharsetColumns {
		defs = append(defs, c.name+" "+c.def)
		names = append(names, c.name)
	}
	mustExecMySQL(t, m.DB, "CREATE TABLE cs ("+strings.Join(defs, ", ")+") DEFAULT CHARSET=utf8mb4")
	mustExecMySQL(t, m.DB, "CREATE TABLE ks (k VARCHAR(20) CHARACTER SET latin1 PRIMARY KEY, n INT NOT NULL)")
	for i, k := range mysqlCharsetKeys {
		mustExecMySQL(t, m.DB, "INSERT INTO ks VALUES (?, ?)", k, i)
	}
	// Keyed by an ENUM whose label order is not its index order, which ORDER BY follows.
	mustExecMySQL(t, m.DB, "CREATE TABLE es (e ENUM('ž','y','é','a') CHARACTER SET latin2 PRIMARY KEY, n INT NOT NULL)")
	mustExecMySQL(t, m.DB, "INSERT INTO es VALUES ('a', 0), ('é', 1), ('y', 2), ('ž', 3)")
	insert := "INSERT INTO cs (" + strings.Join(names, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ") + ")"
	return func(id int) {
		args := []any{id}
		for _, c := range mysqlCharsetColumns {
			args = append(args, c.value)
		}
		mustExecMySQL(t, m.DB, insert, args...)
	}
}

// checkCharsetRow checks a record of cs: op, and every column as written to row id, and the
// columns of extra.
func checkCharsetRow(t *testing.T, r ChangeRecord, op string, id int, extra map[string]any) {
	t.Helper()
	if r.Op() != op {
		t.Fatalf("cs row %d: op %s, want %s", id, r.Op(), op)
	}
	want := map[string]any{"id": id}
	for k, v := range extra {
		want[k] = v
	}
	for _, c := range mysqlCharsetColumns {
		want[c.name] = c.value
		if c.want != nil {
			want[c.name] = c.want
		}
	}
	expectRow(t, fmt.Sprintf("cs row %d (op %s)", id, op), r.After(), want)
}

// checkCharsetKeys checks the records of a table keyed by column col with the keys of want,
// and n the index of the key in want: each key once, with its row.
func checkCharsetKeys(t *testing.T, records []ChangeRecord, col string, want []string) {
	t.Helper()
	var gotKeys []string
	for _, r := range records {
		k, _ := Unwrap(r.After()[col]).(string)
		gotKeys = append(gotKeys, k)
		if n := toInt64(r.After()["n"]); n < 0 || int(n) >= len(want) || want[n] != k {
			t.Errorf("row n=%d has key %q", n, k)
		}
	}
	slices.Sort(gotKeys)
	wantKeys := slices.Sorted(slices.Values(want))
	if !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("keys = %q, want each of %q once", gotKeys, wantKeys)
	}
}

// mysqlEnumKeys are the keys of table es, by n.
var mysqlEnumKeys = []string{"a", "é", "y", "ž"}

// TestMySQLCharsetsSnapshotAndStreamAgree writes the same values in every character set a
// column can have once before cdcd starts (the snapshot reads them) and once while it streams
// (the binlog carries them), and checks that both records, decoded through the registry, hold
// exactly what was written. Tables ks, keyed by latin1 text, and es, keyed by an ENUM, are
// read two rows a chunk: the snapshot resumes after keys that are not ASCII, and after ENUM
// keys in index order.
func TestMySQLCharsetsSnapshotAndStreamAgree(t *testing.T) {
	m := NewMariaDB(t)
	write := createCharsetTables(t, m)
	write(1)
	c := NewMySQLConnector(t, m, "cs", "ks", "es")
	// The mysql section is the config's last: one more line of it.
	cdcd := StartCDCD(t, c.Config()+"      snapshot_chunk_rows: 2\n")
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("cs"))
	keys := NewAvroConsumer(t, c.RegistryURL(), c.Topic("ks"))
	enums := NewAvroConsumer(t, c.RegistryURL(), c.Topic("es"))
	// The snapshot's row first: the second one, written after the snapshot's point, is
	// streamed.
	checkCharsetRow(t, consumer.Collect(t, 1, 2*time.Minute)[0], "r", 1, nil)
	write(2)
	checkCharsetRow(t, consumer.Collect(t, 1, 2*time.Minute)[0], "c", 2, nil)
	checkCharsetKeys(t, keys.Collect(t, len(mysqlCharsetKeys), 2*time.Minute), "k", mysqlCharsetKeys)
	checkCharsetKeys(t, enums.Collect(t, len(mysqlEnumKeys), 2*time.Minute), "e", mysqlEnumKeys)
	// Columns added while streaming come from the DDL, not information_schema: the same
	// conversions.
	mustExecMySQL(t, m.DB, "ALTER TABLE cs ADD z_koi8u VARCHAR(20) CHARACTER SET koi8u, ADD z_utf16le TEXT CHARSET utf16le COLLATE utf16le_bin")
	mustExecMySQL(t, m.DB, "UPDATE cs SET z_koi8u = ?, z_utf16le = ? WHERE id = 2", "Ґанок", "😀 ü")
	checkCharsetRow(t, consumer.Collect(t, 1, 2*time.Minute)[0], "u", 2, map[string]any{"z_koi8u": "Ґанок", "z_utf16le": "😀 ü"})
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}

// TestMySQLCharsetsIncrementalSnapshot reads the tables of
// TestMySQLCharsetsSnapshotAndStreamAgree by an incremental snapshot, two rows a chunk: its
// chunks go through the same reads, and give the same values.
func TestMySQLCharsetsIncrementalSnapshot(t *testing.T) {
	m := NewMariaDB(t)
	write := createCharsetTables(t, m)
	write(1)
	mustExecMySQL(t, m.DB, `CREATE TABLE cdcd_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))`)
	c := NewMySQLConnector(t, m, "cs", "ks", "es")
	cdcd := StartCDCD(t, c.Config()+"      snapshot_mode: no_data\n      signal_table: "+m.Name+".cdcd_signal\n"+
		"      incremental_snapshot_chunk_rows: 2\n")
	consumer := NewAvroConsumer(t, c.RegistryURL(), c.Topic("cs"))
	keys := NewAvroConsumer(t, c.RegistryURL(), c.Topic("ks"))
	enums := NewAvroConsumer(t, c.RegistryURL(), c.Topic("es"))
	c.WaitReading(t, cdcd)
	mustExecMySQL(t, m.DB, `INSERT INTO cdcd_signal VALUES ('snap-1', 'execute-snapshot',
		'{"data-collections": ["`+m.Name+`.cs", "`+m.Name+`.ks", "`+m.Name+`.es"], "type": "incremental"}')`)
	checkCharsetRow(t, consumer.Collect(t, 1, 2*time.Minute)[0], "r", 1, nil)
	checkCharsetKeys(t, keys.Collect(t, len(mysqlCharsetKeys), 2*time.Minute), "k", mysqlCharsetKeys)
	checkCharsetKeys(t, enums.Collect(t, len(mysqlEnumKeys), 2*time.Minute), "e", mysqlEnumKeys)
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited %d after SIGTERM, want 0", code)
	}
}

// mysqlDecodedCharsets are the character sets cdcd decodes, as MariaDB names them.
var mysqlDecodedCharsets = []string{
	"ascii", "utf8mb3", "utf8mb4", "ucs2", "utf16", "utf16le", "utf32",
	"latin1", "latin2", "latin5", "latin7", "greek", "hebrew", "tis620", "cp1250", "cp1251", "cp1256", "cp1257",
	"cp850", "cp852", "cp866", "koi8r", "koi8u", "macroman",
	"big5", "gbk", "gb2312", "sjis", "cp932", "ujis", "eucjpms", "euckr",
}

// mysqlKnownDifference tells whether the server's character r, stored as raw in charset cs,
// is one of the differences docs/mysql.md lists: there cdcd's decoding (golang.org/x/text's
// WHATWG tables) and MariaDB's own conversion disagree.
func mysqlKnownDifference(cs string, r rune, raw []byte) bool {
	switch cs {
	case "eucjpms":
		// The IBM extensions of JIS X 0212 (0x8FF3F3-0x8FF4FE).
		return len(raw) == 3 && raw[0] == 0x8f && (raw[1] == 0xf3 || raw[1] == 0xf4)
	}
	return false
}

// TestMySQLCharsetsDecodeAsTheServer has MariaDB convert every character of the Basic
// Multilingual Plane and a sample beyond it into each character set cdcd decodes, and checks
// that cdcd's decoder turns the stored bytes into what the server turns them into itself,
// except for mysqlKnownDifference's few. It is what makes the tables of decoder/mysqlcharset.go
// trustworthy: the other tests only try a few characters each.
func TestMySQLCharsetsDecodeAsTheServer(t *testing.T) {
	m := NewMariaDB(t)
	var chars []rune
	for r := rune(0x20); r < 0x10000; r++ {
		if r < 0xd800 || r >= 0xe000 {
			chars = append(chars, r)
		}
	}
	chars = append(chars, 0x10000, 0x1f600, 0x1f64f, 0x20000, 0x2a6d6, 0x10fffd)
	const batch = 4000
	for _, cs := range mysqlDecodedCharsets {
		tbl, err := decoder.NewMySQLTable(m.Name, "t", []decoder.MySQLColumnDef{{Name: "c", ColumnType: "text", Charset: cs}}, 1)
		if err != nil {
			t.Fatalf("%s: %v", cs, err)
		}
		dec, err := decoder.NewMySQLRowDecoder(tbl)
		if err != nil {
			t.Fatalf("%s: %v", cs, err)
		}
		checked, known := 0, 0
		var wrong []string
		for i := 0; i < len(chars); i += batch {
			part := chars[i:min(i+batch, len(chars))]
			var in strings.Builder
			for _, r := range part {
				in.WriteRune(r)
				in.WriteByte('\n')
			}
			var stored []byte
			var back string
			// The server's conversion of each character into cs, and of that back to utf8mb4.
			err := m.DB.QueryRowContext(t.Context(), "SELECT CAST(CONVERT(? USING "+cs+") AS BINARY), CONVERT(CONVERT(? USING "+cs+") USING utf8mb4)",
				in.String(), in.String()).Scan(&stored, &back)
			if err != nil {
				t.Fatalf("%s: %v", cs, err)
			}
			raws := splitStored(cs, stored)
			backs := strings.Split(strings.TrimSuffix(back, "\n"), "\n")
			if len(raws) != len(part) || len(backs) != len(part) {
				t.Fatalf("%s: %d characters came back as %d stored, %d converted", cs, len(part), len(raws), len(backs))
			}
			for j, r := range part {
				if backs[j] == "?" && r != '?' {
					continue // not in cs
				}
				vals := make([]decoder.Value, 1)
				err := dec.Decode([]any{raws[j]}, vals)
				switch {
				case err == nil && string(vals[0].Bytes) == backs[j]:
					checked++
				case backs[j] != "" && mysqlKnownDifference(cs, []rune(backs[j])[0], raws[j]):
					known++
				default:
					if len(wrong) < 10 {
						wrong = append(wrong, fmt.Sprintf("%U stored as %x: cdcd %q (%v), server %q", r, raws[j], vals[0].Bytes, err, backs[j]))
					}
				}
			}
		}
		t.Logf("%s: %d characters decode as the server converts them, %d known differences", cs, checked, known)
		if len(wrong) > 0 || checked < 95 {
			t.Errorf("%s: %d characters checked, differences: %s", cs, checked, strings.Join(wrong, "; "))
		}
	}
}

// splitStored splits the stored bytes of characters each followed by a newline, in cs. In the
// other charsets no byte of a multi-byte character is 0x0A.
func splitStored(cs string, b []byte) [][]byte {
	nl := map[string][]byte{"ucs2": {0, '\n'}, "utf16": {0, '\n'}, "utf16le": {'\n', 0}, "utf32": {0, 0, 0, '\n'}}[cs]
	if nl == nil {
		return bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'})
	}
	var out [][]byte
	start := 0
	for i := 0; i+len(nl) <= len(b); i += len(nl) { // newline code units only
		if bytes.Equal(b[i:i+len(nl)], nl) {
			out = append(out, b[start:i])
			start = i + len(nl)
		}
	}
	return out
}
