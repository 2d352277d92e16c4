package group

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// MemberState is one member of a generation, as the leader sees it when it assigns: what the
// member said in its JoinGroup metadata.
type MemberState struct {
	// ID is the member id the coordinator gave it.
	ID string
	// Worker is the member's worker id (its advertised address): stable across the restarts
	// of one daemon, unlike ID.
	Worker string
	// Owned are the connectors it was assigned and has not been told to give up.
	Owned []string
}

// Round is what [Assign] computes an assignment from.
type Round struct {
	// Members are the generation's members.
	Members []MemberState
	// Connectors are every connector of the config topic, whatever its target state: the
	// owner of a paused connector keeps it paused.
	Connectors []string
	// Previous is the last assignment the leader knows, by worker id: a worker of it that is
	// no member any more has lost its connectors.
	Previous map[string][]string
	// Held are the workers whose connectors are held unassigned, with the time until which:
	// the leader keeps it from one round to the next.
	Held map[string]time.Time
	// Now is the current time; Delay the rebalance delay (0: lost connectors are given away
	// at once).
	Now   time.Time
	Delay time.Duration
}

// Plan is an assignment.
type Plan struct {
	// Assigned is, by member id, every connector the member runs in the generation.
	Assigned map[string][]string
	// Revoked is, by member id, the connectors it owned that it must stop: none of them is
	// assigned to anybody in this generation. Members with revocations rejoin at once.
	Revoked map[string][]string
	// Held are the workers whose connectors stay unassigned, with the time until which.
	Held map[string]time.Time
	// NextRebalance is when the leader must start a new generation to give away held
	// connectors; zero when nothing is held.
	NextRebalance time.Time
}

// Assign computes a generation's assignment, a pure function of r:
//   - a connector a member owns stays with it, unless that member owns more than its share;
//   - a connector two members claim is revoked from both (assigned to nobody until both have
//     stopped it);
//   - the connectors of a worker of r.Previous that is no member any more are held unassigned
//     until r.Held's time (r.Now+r.Delay when first seen lost), unless the worker is back
//     under a new member id: it gets them back;
//   - each member's share is the count of the connectors that are not held over the members,
//     the members already running more getting the larger shares; a member over its share has
//     the excess revoked (assigned to nobody now), a member under it gets unowned connectors.
func Assign(r Round) Plan {
	exists := make(map[string]bool, len(r.Connectors))
	for _, c := range r.Connectors {
		exists[c] = true
	}
	members := slices.SortedFunc(slices.Values(r.Members), func(a, b MemberState) int { return cmp.Compare(a.ID, b.ID) })
	p := Plan{Assigned: make(map[string][]string, len(members)), Revoked: make(map[string][]string), Held: make(map[string]time.Time)}
	if len(members) == 0 {
		return p
	}
	owner := make(map[string]string, len(r.Connectors))
	sets := make(map[string][]string, len(members))
	revoke := func(member, c string) { p.Revoked[member] = append(p.Revoked[member], c) }
	claims := make(map[string]int)
	for _, m := range members {
		for _, c := range slices.Compact(slices.Sorted(slices.Values(m.Owned))) {
			claims[c]++
		}
	}
	// contested connectors are owned by nobody until every claimant has stopped them.
	contested := make(map[string]bool)
	for _, m := range members {
		sets[m.ID] = []string{}
		for _, c := range slices.Compact(slices.Sorted(slices.Values(m.Owned))) {
			switch {
			case !exists[c]:
				// Deleted: the member stops it without a revocation round.
			case claims[c] > 1:
				revoke(m.ID, c)
				contested[c] = true
			default:
				owner[c] = m.ID
				sets[m.ID] = append(sets[m.ID], c)
			}
		}
	}

	// Lost workers: back under a new id, held, or released.
	byWorker := make(map[string]string, len(members))
	for _, m := range members {
		if _, ok := byWorker[m.Worker]; !ok {
			byWorker[m.Worker] = m.ID
		}
	}
	held := make(map[string]bool)
	for _, w := range slices.Sorted(maps.Keys(r.Previous)) {
		var lost []string
		for _, c := range r.Previous[w] {
			if exists[c] && owner[c] == "" && !contested[c] {
				lost = append(lost, c)
			}
		}
		if id, back := byWorker[w]; back {
			for _, c := range lost {
				owner[c] = id
				sets[id] = append(sets[id], c)
			}
			continue
		}
		if len(lost) == 0 || r.Delay <= 0 {
			continue
		}
		until, ok := r.Held[w]
		if !ok {
			until = r.Now.Add(r.Delay)
		}
		if !r.Now.Before(until) {
			continue // released
		}
		p.Held[w] = until
		if p.NextRebalance.IsZero() || until.Before(p.NextRebalance) {
			p.NextRebalance = until
		}
		for _, c := range lost {
			held[c] = true
		}
	}

	// Shares: the members with the most connectors get the larger ones, so that as few move.
	total := 0
	for _, c := range r.Connectors {
		if !held[c] {
			total++
		}
	}
	order := slices.Clone(members)
	slices.SortStableFunc(order, func(a, b MemberState) int { return cmp.Compare(len(sets[b.ID]), len(sets[a.ID])) })
	share := make(map[string]int, len(members))
	for i, m := range order {
		share[m.ID] = total / len(members)
		if i < total%len(members) {
			share[m.ID]++
		}
	}
	for _, m := range members {
		s := sets[m.ID]
		slices.Sort(s)
		if excess := len(s) - share[m.ID]; excess > 0 {
			for _, c := range s[len(s)-excess:] {
				revoke(m.ID, c)
			}
			s = s[:len(s)-excess]
		}
		sets[m.ID] = s
	}
	revoked := make(map[string]bool)
	for _, cs := range p.Revoked {
		for _, c := range cs {
			revoked[c] = true
		}
	}
	var unowned []string
	for _, c := range slices.Sorted(slices.Values(r.Connectors)) {
		if owner[c] == "" && !held[c] && !revoked[c] {
			unowned = append(unowned, c)
		}
	}
	for _, m := range members {
		for len(unowned) > 0 && len(sets[m.ID]) < share[m.ID] {
			sets[m.ID] = append(sets[m.ID], unowned[0])
			unowned = unowned[1:]
		}
	}
	// What is left (shares filled by connectors being revoked) waits for the next round.
	for _, m := range members {
		slices.Sort(sets[m.ID])
		p.Assigned[m.ID] = sets[m.ID]
	}
	for id := range p.Revoked {
		slices.Sort(p.Revoked[id])
	}
	return p
}
