package postgres

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/cdcd-dev/cdcd/offsets"
	"github.com/jackc/pglogrepl"
)

func TestPositionRoundTrip(t *testing.T) {
	for _, p := range []position{
		{lsn: 0x16B3748},
		{lsn: 0x1_0000_0000},
		{lsn: 0xFFFFFFFF_FFFFFFFF},
		{lsn: 0x100, tx: 0x100},
		{lsn: 0x100, tx: 0x2_0000_0200, skip: 3},
	} {
		enc := p.encode()
		got, err := parsePosition(enc)
		if err != nil {
			t.Errorf("parsePosition(%s) = %v", enc, err)
			continue
		}
		if got != p {
			t.Errorf("round trip of %+v gave %+v via %s", p, got, enc)
		}
	}
}

func TestPositionWireForm(t *testing.T) {
	got := position{lsn: 0x16B3748}.encode()
	if string(got.Source) != `{"lsn":"0/16B3748"}` || got.Skip != 0 {
		t.Errorf("commit position = %s", got)
	}
	got = position{lsn: 0x16B3748, tx: 0x1_0000_0010, skip: 2}.encode()
	if string(got.Source) != `{"lsn":"0/16B3748","tx":"1/10"}` || got.Skip != 2 {
		t.Errorf("begin position = %s", got)
	}
}

func TestParsePositionZero(t *testing.T) {
	got, err := parsePosition(offsets.Position{})
	if err != nil || got != (position{}) {
		t.Errorf("parsePosition(zero) = %+v, %v", got, err)
	}
}

func TestParsePositionRejects(t *testing.T) {
	for _, tt := range []struct {
		src  string
		skip int64
	}{
		{`{}`, 0},
		{`{"lsn":""}`, 0},
		{`{"lsn":"16B3748"}`, 0},
		{`{"lsn":"0/16B3748x"}`, 0},
		{`{"lsn":"0/"}`, 0},
		{`{"lsn":"/1"}`, 0},
		{`{"lsn":"100000000/0"}`, 0},
		{`{"lsn":"-1/0"}`, 0},
		{`{"lsn":"+1/0"}`, 0},
		{`{"lsn":"0x1/0"}`, 0},
		{`{"lsn":16}`, 0},
		{`{"lsn":"0/10","tx":"0/F"}`, 0},
		{`{"lsn":"0/10","tx":"zz"}`, 0},
		{`{"lsn":"0/10","extra":1}`, 0},
		{`{"lsn":"0/10"} {}`, 0},
		{`{"lsn":"0/10"}`, 2},
		{`{"lsn":"0/10","tx":"0/20"}`, -1},
		{`not json`, 0},
	} {
		_, err := parsePosition(offsets.Position{Source: json.RawMessage(tt.src), Skip: tt.skip})
		if !errors.Is(err, ErrBadPosition) {
			t.Errorf("parsePosition(%s skip %d) = %v, want ErrBadPosition", tt.src, tt.skip, err)
		}
	}
}

func TestParseLSNMatchesPostgres(t *testing.T) {
	for s, want := range map[string]pglogrepl.LSN{
		"0/0": 0, "0/16B3748": 0x16B3748, "1/0": 1 << 32, "FFFFFFFF/FFFFFFFF": 0xFFFFFFFF_FFFFFFFF, "a/b": 0xA_0000_000B,
	} {
		got, ok := parseLSN(s)
		if !ok || got != want {
			t.Errorf("parseLSN(%q) = %s, %t, want %s", s, got, ok, want)
		}
	}
}

// FuzzParsePosition checks that no stored position makes parsing panic, and that whatever
// parses encodes back to a position that parses the same.
func FuzzParsePosition(f *testing.F) {
	f.Add([]byte(`{"lsn":"0/16B3748"}`), int64(0))
	f.Add([]byte(`{"lsn":"0/16B3748","tx":"0/16B3800"}`), int64(3))
	f.Add([]byte(`{"lsn":"0/16B3748","snapshot":{"table":"public.t","after":["7"],"done":[]}}`), int64(0))
	f.Add([]byte(`{"lsn":"0/16B3748","incremental":{"id":"s1","tables":["public.t"],"after":["7"],"max":["9"]}}`), int64(2))
	f.Fuzz(func(t *testing.T, src []byte, skip int64) {
		p, err := parsePosition(offsets.Position{Source: src, Skip: skip})
		if err != nil {
			return
		}
		again, err := parsePosition(p.encode())
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("%s skip %d parsed as %+v, re-encoded and parsed as %+v, %v", src, skip, p, again, err)
		}
	})
}
