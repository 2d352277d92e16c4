package group

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

func conns(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("c%d", i)
	}
	return out
}

// checkOnce fails when a connector is assigned to two members, or assigned to one while
// revoked from another.
func checkOnce(t *testing.T, p Plan) {
	t.Helper()
	seen := make(map[string]string)
	for id, cs := range p.Assigned {
		for _, c := range cs {
			if o, ok := seen[c]; ok {
				t.Fatalf("connector %s assigned to %s and %s", c, o, id)
			}
			seen[c] = id
		}
	}
	for id, cs := range p.Revoked {
		for _, c := range cs {
			if o, ok := seen[c]; ok {
				t.Fatalf("connector %s revoked from %s yet assigned to %s", c, id, o)
			}
		}
	}
}

func counts(p Plan) map[string]int {
	out := make(map[string]int)
	for id, cs := range p.Assigned {
		out[id] = len(cs)
	}
	return out
}

// apply plays the members' side: each drops what is revoked and keeps what is assigned.
func apply(members []MemberState, p Plan) []MemberState {
	out := make([]MemberState, len(members))
	for i, m := range members {
		out[i] = MemberState{ID: m.ID, Worker: m.Worker, Owned: slices.Clone(p.Assigned[m.ID])}
	}
	return out
}

func previous(members []MemberState, p Plan) map[string][]string {
	out := make(map[string][]string)
	for _, m := range members {
		out[m.Worker] = slices.Clone(p.Assigned[m.ID])
	}
	return out
}

func TestAssignFresh(t *testing.T) {
	members := []MemberState{{ID: "a", Worker: "wa"}, {ID: "b", Worker: "wb"}, {ID: "c", Worker: "wc"}}
	p := Assign(Round{Members: members, Connectors: conns(6)})
	checkOnce(t, p)
	if got := counts(p); !maps.Equal(got, map[string]int{"a": 2, "b": 2, "c": 2}) {
		t.Fatalf("counts %v", got)
	}
	if len(p.Revoked) != 0 {
		t.Fatalf("revoked %v on a fresh group", p.Revoked)
	}
}

func TestAssignStickyAndCooperative(t *testing.T) {
	members := []MemberState{{ID: "a", Worker: "wa"}, {ID: "b", Worker: "wb"}, {ID: "c", Worker: "wc"}}
	p := Assign(Round{Members: members, Connectors: conns(6)})
	members = apply(members, p)
	before := maps.Clone(p.Assigned)

	// A fourth member joins: two connectors must move, first revoked, then assigned.
	members = append(members, MemberState{ID: "d", Worker: "wd"})
	p = Assign(Round{Members: members, Connectors: conns(6), Previous: previous(members[:3], p)})
	checkOnce(t, p)
	if n := len(p.Assigned["d"]); n != 0 {
		t.Fatalf("the new member got %v while they are still being revoked", p.Assigned["d"])
	}
	revoked := 0
	for id, cs := range p.Revoked {
		revoked += len(cs)
		for _, c := range cs {
			if !slices.Contains(before[id], c) {
				t.Fatalf("%s revoked from %s, which did not own it", c, id)
			}
		}
	}
	// Shares 2, 2, 1, 1: one connector moves.
	if revoked != 1 {
		t.Fatalf("revoked %v, want one connector", p.Revoked)
	}
	// What did not move stays with its owner.
	for id, cs := range p.Assigned {
		for _, c := range cs {
			if !slices.Contains(before[id], c) {
				t.Fatalf("%s moved to %s in the revoking round", c, id)
			}
		}
	}
	members = apply(members, p)
	p2 := Assign(Round{Members: members, Connectors: conns(6), Previous: previous(members, p)})
	checkOnce(t, p2)
	if len(p2.Revoked) != 0 {
		t.Fatalf("second round revoked %v", p2.Revoked)
	}
	got := counts(p2)
	for id, n := range got {
		if n < 1 || n > 2 {
			t.Fatalf("member %s has %d connectors: %v", id, n, got)
		}
	}
	if len(p2.Assigned["d"]) == 0 {
		t.Fatal("the new member got nothing")
	}
	for id, cs := range p.Assigned {
		for _, c := range cs {
			if !slices.Contains(p2.Assigned[id], c) {
				t.Fatalf("%s left %s in the second round", c, id)
			}
		}
	}
}

func TestAssignLostMemberNoDelay(t *testing.T) {
	members := []MemberState{{ID: "a", Worker: "wa"}, {ID: "b", Worker: "wb"}, {ID: "c", Worker: "wc"}}
	p := Assign(Round{Members: members, Connectors: conns(6)})
	members = apply(members, p)
	prev := previous(members, p)
	// b dies.
	alive := []MemberState{members[0], members[2]}
	p2 := Assign(Round{Members: alive, Connectors: conns(6), Previous: prev})
	checkOnce(t, p2)
	if got := counts(p2); !maps.Equal(got, map[string]int{"a": 3, "c": 3}) {
		t.Fatalf("counts %v", got)
	}
	if len(p2.Revoked) != 0 {
		t.Fatalf("revoked %v", p2.Revoked)
	}
	for _, m := range alive {
		for _, c := range m.Owned {
			if !slices.Contains(p2.Assigned[m.ID], c) {
				t.Fatalf("%s left %s", c, m.ID)
			}
		}
	}
}

