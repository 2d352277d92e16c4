package postgres

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
	"github.com/cdcd-dev/cdcd/snapshot"
	"github.com/jackc/pglogrepl"
)

func TestFindGaps(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	state := func(oid uint32, members map[string]uint32) *pubState {
		return &pubState{exists: oid != 0, oid: oid, members: members, lsn: "0/1", at: at}
	}
	watched := []string{"public.a", "public.b"}
	both := state(7, map[string]uint32{"public.a": 100, "public.b": 101})
	for _, tc := range []struct {
		name      string
		prev, cur *pubState
		want      string // table:readded,...
	}{
		{"unchanged", both, state(7, map[string]uint32{"public.a": 100, "public.b": 101}), ""},
		{"first look, all there", nil, both, ""},
		{"first look, one missing", nil, state(7, map[string]uint32{"public.a": 100}), "public.b:false"},
		{"removed", both, state(7, map[string]uint32{"public.b": 101}), "public.a:false"},
		{"removed and added back", both, state(7, map[string]uint32{"public.a": 102, "public.b": 101}), "public.a:true"},
		{"still out: reported at the last check", state(7, map[string]uint32{"public.b": 101}),
			state(7, map[string]uint32{"public.b": 101}), "public.a:false"},
		{"back after being out: reported then", state(7, map[string]uint32{"public.b": 101}), both, ""},
		{"publication gone", both, state(0, nil), "public.a:false,public.b:false"},
		{"publication created again", both, state(8, map[string]uint32{"public.a": 200, "public.b": 201}),
			"public.a:true,public.b:true"},
		{"published through its schema", state(7, map[string]uint32{"public.a": 0, "public.b": 0}),
			state(7, map[string]uint32{"public.a": 0, "public.b": 0}), ""},
		{"all tables", both, &pubState{exists: true, oid: 7, all: true, at: at}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, g := range findGaps(tc.prev, tc.cur, watched) {
				if g.since != tc.prev || g.until != tc.cur {
					t.Errorf("%s: window from %v to %v, want the two checks", g.table, g.since, g.until)
				}
				got = append(got, g.table+":"+map[bool]string{true: "true", false: "false"}[g.readded])
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("gaps %v, want %s", got, tc.want)
			}
		})
	}
}

