package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/cdcd-dev/cdcd/decoder"
)

func TestMask(t *testing.T) {
	tbl := ordersTable()
	m, err := NewMask([]string{"public.orders"}, []string{"name", "blob", "note"})
	mustNoErr(t, err)
	in := change(tbl, decoder.OpUpdate, orderRow(1, 100, "alice"), orderRow(1, 100, "alice"))
	in.After[6] = decoder.Value{State: decoder.ValueSet, Bytes: []byte{1, 2}}
	in.Before[2] = decoder.Value{State: decoder.ValueUnchanged}
	out, err := m.Apply(in)
	mustNoErr(t, err)
	if got := string(out.After[2].Bytes); got != DefaultMask || out.After[2].State != decoder.ValueSet {
		t.Errorf("string masked as %q", got)
	}
	if out.After[6].State != decoder.ValueNull {
		t.Errorf("optional bytes not nulled: %+v", out.After[6])
	}
	if out.After[5].State != decoder.ValueNull || out.Before[2].State != decoder.ValueUnchanged {
		t.Errorf("NULL or unsent values changed: %+v %+v", out.After[5], out.Before[2])
	}
	if string(in.After[2].Bytes) != "alice" || in.After[6].State != decoder.ValueSet {
		t.Errorf("input change modified")
	}
	if out.Table != tbl {
		t.Errorf("table changed")
	}

	other := &decoder.Table{Namespace: "x", Name: "y", Columns: tbl.Columns}
	in2 := change(other, decoder.OpCreate, nil, orderRow(1, 1, "a"))
	if out, err := m.Apply(in2); out != in2 || err != nil {
		t.Errorf("unmatched table: %v %v", out, err)
	}

	with, err := NewMask([]string{"*"}, []string{"name"}, MaskWith("#"))
	mustNoErr(t, err)
	out, err = with.Apply(change(tbl, decoder.OpCreate, nil, orderRow(1, 1, "bob")))
	mustNoErr(t, err)
	if string(out.After[2].Bytes) != "#" {
		t.Errorf("MaskWith: %q", out.After[2].Bytes)
	}

	bad, err := NewMask([]string{"*"}, []string{"amount"})
	mustNoErr(t, err)
	_, err = bad.Apply(change(tbl, decoder.OpCreate, nil, orderRow(1, 1, "bob")))
	var ce *ChangeError
	if !errors.Is(err, ErrCannotMask) || !errors.As(err, &ce) || ce.Column != "amount" {
		t.Errorf("required decimal: %v", err)
	}
}

func TestHash(t *testing.T) {
	tbl := ordersTable()
	h, err := NewHash([]string{"public.*"}, []string{"name", "blob"}, []byte("pepper"))
	mustNoErr(t, err)
	in := change(tbl, decoder.OpCreate, nil, orderRow(1, 1, "alice"))
	in.After[6] = decoder.Value{State: decoder.ValueSet, Bytes: []byte{0xff}}
	out, err := h.Apply(in)
	mustNoErr(t, err)
	want := func(v []byte) string {
		s := sha256.Sum256(append([]byte("pepper"), v...))
		return hex.EncodeToString(s[:])
	}
	if got := string(out.After[2].Bytes); got != want([]byte("alice")) {
		t.Errorf("string hash %s", got)
	}
	if got := string(out.After[6].Bytes); got != want([]byte{0xff}) {
		t.Errorf("bytes hash %s", got)
	}
	// Equal values hash equal (the digest buffer is not shared between values).
	out2, err := h.Apply(change(tbl, decoder.OpCreate, nil, orderRow(2, 1, "alice")))
	mustNoErr(t, err)
	if string(out2.After[2].Bytes) != string(out.After[2].Bytes) || &out2.After[2].Bytes[0] == &out.After[2].Bytes[0] {
		t.Errorf("hashes differ or share memory")
	}

	bad, err := NewHash([]string{"*"}, []string{"id"}, []byte("s"))
	mustNoErr(t, err)
	if _, err := bad.Apply(in); !errors.Is(err, ErrCannotMask) {
		t.Errorf("int hashed: %v", err)
	}
}

func TestNewMaskHashReject(t *testing.T) {
	cases := []struct {
		name    string
		build   func() error
		setting string
	}{
		{"mask no tables", func() error { _, err := NewMask(nil, []string{"a"}); return err }, "tables"},
		{"mask no columns", func() error { _, err := NewMask([]string{"*"}, nil); return err }, "columns"},
		{"hash no salt", func() error { _, err := NewHash([]string{"*"}, []string{"a"}, nil); return err }, "salt"},
		{"hash bad pattern", func() error { _, err := NewHash([]string{"["}, []string{"a"}, []byte("s")); return err }, "tables"},
	}
	for _, tc := range cases {
		var se *SettingError
		if err := tc.build(); !errors.As(err, &se) || se.Setting != tc.setting {
			t.Errorf("%s: %v, want a *SettingError on %s", tc.name, err, tc.setting)
		}
	}
}