func TestAssignLostMemberDelay(t *testing.T) {
	now := time.Unix(1000, 0)
	members := []MemberState{{ID: "a", Worker: "wa"}, {ID: "b", Worker: "wb"}, {ID: "c", Worker: "wc"}}
	p := Assign(Round{Members: members, Connectors: conns(6)})
	members = apply(members, p)
	prev := previous(members, p)
	lostConns := p.Assigned["b"]
	alive := []MemberState{members[0], members[2]}

	p2 := Assign(Round{Members: alive, Connectors: conns(6), Previous: prev, Now: now, Delay: time.Minute})
	checkOnce(t, p2)
	if got := counts(p2); !maps.Equal(got, map[string]int{"a": 2, "c": 2}) {
		t.Fatalf("counts while held %v", got)
	}
	if p2.Held["wb"] != now.Add(time.Minute) || p2.NextRebalance != now.Add(time.Minute) {
		t.Fatalf("held %v, next %v", p2.Held, p2.NextRebalance)
	}

	// b's daemon comes back within the delay, under a new member id: it gets its own back.
	back := append(slices.Clone(alive), MemberState{ID: "b2", Worker: "wb"})
	p3 := Assign(Round{Members: back, Connectors: conns(6), Previous: prev, Held: p2.Held, Now: now.Add(30 * time.Second), Delay: time.Minute})
	checkOnce(t, p3)
	if !slices.Equal(p3.Assigned["b2"], lostConns) || len(p3.Held) != 0 || len(p3.Revoked) != 0 {
		t.Fatalf("returning worker got %v (held %v, revoked %v), want %v", p3.Assigned["b2"], p3.Held, p3.Revoked, lostConns)
	}

	// It does not come back: once the delay is over, the others take them.
	p4 := Assign(Round{Members: alive, Connectors: conns(6), Previous: prev, Held: p2.Held, Now: now.Add(time.Minute), Delay: time.Minute})
	checkOnce(t, p4)
	if got := counts(p4); !maps.Equal(got, map[string]int{"a": 3, "c": 3}) || len(p4.Held) != 0 || !p4.NextRebalance.IsZero() {
		t.Fatalf("counts after the delay %v, held %v", got, p4.Held)
	}
}

func TestAssignDoubleClaimAndDeleted(t *testing.T) {
	members := []MemberState{{ID: "a", Worker: "wa", Owned: []string{"c0", "gone"}}, {ID: "b", Worker: "wb", Owned: []string{"c0", "c1"}}}
	p := Assign(Round{Members: members, Connectors: []string{"c0", "c1"}})
	checkOnce(t, p)
	if len(p.Assigned["a"]) != 0 || !slices.Equal(p.Assigned["b"], []string{"c1"}) ||
		!slices.Equal(p.Revoked["a"], []string{"c0"}) || !slices.Equal(p.Revoked["b"], []string{"c0"}) {
		t.Fatalf("plan %+v", p)
	}
}

func TestAssignNewConnectorsAndEmpty(t *testing.T) {
	if p := Assign(Round{Connectors: conns(3)}); len(p.Assigned) != 0 {
		t.Fatalf("no members: %v", p.Assigned)
	}
	members := []MemberState{{ID: "a", Worker: "wa", Owned: []string{"c0"}}, {ID: "b", Worker: "wb", Owned: []string{"c1"}}}
	p := Assign(Round{Members: members, Connectors: conns(5)})
	checkOnce(t, p)
	if got := counts(p); got["a"]+got["b"] != 5 || len(p.Revoked) != 0 || !slices.Contains(p.Assigned["a"], "c0") || !slices.Contains(p.Assigned["b"], "c1") {
		t.Fatalf("plan %+v", p)
	}
}

// TestAssignConverges plays random joins and leaves: every round keeps the invariants, and two
// rounds with no change in membership end balanced with nothing revoked.
func TestAssignConverges(t *testing.T) {
	members := []MemberState{{ID: "m0", Worker: "w0"}}
	prev := map[string][]string{}
	next := 1
	all := conns(7)
	for step := range 40 {
		switch {
		case step%3 == 0:
			members = append(members, MemberState{ID: fmt.Sprintf("m%d", next), Worker: fmt.Sprintf("w%d", next)})
			next++
		case step%5 == 0 && len(members) > 1:
			members = slices.Delete(members, step%len(members), step%len(members)+1)
		}
		for range 3 {
			p := Assign(Round{Members: members, Connectors: all, Previous: prev})
			checkOnce(t, p)
			members = apply(members, p)
			prev = previous(members, p)
		}
		p := Assign(Round{Members: members, Connectors: all, Previous: prev})
		if len(p.Revoked) != 0 {
			t.Fatalf("step %d: still revoking %v", step, p.Revoked)
		}
		lo, hi := len(all), 0
		total := 0
		for _, n := range counts(p) {
			lo, hi, total = min(lo, n), max(hi, n), total+n
		}
		if hi-lo > 1 || total != len(all) {
			t.Fatalf("step %d: unbalanced %v", step, counts(p))
		}
	}
}

func TestProtocolRoundTrip(t *testing.T) {
	m, err := DecodeMetadata(EncodeMetadata(Metadata{Worker: "h:1", Owned: []string{"x"}}))
	if err != nil || m.Worker != "h:1" || !slices.Equal(m.Owned, []string{"x"}) || m.Version != Version {
		t.Fatalf("metadata %+v %v", m, err)
	}
	a, err := DecodeAssignment(EncodeAssignment(Assignment{Leader: "l", Generation: 3, Connectors: []string{"x"},
		Members: map[string]MemberAssignment{"l": {Worker: "h:1", Connectors: []string{"x"}}}}))
	if err != nil || a.Generation != 3 || a.Members["l"].Worker != "h:1" {
		t.Fatalf("assignment %+v %v", a, err)
	}
	for _, bad := range []string{``, `{`, `{"version":2}`, `{"version":0}`} {
		if _, err := DecodeMetadata([]byte(bad)); err == nil {
			t.Errorf("metadata %q read", bad)
		}
		if _, err := DecodeAssignment([]byte(bad)); err == nil {
			t.Errorf("assignment %q read", bad)
		}
	}
}