func TestPubGapWindowNamesBothEnds(t *testing.T) {
	since := &pubState{lsn: "0/16B3748", at: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	until := &pubState{lsn: "0/16C0000", at: time.Date(2026, 1, 2, 3, 4, 25, 0, time.UTC)}
	got := pubGap{table: "public.a", since: since, until: until}.window()
	want := "between 2026-01-02T03:04:05Z (LSN 0/16B3748) and 2026-01-02T03:04:25Z (LSN 0/16C0000)"
	if got != want {
		t.Errorf("window %q, want %q", got, want)
	}
	if got := (pubGap{table: "public.a", until: until}).window(); !strings.HasPrefix(got, "between before this stream started and") {
		t.Errorf("window without a start: %q", got)
	}
}

func TestResnapshotMessageRoundTrip(t *testing.T) {
	want := []string{"public.a", "s.b", `s."a,b"`, `"x.y"."Ümlaut Tab"`}
	content := resnapshotMessage("s1", "publication-gap-42", want)
	id, tables, ok := parseResnapshot("s1", []byte(content))
	if !ok || id != "publication-gap-42" || !reflect.DeepEqual(tables, want) {
		t.Errorf("parse(%q) = %q %v %t", content, id, tables, ok)
	}
	if _, _, ok := parseResnapshot("s2", []byte(content)); ok {
		t.Errorf("another slot's message %q taken", content)
	}
	for _, bad := range []string{"s1:id:", "s1::public.a", "s1:id:public.a,nodot", "s1", `s1:id:public."a`} {
		if _, _, ok := parseResnapshot("s1", []byte(bad)); ok {
			t.Errorf("malformed message %q taken", bad)
		}
	}
}

// resnapshotTx is a transaction xid, committed at commit, holding only a resnapshot message
// with content (what the publication check writes with its ALTER PUBLICATION).
func resnapshotTx(xid uint32, commit, end pglogrepl.LSN, content string) []wal {
	return []wal{
		{at: commit - 0x100, msg: decoder.PGMessage{Kind: decoder.PGBegin, XID: xid, FinalLSN: uint64(commit)}},
		{at: commit - 0x80, msg: decoder.PGMessage{Kind: decoder.PGLogicalMessage, Transactional: decoder.PGMessageTransactional,
			Prefix: resnapshotPrefix, Content: []byte(content)}},
		{at: commit, msg: decoder.PGMessage{Kind: decoder.PGCommit, CommitLSN: uint64(commit), EndLSN: uint64(end)}},
	}
}

func TestResnapshotMessageStartsIncrementalSnapshotAtCommit(t *testing.T) {
	a, _ := incAssembler(position{lsn: 0x800}, "public.a", "public.t")
	msgs := concat(
		resnapshotTx(7, 0x1000, 0x1010, resnapshotMessage("other", "publication-gap-1", []string{"public.a"})),
		resnapshotTx(8, 0x2000, 0x2010, resnapshotMessage("s1", "publication-gap-2", []string{"public.t"})),
	)
	lines, _, err := feed(a, msgs[:3])
	if err != nil {
		t.Fatal(err)
	}
	if a.inc.prog != nil {
		t.Fatalf("another slot's message started a snapshot: %+v", a.inc.prog)
	}
	more, events, err := feed(a, msgs[3:])
	if err != nil {
		t.Fatal(err)
	}
	lines = append(lines, more...)
	want := &incrementalProgress{ID: "publication-gap-2", Tables: []string{"public.t"}}
	if !reflect.DeepEqual(a.inc.prog, want) {
		t.Fatalf("progress %+v, want %+v", a.inc.prog, want)
	}
	// The commit of the message's transaction carries the snapshot, so that a restart after it
	// goes on with it; a restart before it decodes the message again.
	last := events[len(events)-1]
	p, err := parsePosition(last.Position)
	if err != nil || last.Kind != connectors.EventCommit || !reflect.DeepEqual(p.incr, want) {
		t.Errorf("last event %v (%v): incremental %+v, want %+v; lines:\n%s", last.Kind, err, p.incr, want, joined(lines))
	}
}

func TestResnapshotMessageOfDroppedTransactionIsIgnored(t *testing.T) {
	a, _ := incAssembler(position{lsn: 0x3000}, "public.t")
	if _, _, err := feed(a, resnapshotTx(8, 0x2000, 0x2010, resnapshotMessage("s1", "g", []string{"public.t"}))); err != nil {
		t.Fatal(err)
	}
	if a.inc.prog != nil {
		t.Errorf("a transaction before the resume position started a snapshot: %+v", a.inc.prog)
	}
}

func TestResnapshotRestartsTheTableBeingRead(t *testing.T) {
	a, _ := incAssembler(position{lsn: 0x800}, "public.a", "public.t")
	a.inc.prog = &incrementalProgress{ID: "snap-1", Tables: []string{"public.t", "public.a"}, After: []string{"500"}, Max: []string{"900"}}
	a.inc.window = snapshot.NewWindow("w1", tableT, []int{0}, nil)
	if _, _, err := feed(a, resnapshotTx(8, 0x2000, 0x2010, resnapshotMessage("s1", "g", []string{"public.t"}))); err != nil {
		t.Fatal(err)
	}
	want := &incrementalProgress{ID: "snap-1", Tables: []string{"public.t", "public.a"}}
	if !reflect.DeepEqual(a.inc.prog, want) || a.inc.window != nil {
		t.Errorf("progress %+v, window %v; want %+v read again from its start, the open window dropped", a.inc.prog, a.inc.window, want)
	}

	// A table still waiting is read after the gap anyway: nothing changes.
	a.inc.prog = &incrementalProgress{ID: "snap-1", Tables: []string{"public.t", "public.a"}, After: []string{"500"}, Max: []string{"900"}}
	if _, _, err := feed(a, resnapshotTx(9, 0x3000, 0x3010, resnapshotMessage("s1", "g2", []string{"public.a"}))); err != nil {
		t.Fatal(err)
	}
	want = &incrementalProgress{ID: "snap-1", Tables: []string{"public.t", "public.a"}, After: []string{"500"}, Max: []string{"900"}}
	if !reflect.DeepEqual(a.inc.prog, want) {
		t.Errorf("progress %+v, want %+v", a.inc.prog, want)
	}
}

func TestPublicationWatchConfig(t *testing.T) {
	cfg := validConfig().withDefaults()
	if cfg.PublicationCheckInterval != DefaultPublicationCheckInterval || cfg.PublicationGap != PublicationGapResnapshot {
		t.Errorf("defaults: %s every %s", cfg.PublicationGap, cfg.PublicationCheckInterval)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
	}{
		{"unknown policy", func(c *Config) { c.PublicationGap = 9 }},
		{"too often", func(c *Config) { c.PublicationCheckInterval = time.Millisecond }},
		{"too seldom", func(c *Config) { c.PublicationCheckInterval = 2 * time.Hour }},
		{"negative", func(c *Config) { c.PublicationCheckInterval = -time.Second }},
	} {
		c := validConfig()
		tc.change(&c)
		var ce *ConfigError
		if err := c.withDefaults().validate(); !errors.As(err, &ce) || !strings.HasPrefix(ce.Field, "publication") {
			t.Errorf("%s: %v, want a publication ConfigError", tc.name, err)
		}
	}
	if PublicationGapResnapshot.String() != "resnapshot" || PublicationGapFail.String() != "fail" ||
		PublicationGapPolicy(5).String() != "PublicationGapPolicy(5)" {
		t.Errorf("names: %s %s %s", PublicationGapResnapshot, PublicationGapFail, PublicationGapPolicy(5))
	}
}

// FuzzParseResnapshot checks that any message content parses without panicking, and that what
// parses is written back the same.
func FuzzParseResnapshot(f *testing.F) {
	f.Add([]byte("s1:publication-gap-1:public.a,s.b"))
	f.Add([]byte("s1::"))
	f.Add([]byte("s1:id:public.a,"))
	f.Fuzz(func(t *testing.T, content []byte) {
		id, tables, ok := parseResnapshot("s1", content)
		if ok && resnapshotMessage("s1", id, tables) != string(content) {
			t.Errorf("%q parses to %q %v, written back as %q", content, id, tables, resnapshotMessage("s1", id, tables))
		}
	})
}
