package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy is a TCP proxy in front of one member's broker listener: cut closes its listener and
// every connection through it (the member is cut off from Kafka, connections refused), heal
// listens again on the same address.
type cutProxy struct {
	addr, upstream string
	mu             sync.Mutex
	l              net.Listener
	conns          map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, addr, upstream string) *cutProxy {
	t.Helper()
	p := &cutProxy{addr: addr, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.heal(t)
	t.Cleanup(p.cut)
	return p
}

// heal listens again: the member reaches the broker again.
func (p *cutProxy) heal(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy listening on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

// cut closes the listener and every connection through the proxy.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		_ = p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// track records c, or closes it and returns false when the proxy was cut meanwhile.
func (p *cutProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *cutProxy) pipe(c net.Conn) {
	if !p.track(c) {
		return
	}
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		_ = c.Close()
		return
	}
	if !p.track(u) {
		_ = c.Close()
		return
	}
	go func() {
		_, _ = io.Copy(u, c)
		_ = u.Close()
		_ = c.Close()
	}()
	_, _ = io.Copy(c, u)
	_ = u.Close()
	_ = c.Close()
}

// TestGroupMemberCutOffFromKafka runs two members, each reaching a private broker through a
// proxy of its own (a listener per member, advertised at the member's proxy, so that every
// connection of the member goes through it), two PostgreSQL connectors under load, one per
// member. Member 0's proxy is cut: member 0 stops its connector before member 1 runs it (it
// logs so once the coordinator has been silent for the session timeout less a heartbeat),
// member 1 runs both; once the cut heals, member 0 rejoins and gets one back. Every change
// arrives exactly once and no connector ran on two members at once. Last, a restart sent to the
// member that does not own a connector is forwarded to the owner, which restarts it.
func TestGroupMemberCutOffFromKafka(t *testing.T) {
	var listeners []PrivateKafkaListener
	var proxies []*cutProxy
	for i := range 2 {
		listeners = append(listeners, PrivateKafkaListener{Name: fmt.Sprintf("MEMBER%d", i), Addr: FreeAddr(t), Advertised: FreeAddr(t)})
	}
	k := StartPrivateKafka(t, listeners...)
	for _, l := range listeners {
		proxies = append(proxies, startCutProxy(t, l.Advertised, l.Addr))
	}
	// The schemas live in a standalone daemon's embedded registry, on the shared broker.
	registry := StartDaemon(t)
	f := &groupFixture{registryURL: "http://" + registry.Registry, prefix: Name(t, "gc"), records: recordsByTopic{}}
	for i := range 2 {
		db := NewPostgresDB(t)
		conn := db.Conn(t)
		mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
		mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
		name := fmt.Sprintf("%s_pg%d", f.prefix, i)
		s := &groupSource{name: name, topic: name + ".public.counters", slot: name,
			config: PostgresAPIConfig(db, name, name, "public.counters"), inc: pgIncrement(db.Conn(t))}
		f.sources = append(f.sources, s)
		f.names, f.topics = append(f.names, s.name), append(f.topics, s.topic)
	}
	shared := "  brokers: [" + StackFromEnv().KafkaAddr + "]\n"
	for i := range 2 {
		addr := FreeAddr(t)
		config := strings.Replace(groupMemberConfig(f.prefix, addr, f.registryURL), shared, "  brokers: ["+listeners[i].Advertised+"]\n", 1)
		m := &groupMember{CDCD: StartCDCD(t, config), API: "http://" + addr}
		(&Daemon{CDCD: m.CDCD, API: m.API}).WaitReady(t)
		f.members = append(f.members, m)
	}
	createGroupConnectors(t, f.members, f.sources)
	where := f.waitSpread(t)
	f.consumer = k.NewAvroConsumer(t, f.registryURL, f.topics...)
	f.waitEach(t, f.consumer, f.records, counterKeys)

	stopLoad := startGroupLoad(t, f.sources)
	f.waitEach(t, f.consumer, f.records, counterKeys+10)

	var moved string
	for name, i := range where {
		if i == 0 {
			moved = name
		}
	}
	cutOff := f.members[0]
	proxies[0].cut()
	cut := time.Now()
	// Member 1 runs both connectors; at the moment it is seen running member 0's, member 0 has
	// already said it stopped its connectors (read after the observation, so a stop logged
	// later cannot pass for an earlier one).
	var stoppedAfter time.Duration
	WaitFor(t, 2*time.Minute, "member 1 running both connectors", func() error {
		if stoppedAfter == 0 && cutOff.LogsContain("no answer from the group coordinator") {
			stoppedAfter = time.Since(cut)
		}
		on := runningOn(t, f.members[1:], f.names)
		for _, name := range f.names {
			if len(on[name]) != 1 {
				return fmt.Errorf("member 1 does not run %s", name)
			}
		}
		if !cutOff.LogsContain("no answer from the group coordinator") {
			t.Fatalf("member 1 runs %s, and the cut-off member has not stopped it", moved)
		}
		return nil
	})
	t.Logf("cut-off member stopped its connectors about %s after the cut (session %s); member 1 ran %s %s after the cut",
		stoppedAfter.Round(100*time.Millisecond), groupSession, moved, time.Since(cut).Round(100*time.Millisecond))
	if cutOff.Exited() {
		t.Fatalf("the cut-off member exited")
	}
	f.waitEach(t, f.consumer, f.records, counterKeys+60)

	// The cut heals: member 0 rejoins and gets one connector back.
	proxies[0].heal(t)
	healed := time.Now()
	where = f.waitSpread(t)
	t.Logf("member 0 ran a connector again %s after the cut healed", time.Since(healed).Round(100*time.Millisecond))

	// A restart sent to the member that does not own a connector is forwarded to its owner.
	for name, i := range where {
		other := 1 - i
		before := starts(f.members[i])[name]
		f.api(other).MustCall(t, http.StatusNoContent, http.MethodPost, "/connectors/"+name+"/restart", nil, nil)
		WaitFor(t, time.Minute, name+" restarted on its owner", func() error {
			if n := starts(f.members[i])[name]; n <= before {
				return fmt.Errorf("member %d ran %s %d times, as before the restart", i, name, n)
			}
			return nil
		})
	}

	total := f.checkExactlyOnce(t, f.consumer, f.records, stopLoad)
	t.Logf("%d changes through a member cut off from Kafka, each read once", total)
	checkNoDoubleRun(t, f.members)
}
