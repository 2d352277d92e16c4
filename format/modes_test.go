package format

import (
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func TestAppendDecimalText(t *testing.T) {
	dec := func(scale int) *decoder.Column { return &decoder.Column{Type: decoder.TypeDecimal, Scale: scale} }
	for _, tc := range []struct {
		b     []byte
		scale int
		want  string
	}{
		{nil, 2, "0.00"},
		{[]byte{0}, 0, "0"},
		{[]byte{0xfe, 0x1d, 0xc0}, 2, "-1234.56"},
		{[]byte{0x05}, 3, "0.005"},
		{[]byte{0xfb}, 3, "-0.005"},
		{[]byte{0x0c}, -2, "1200"},
		{[]byte{0x00, 0x80}, 0, "128"},
		{[]byte{0x80, 0, 0, 0, 0, 0, 0}, 0, "-36028797018963968"},
		{[]byte{0x80, 0, 0, 0, 0, 0, 0, 0}, 1, "-922337203685477580.8"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 2, "-0.01"},
		{[]byte{0x01, 0, 0, 0, 0, 0, 0, 0, 0}, 0, "18446744073709551616"},
	} {
		v := &decoder.Value{Bytes: tc.b}
		if got := string(AppendDecimalText(nil, dec(tc.scale), v)); got != tc.want {
			t.Errorf("% x scale %d: %s, want %s", tc.b, tc.scale, got, tc.want)
		}
	}
	vdec := &decoder.Column{Type: decoder.TypeVariableDecimal, Scale: 9}
	if got := DecimalFloat(vdec, &decoder.Value{Bytes: []byte{0x30, 0x39}, Scale: 3}); got != 12.345 {
		t.Errorf("variable decimal: %v", got)
	}
}

func TestConnectMillis(t *testing.T) {
	for _, tc := range []struct {
		t    decoder.Type
		v    int64
		want int64
	}{
		{decoder.TypeTimeMicros, 45296789012, 45296789},
		{decoder.TypeTimestampMicros, -1, -1},
		{decoder.TypeTimestampMicros, -1000, -1},
		{decoder.TypeTimestampMicros, -1001, -2},
		{decoder.TypeTimestampMillis, -5, -5},
	} {
		if got := ConnectMillis(tc.t, tc.v); got != tc.want {
			t.Errorf("%d of %d: %d, want %d", tc.v, tc.t, got, tc.want)
		}
	}
}

func TestParseModes(t *testing.T) {
	m, err := ParseModes(map[string]string{SettingDecimalMode: "String", SettingTimeMode: "connect",
		SettingBinaryMode: "hex", "other": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Modes{DecimalString, TimeConnect, BinaryHex}); m != want {
		t.Errorf("%+v, want %+v", m, want)
	}
	if _, err := ParseModes(map[string]string{SettingBinaryMode: "base32"}); !errors.Is(err, ErrMode) {
		t.Errorf("base32: %v", err)
	}
	if m.ColumnMode(decoder.TypeZonedTimestamp) != ModeNone || m.ColumnMode(decoder.TypeBits) != ModeNone {
		t.Error("a zoned timestamp or bits column has a mode")
	}
}
