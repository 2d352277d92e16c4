package postgres

import (
	"errors"
	"slices"
	"testing"
)

func TestParseTxidSnapshot(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want txidSnapshot
	}{
		{"10:10:", txidSnapshot{xmin: 10, xmax: 10}},
		{"748:753:748,750", txidSnapshot{xmin: 748, xmax: 753, xip: []uint32{748, 750}}},
		// txid_current_snapshot() qualifies xids with the epoch: 64-bit values, reduced to
		// the 32 bits pgoutput sends.
		{"4294967290:4294967301:4294967295,4294967300", txidSnapshot{xmin: 4294967290, xmax: 5, xip: []uint32{4294967295, 4}}},
	} {
		got, err := parseTxidSnapshot(tt.in)
		if err != nil {
			t.Errorf("parseTxidSnapshot(%q) = %v", tt.in, err)
			continue
		}
		if got.xmin != tt.want.xmin || got.xmax != tt.want.xmax || !slices.Equal(got.xip, tt.want.xip) {
			t.Errorf("parseTxidSnapshot(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "1:2", "1:2:3:4", "a:2:", "1:b:", "1:2:x", "1:2:3,", "1:2:,3", "-1:2:", "1: 2:", "18446744073709551616:1:"} {
		if _, err := parseTxidSnapshot(bad); !errors.Is(err, ErrProtocol) {
			t.Errorf("parseTxidSnapshot(%q) = %v, want ErrProtocol", bad, err)
		}
	}
}

func TestTxidSnapshotSees(t *testing.T) {
	plain := txidSnapshot{xmin: 100, xmax: 110, xip: []uint32{100, 105}}
	// Around the wrap: xmin 2^32-6, xmax 5; 2^32-1 and 4 still running.
	wrapped := txidSnapshot{xmin: 4294967290, xmax: 5, xip: []uint32{4294967295, 4}}
	for _, tt := range []struct {
		name string
		snap txidSnapshot
		xid  uint32
		want bool
	}{
		{"before xmin", plain, 99, true},
		{"long before xmin", plain, 3, true},
		{"xmin in progress", plain, 100, false},
		{"between, committed", plain, 101, true},
		{"between, in progress", plain, 105, false},
		{"last before xmax", plain, 109, true},
		{"xmax", plain, 110, false},
		{"after xmax", plain, 200, false},
		{"far after xmax, within 2^31 of xmin", plain, 100 + 1<<31 - 1, false},
		{"wrapped: before xmin", wrapped, 4294967289, true},
		{"wrapped: long before xmin", wrapped, 4000000000, true},
		{"wrapped: xmin committed", wrapped, 4294967290, true},
		{"wrapped: in progress before the wrap", wrapped, 4294967295, false},
		{"wrapped: committed before the wrap", wrapped, 4294967294, true},
		{"wrapped: committed after the wrap", wrapped, 3, true},
		{"wrapped: in progress after the wrap", wrapped, 4, false},
		{"wrapped: xmax", wrapped, 5, false},
		{"wrapped: after xmax", wrapped, 6, false},
	} {
		if got := tt.snap.sees(tt.xid); got != tt.want {
			t.Errorf("%s: %+v sees %d = %t, want %t", tt.name, tt.snap, tt.xid, got, tt.want)
		}
	}
}

func TestKeysetCopyUpTo(t *testing.T) {
	tab := &snapTable{name: "s.T", schema: "s", table: "T", columns: []string{"a", "B", "c"}, key: []string{"B", "a"}}
	for _, tt := range []struct {
		name        string
		after, upTo []string
		want        string
	}{
		{"after and up to", []string{"x", "1"}, []string{"z'z", "9"},
			`COPY (SELECT "a", "B", "c", "B"::text, "a"::text FROM "s"."T" WHERE ("B", "a") > ('x', '1') AND ("B", "a") <= ('z''z', '9') ORDER BY "s"."T"."B", "s"."T"."a" LIMIT 5) TO STDOUT (FORMAT binary)`},
		{"up to only", nil, []string{"z", "9"},
			`COPY (SELECT "a", "B", "c", "B"::text, "a"::text FROM "s"."T" WHERE ("B", "a") <= ('z', '9') ORDER BY "s"."T"."B", "s"."T"."a" LIMIT 5) TO STDOUT (FORMAT binary)`},
	} {
		got, err := keysetCopy(tab, tt.after, tt.upTo, 5)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	if _, err := keysetCopy(tab, []string{"x", "1"}, []string{"z"}, 5); !errors.Is(err, ErrBadPosition) {
		t.Errorf("one value up to a two-column key: %v, want ErrBadPosition", err)
	}
}

func TestMaxKeyCopy(t *testing.T) {
	tab := &snapTable{name: "s.T", schema: "s", table: "T", columns: []string{"a", "B", "c"}, key: []string{"B", "a"}}
	if got, want := maxKeyCopy(tab), `COPY (SELECT "B", "a" FROM "s"."T" ORDER BY "B" DESC, "a" DESC LIMIT 1) TO STDOUT`; got != want {
		t.Errorf("maxKeyCopy:\n got %s\nwant %s", got, want)
	}
	one := &snapTable{name: "public.t", schema: "public", table: "t", columns: []string{"id", "v"}, key: []string{"id"}}
	if got, want := maxKeyCopy(one), `COPY (SELECT "id" FROM "public"."t" ORDER BY "id" DESC LIMIT 1) TO STDOUT`; got != want {
		t.Errorf("maxKeyCopy:\n got %s\nwant %s", got, want)
	}
}

func TestConfigValidateIncremental(t *testing.T) {
	for _, tt := range []struct {
		name      string
		change    func(*Config)
		wantField string // empty: valid
	}{
		{"no signal table", func(c *Config) { c.SignalTable = "" }, ""},
		{"signal table", func(c *Config) { c.SignalTable = "public.cdcd_signal" }, ""},
		{"signal table with all tables captured", func(c *Config) { c.SignalTable = "public.cdcd_signal"; c.Tables = nil }, ""},
		{"signal table without schema", func(c *Config) { c.SignalTable = "cdcd_signal" }, "signal table"},
		{"signal table with three parts", func(c *Config) { c.SignalTable = "a.b.c" }, "signal table"},
		{"signal table with an unterminated quote", func(c *Config) { c.SignalTable = `public."sig` }, "signal table"},
		{"signal table with a quote", func(c *Config) { c.SignalTable = `public.si"g` }, ""},
		{"signal table captured", func(c *Config) { c.SignalTable = "public.orders" }, "signal table"},
		{"negative incremental chunk rows", func(c *Config) { c.IncrementalChunkRows = -1 }, "incremental snapshot chunk rows"},
		{"huge incremental chunk rows", func(c *Config) { c.IncrementalChunkRows = maxSnapshotChunkRows + 1 }, "incremental snapshot chunk rows"},
		{"one-row incremental chunks", func(c *Config) { c.IncrementalChunkRows = 1 }, ""},
		{"largest incremental chunks", func(c *Config) { c.IncrementalChunkRows = maxSnapshotChunkRows }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.change(&cfg)
			err := cfg.withDefaults().validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("validate() = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("validate() = %v, want a *ConfigError", err)
			}
			if ce.Field != tt.wantField || ce.Fix == "" {
				t.Errorf("field %q, fix %q, want field %q and a fix (%v)", ce.Field, ce.Fix, tt.wantField, err)
			}
		})
	}
	if got := (Config{}).withDefaults().IncrementalChunkRows; got != DefaultIncrementalChunkRows {
		t.Errorf("default incremental chunk rows = %d, want %d", got, DefaultIncrementalChunkRows)
	}
	if got := (Config{IncrementalChunkRows: 7}).withDefaults().IncrementalChunkRows; got != 7 {
		t.Errorf("withDefaults overrode incremental chunk rows 7 with %d", got)
	}
}
