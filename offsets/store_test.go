package offsets_test

import (
	"encoding/json"
	"testing"

	"github.com/cdcd-dev/cdcd/offsets"
)

func pos(s string, skip int64) offsets.Position {
	return offsets.Position{Source: json.RawMessage(s), Skip: skip}
}

func TestKeyBytes(t *testing.T) {
	got := string(offsets.Key{Connector: "inventory", Server: "dbserver1"}.Bytes())
	want := `["inventory",{"server":"dbserver1"}]`
	if got != want {
		t.Fatalf("key = %s, want %s", got, want)
	}
	got = string(offsets.Key{Connector: `a"b`, Server: ""}.Bytes())
	if want := `["a\"b",{"server":""}]`; got != want {
		t.Fatalf("key = %s, want %s", got, want)
	}
}

func TestRecordValue(t *testing.T) {
	k := offsets.Key{Connector: "c", Server: "s"}
	if string(k.Bytes()) != `["c",{"server":"s"}]` {
		t.Fatalf("record key %s", k.Bytes())
	}
	v, err := offsets.Value(pos(`{"lsn":"0/16B3748"}`, 3))
	if err != nil {
		t.Fatalf("Value: %v", err)
	}
	if want := `{"source":{"lsn":"0/16B3748"},"skip":3}`; string(v) != want {
		t.Fatalf("value = %s, want %s", v, want)
	}
}

func TestParseValue(t *testing.T) {
	p, err := offsets.ParseValue([]byte(`{"source":{"lsn":"0/16B3748"},"skip":3}`))
	if err != nil || string(p.Source) != `{"lsn":"0/16B3748"}` || p.Skip != 3 {
		t.Fatalf("ParseValue = %v, %v", p, err)
	}
	if p, err := offsets.ParseValue(nil); err != nil || !p.IsZero() {
		t.Fatalf("ParseValue(tombstone) = %v, %v; want zero", p, err)
	}
	if _, err := offsets.ParseValue([]byte("{")); err == nil {
		t.Fatal("ParseValue of a corrupt value succeeded")
	}
}
