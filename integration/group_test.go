package integration

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
)

// The group tests run several cdcd daemons as one group (group.id): each connector runs on one
// member, and moves when members come and go.

// groupSession and groupHeartbeat are the members' group.session_timeout_ms and
// group.heartbeat_interval_ms: the broker's minimum session, for a quick failover.
const (
	groupSession   = 6 * time.Second
	groupHeartbeat = time.Second
)

// groupMember is one daemon of a group.
type groupMember struct {
	*CDCD
	API string
}

// groupMemberConfig is the config file of a member of group prefix, its topics starting with
// prefix, its schemas in the registry at registryURL.
func groupMemberConfig(prefix, apiAddr, registryURL string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  offsets_topic: %s_offsets
  config_topic: %s_configs
  status_topic: %s_status
registry:
  url: %s
log:
  level: info
api:
  listen: %s
group:
  id: %s
  session_timeout_ms: %d
  heartbeat_interval_ms: %d
`, StackFromEnv().KafkaAddr, prefix, prefix, prefix, registryURL, apiAddr, prefix, groupSession.Milliseconds(), groupHeartbeat.Milliseconds())
}

func startGroupMember(t *testing.T, prefix, registryURL string) *groupMember {
	t.Helper()
	addr := FreeAddr(t)
	m := &groupMember{CDCD: StartCDCD(t, groupMemberConfig(prefix, addr, registryURL)), API: "http://" + addr}
	(&Daemon{CDCD: m.CDCD, API: m.API}).WaitReady(t)
	return m
}

// runningOn returns, per connector, the members (by index) whose status says it RUNNING; a
// member that does not answer counts for none.
func runningOn(t *testing.T, members []*groupMember, names []string) map[string][]int {
	t.Helper()
	out := make(map[string][]int, len(names))
	for i, m := range members {
		if m.Exited() {
			continue
		}
		for _, name := range names {
			// A frozen member (SIGSTOP) does not answer: it runs nothing that counts.
			code, raw, err := quickGet(t, m.API+"/connectors/"+name+"/status")
			if err != nil || code != http.StatusOK {
				continue
			}
			var st struct {
				Connector struct {
					State    string `json:"state"`
					WorkerID string `json:"worker_id"`
				} `json:"connector"`
			}
			// Every member answers from the status topic: count the member only when it says
			// it runs the connector itself.
			if json.Unmarshal(raw, &st) == nil && st.Connector.State == "RUNNING" && "http://"+st.Connector.WorkerID == m.API {
				out[name] = append(out[name], i)
			}
		}
	}
	return out
}

// quickGet is a GET that gives up after 3 s.
func quickGet(t *testing.T, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// waitSpread waits until every connector runs on exactly one of the members live, and each of
// those runs want[i] connectors (-1: any); it returns where each runs.
func waitSpread(t *testing.T, members []*groupMember, live []int, names []string, want map[int]int) map[string]int {
	t.Helper()
	var where map[string]int
	WaitFor(t, 2*time.Minute, "the connectors spread over the members", func() error {
		on := runningOn(t, members, names)
		where = make(map[string]int, len(names))
		count := make(map[int]int)
		for _, name := range names {
			if len(on[name]) != 1 {
				return fmt.Errorf("connector %s runs on members %v", name, on[name])
			}
			if !slices.Contains(live, on[name][0]) {
				return fmt.Errorf("connector %s runs on member %d", name, on[name][0])
			}
			where[name] = on[name][0]
			count[on[name][0]]++
		}
		for m, n := range want {
			if count[m] != n {
				return fmt.Errorf("member %d runs %d connectors, want %d (%v)", m, count[m], n, where)
			}
		}
		return nil
	})
	return where
}

// groupSource is one connector of the group test and its counters workload.
type groupSource struct {
	name, topic string
	config      map[string]string
	inc         incrementTx
	slot        string  // PostgreSQL only
	my          *sql.DB // MariaDB only
	written     atomic.Int64
}

// startGroupLoad commits counter increments on every source, about 50 transactions a second
// each (six sources share the machine with the daemons), until the returned function is
// called; it returns, per topic, how many changes each table received in all.
func startGroupLoad(t *testing.T, sources []*groupSource) func() map[string]int {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, len(sources))
	for i, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pace := time.NewTicker(20 * time.Millisecond)
			defer pace.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.Context().Done():
					return
				case <-pace.C:
				}
				ids := make([]int, 1+rand.IntN(3))
				for j := range ids {
					ids[j] = 1 + rand.IntN(counterKeys)
				}
				if err := s.inc(t.Context(), ids); err != nil {
					errs[i] = err
					return
				}
				s.written.Add(int64(len(ids)))
			}
		}()
	}
	return func() map[string]int {
		close(stop)
		wg.Wait()
		out := make(map[string]int, len(sources))
		for i, s := range sources {
			if errs[i] != nil {
				t.Fatalf("writer of %s: %v", s.name, errs[i])
			}
			out[s.topic] = counterKeys + int(s.written.Load())
		}
		return out
	}
}

// slotPID returns the backend pid of the replication connection holding slot, 0 when none.
func slotPID(t *testing.T, conn *pgx.Conn, slot string) int {
	t.Helper()
	var pid *int
	if err := conn.QueryRow(t.Context(), `SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&pid); err != nil {
		t.Fatalf("reading slot %s: %v", slot, err)
	}
	if pid == nil {
		return 0
	}
	return *pid
}

// logLine is the part of a member's log line the checks read.
type logLine struct {
	Message    string   `json:"message"`
	Connector  string   `json:"connector"`
	Generation int32    `json:"generation"`
	Connectors []string `json:"connectors"`
}

// processExited is the message memberLog gives the harness's line saying the process ended.
const processExited = "(process exited)"

// memberLog reads a member's log, every process of it in turn.
func memberLog(m *groupMember) []logLine {
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(m.Logs()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "--- ") && strings.Contains(sc.Text(), ": cdcd exited: ") {
			out = append(out, logLine{Message: processExited})
			continue
		}
		var l logLine
		// A line whose field of a name logLine reads holds another type (the "connectors"
		// count of "no answer from the group coordinator") is still read: its other fields are.
		var typeErr *json.UnmarshalTypeError
		if err := json.Unmarshal(sc.Bytes(), &l); err == nil || errors.As(err, &typeErr) {
			out = append(out, l)
		}
	}
	return out
}

// starts counts, per connector, the runs the member's log shows.
func starts(m *groupMember) map[string]int {
	out := make(map[string]int)
	for _, l := range memberLog(m) {
		if l.Message == "connector running" {
			out[l.Connector]++
		}
	}
	return out
}

// checkNoDoubleRun reads the assignments the members logged ("group assignment applied"): no
// generation gives a connector to two members, and a connector given to member B in
// generation g' after member A had it in generation g was first taken from A (A logged a
// generation between g and g' without it) or A was no member any more by g'.
func checkNoDoubleRun(t *testing.T, members []*groupMember) {
	t.Helper()
	type gen = map[int32][]string
	logs := make([]gen, len(members))
	owner := map[string]map[int32]int{} // connector -> generation -> member
	for i, m := range members {
		logs[i] = gen{}
		last := int32(0)
		for _, l := range memberLog(m) {
			if l.Message == processExited || strings.HasPrefix(l.Message, "no answer from the group coordinator") ||
				strings.HasPrefix(l.Message, "dropped from the group") {
				// A process that ended, or a member that stopped its connectors for want of
				// the coordinator, runs nothing from the next generation on.
				if _, ok := logs[i][last+1]; !ok {
					logs[i][last+1] = nil
				}
				continue
			}
			if l.Message != "group assignment applied" {
				continue
			}
			last = max(last, l.Generation)
			if l.Generation == 0 {
				t.Errorf("member %d logged an assignment without its generation", i)
			}
			logs[i][l.Generation] = l.Connectors
			for _, c := range l.Connectors {
				if owner[c] == nil {
					owner[c] = map[int32]int{}
				}
				if o, ok := owner[c][l.Generation]; ok && o != i {
					t.Errorf("generation %d gives %s to members %d and %d", l.Generation, c, o, i)
				}
				owner[c][l.Generation] = i
			}
		}
	}
	for i := range members {
		if len(logs[i]) == 0 {
			t.Errorf("member %d logged no assignment: the check reads nothing", i)
		}
	}
	for c, byGen := range owner {
		gens := slices.Sorted(func(yield func(int32) bool) {
			for g := range byGen {
				if !yield(g) {
					return
				}
			}
		})
		for k, g := range gens {
			a := byGen[g]
			for _, g2 := range gens[k+1:] {
				if byGen[g2] == a {
					continue
				}
				released := false
				stillMember := false
				for h, conns := range logs[a] {
					if h > g && h <= g2 && !slices.Contains(conns, c) {
						released = true
					}
					if h >= g2 {
						stillMember = true
					}
				}
				if !released && stillMember {
					t.Errorf("%s went from member %d (generation %d) to member %d (generation %d) without being revoked", c, a, g, byGen[g2], g2)
				}
				break
			}
		}
	}
}

// TestGroupFailoverAndJoin runs three daemons as one group with six connectors (three
// PostgreSQL, three MariaDB) under a steady write load: two connectors per member. One member
// is killed with SIGKILL: its connectors run on the others within the session timeout plus
// 10 s. A fourth member joins: connectors move to it, and those that do not move keep running
// (the same replication connection, no new run). Every change arrives exactly once, and no
// connector ran on two members at once.
func TestGroupFailoverAndJoin(t *testing.T) {
	f := newGroupFixture(t, 3, 3, 3)
	registryURL, prefix, sources, members, names := f.registryURL, f.prefix, f.sources, f.members, f.names
	consumer := f.consumer
	var pgAdmin *pgx.Conn
	{
		db := NewPostgresDB(t)
		pgAdmin = db.Conn(t)
	}
	where := waitSpread(t, members, []int{0, 1, 2}, names, map[int]int{0: 2, 1: 2, 2: 2})
	t.Logf("assignment: %v", where)
	// GET /cluster on any member: three members, one leader, the assignment seen above.
	for i, m := range members {
		var c struct {
			Generation int32  `json:"generation"`
			Leader     string `json:"leader"`
			Members    []struct {
				Worker     string   `json:"worker"`
				Connectors []string `json:"connectors"`
			} `json:"members"`
		}
		(&Daemon{CDCD: m.CDCD, API: m.API}).MustCall(t, http.StatusOK, http.MethodGet, "/cluster", nil, &c)
		if len(c.Members) != 3 || c.Leader == "" || c.Generation == 0 {
			t.Errorf("member %d: GET /cluster %+v", i, c)
		}
		for _, cm := range c.Members {
			for _, name := range cm.Connectors {
				if owner := members[where[name]].API; "http://"+cm.Worker != owner {
					t.Errorf("member %d: GET /cluster gives %s to %s, it runs on %s", i, name, cm.Worker, owner)
				}
			}
		}
	}
	// Any member answers any connector's status, from the status topic, naming its owner.
	for _, name := range names {
		asked := members[(where[name]+1)%len(members)]
		owner := strings.TrimPrefix(members[where[name]].API, "http://")
		WaitFor(t, time.Minute, name+"'s status on another member", func() error {
			_, raw, err := tryCall(t, asked.API, http.MethodGet, "/connectors/"+name+"/status", nil, nil)
			if err != nil {
				return err
			}
			if !strings.Contains(string(raw), `"state":"RUNNING","worker_id":"`+owner+`"`) {
				return fmt.Errorf("status %s, want RUNNING on %s", raw, owner)
			}
			return nil
		})
	}

	stopLoad := startGroupLoad(t, sources)
	records := consumer.Collect(t, 600, 2*time.Minute)

	// SIGKILL of member 1: the others take its connectors once its session has expired.
	members[1].Kill()
	killed := time.Now()
	waitSpread(t, members, []int{0, 2}, names, map[int]int{0: 3, 2: 3})
	failover := time.Since(killed)
	t.Logf("failover: member 1's connectors ran on the others %s after its SIGKILL (session timeout %s)", failover.Round(time.Millisecond), groupSession)
	if failover > groupSession+10*time.Second {
		t.Errorf("failover took %s, more than the session timeout %s + 10 s", failover, groupSession)
	}
	records = append(records, consumer.Collect(t, 300, 2*time.Minute)...)

	// A fourth member joins: one connector of each remaining member moves to it, the others
	// keep their run and their replication connection.
	before := runningOn(t, members, names)
	pids := make(map[string]int)
	// Every PostgreSQL connector streaming (a connector that just moved may still be opening
	// its replication connection).
	WaitFor(t, time.Minute, "every slot active", func() error {
		for _, s := range sources {
			if s.slot == "" {
				continue
			}
			if pids[s.name] = slotPID(t, pgAdmin, s.slot); pids[s.name] == 0 {
				return fmt.Errorf("slot %s inactive", s.slot)
			}
		}
		return nil
	})
	runs := []map[string]int{starts(members[0]), nil, starts(members[2])}
	members = append(members, startGroupMember(t, prefix, registryURL))
	after := waitSpread(t, members, []int{0, 2, 3}, names, map[int]int{0: 2, 2: 2, 3: 2})
	moved := 0
	for _, s := range sources {
		was := before[s.name][0]
		if after[s.name] != was {
			moved++
			continue
		}
		if n := starts(members[was])[s.name]; n != runs[was][s.name] {
			t.Errorf("connector %s stayed on member %d but was restarted (%d runs, %d before)", s.name, was, n, runs[was][s.name])
		}
		if s.slot != "" {
			if pid := slotPID(t, pgAdmin, s.slot); pid != pids[s.name] {
				t.Errorf("connector %s stayed on member %d but its replication connection changed (pid %d, %d before)", s.name, was, pid, pids[s.name])
			}
		}
	}
	if moved != 2 {
		t.Errorf("%d connectors moved to the new member, want 2", moved)
	}
	t.Logf("after the fourth member joined: %v", after)

	expected := stopLoad()
	total := 0
	for _, n := range expected {
		total += n
	}
	byTopic := f.records
	add := byTopic.add
	add(records)
	short := func() error {
		var missing []string
		for topic, n := range expected {
			if len(byTopic[topic]) < n {
				missing = append(missing, fmt.Sprintf("%s: %d of %d", topic, len(byTopic[topic]), n))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("records missing: %s", strings.Join(missing, "; "))
		}
		return nil
	}
	if err := Eventually(2*time.Minute, func() error {
		add(consumer.Poll(t, time.Second))
		return short()
	}); err != nil {
		t.Errorf("waiting for every change: %v", err)
	}
	add(consumer.Drain(t, 3*time.Second))
	for topic, n := range expected {
		checkCounters(t, byTopic[topic], n)
	}
	t.Logf("%d changes on six connectors, each read once", total)
	checkNoDoubleRun(t, members)
}

// createGroupConnectors creates each source's connector through the members in turn.
func createGroupConnectors(t *testing.T, members []*groupMember, sources []*groupSource) {
	t.Helper()
	for i, s := range sources {
		m := members[i%len(members)]
		d := &Daemon{CDCD: m.CDCD, API: m.API}
		d.MustCall(t, http.StatusCreated, http.MethodPost, "/connectors", map[string]any{"name": s.name, "config": s.config}, nil)
	}
}

// groupFixture is a group under load: its registry, sources and members.
type groupFixture struct {
	registryURL string
	prefix      string
	sources     []*groupSource
	members     []*groupMember
	names       []string
	topics      []string
	// consumer reads the topics from their start; records holds what it read so far.
	consumer *AvroConsumer
	records  recordsByTopic
}

// newGroupFixture starts a registry outside the group, nPG PostgreSQL and nMy MariaDB sources
// and nMembers members, creates the connectors through the members in turn, and waits until
// each runs on one member and every MariaDB connector reads the binlog.
func newGroupFixture(t *testing.T, nPG, nMy, nMembers int) *groupFixture {
	t.Helper()
	registry := StartDaemon(t)
	f := &groupFixture{registryURL: "http://" + registry.Registry, prefix: Name(t, "g")}
	for i := range nPG {
		db := NewPostgresDB(t)
		conn := db.Conn(t)
		mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
		mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)
		name := fmt.Sprintf("%s_pg%d", f.prefix, i)
		f.sources = append(f.sources, &groupSource{name: name, topic: name + ".public.counters", slot: name,
			config: PostgresAPIConfig(db, name, name, "public.counters"), inc: pgIncrement(db.Conn(t))})
	}
	for i := range nMy {
		m := NewMariaDB(t)
		mustExecMySQL(t, m.DB, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
		mustExecMySQL(t, m.DB, fmt.Sprintf(`INSERT INTO counters SELECT seq, 0 FROM seq_1_to_%d`, counterKeys))
		name := fmt.Sprintf("%s_my%d", f.prefix, i)
		f.sources = append(f.sources, &groupSource{name: name, topic: name + "." + m.Name + ".counters",
			config: MySQLAPIConfig(m, name, "counters"), inc: mysqlIncrement(m.DB), my: m.DB})
	}
	for _, s := range f.sources {
		f.names, f.topics = append(f.names, s.name), append(f.topics, s.topic)
	}
	for range nMembers {
		f.members = append(f.members, startGroupMember(t, f.prefix, f.registryURL))
	}
	createGroupConnectors(t, f.members, f.sources)
	f.waitSpread(t)
	for _, s := range f.sources {
		if s.my == nil {
			continue
		}
		WaitFor(t, 2*time.Minute, s.name+" reading the binlog", func() error {
			ok, err := registeredReplica(t, s.my, mysql.DefaultServerID(s.name))
			if err == nil && !ok {
				err = fmt.Errorf("no replica with server id %d", mysql.DefaultServerID(s.name))
			}
			return err
		})
	}
	// Every snapshot in Kafka before the load starts: a snapshot taken under the load reads
	// rows already changed, and the counters oracle would see the changes it absorbed as gaps.
	f.consumer = NewAvroConsumer(t, f.registryURL, f.topics...)
	f.records = recordsByTopic{}
	f.waitEach(t, f.consumer, f.records, counterKeys)
	return f
}

// live returns the indexes of the members whose process runs.
func (f *groupFixture) live() []int {
	var out []int
	for i, m := range f.members {
		if !m.Exited() {
			out = append(out, i)
		}
	}
	return out
}

// waitSpread waits until every connector runs on exactly one live member, balanced.
func (f *groupFixture) waitSpread(t *testing.T) map[string]int {
	t.Helper()
	live := f.live()
	want := make(map[int]int)
	for k, i := range live {
		want[i] = len(f.names) / len(live)
		if k < len(f.names)%len(live) {
			want[i] = -1 // one more or not: checked by the total
		}
	}
	for i, n := range want {
		if n == -1 {
			delete(want, i)
		}
	}
	return waitSpread(t, f.members, live, f.names, want)
}

// api returns member i as a Daemon, for its calls.
func (f *groupFixture) api(i int) *Daemon {
	return &Daemon{CDCD: f.members[i].CDCD, API: f.members[i].API}
}

// recordsByTopic collects a consumer's records per topic.
type recordsByTopic map[string][]ChangeRecord

func (b recordsByTopic) add(rs []ChangeRecord) {
	for _, r := range rs {
		b[r.Topic] = append(b[r.Topic], r)
	}
}

// waitEach reads until every topic of f has at least n records.
func (f *groupFixture) waitEach(t *testing.T, consumer *AvroConsumer, byTopic recordsByTopic, n int) {
	t.Helper()
	WaitFor(t, 2*time.Minute, fmt.Sprintf("%d records on every topic", n), func() error {
		byTopic.add(consumer.Poll(t, time.Second))
		for _, topic := range f.topics {
			if len(byTopic[topic]) < n {
				return fmt.Errorf("%s: %d records", topic, len(byTopic[topic]))
			}
		}
		return nil
	})
}

// checkExactlyOnce stops the load and checks every topic with the counter oracle.
func (f *groupFixture) checkExactlyOnce(t *testing.T, consumer *AvroConsumer, byTopic recordsByTopic, stopLoad func() map[string]int) int {
	t.Helper()
	expected := stopLoad()
	add := byTopic.add
	if err := Eventually(2*time.Minute, func() error {
		add(consumer.Poll(t, time.Second))
		for topic, n := range expected {
			if len(byTopic[topic]) < n {
				return fmt.Errorf("%s: %d of %d records", topic, len(byTopic[topic]), n)
			}
		}
		return nil
	}); err != nil {
		t.Errorf("waiting for every change: %v", err)
	}
	add(consumer.Drain(t, 3*time.Second))
	total := 0
	for topic, n := range expected {
		checkCounters(t, byTopic[topic], n)
		total += n
	}
	return total
}

// downtime samples, until stop, which connectors run nowhere, and adds up the time each did.
type downtime struct {
	mu    sync.Mutex
	total map[string]time.Duration
	stop  chan struct{}
	done  chan struct{}
}

func watchDowntime(t *testing.T, f *groupFixture) *downtime {
	d := &downtime{total: make(map[string]time.Duration), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		last := time.Now()
		for {
			select {
			case <-d.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			on := runningOn(t, f.members, f.names)
			now := time.Now()
			d.mu.Lock()
			for _, name := range f.names {
				if len(on[name]) == 0 {
					d.total[name] += now.Sub(last)
				}
			}
			d.mu.Unlock()
			last = now
		}
	}()
	return d
}

func (d *downtime) end() map[string]time.Duration {
	close(d.stop)
	<-d.done
	return d.total
}

// TestGroupRemoteWritesAndRollingRestart runs three members with three connectors under load.
// Writes sent to members that do not own a connector act on it (pause, resume, a new
// connector), and every member reads the same. Then each member is restarted in turn (SIGTERM,
// start again): every connector keeps delivering, exactly once, and the time each was not
// running is logged.
func TestGroupRemoteWritesAndRollingRestart(t *testing.T) {
	f := newGroupFixture(t, 2, 1, 3)
	consumer, byTopic := f.consumer, f.records
	stopLoad := startGroupLoad(t, f.sources)
	where := f.waitSpread(t)
	f.waitEach(t, consumer, byTopic, counterKeys+10)

	// A read on each member gives the same answer.
	var first map[string]any
	for i := range f.members {
		var info map[string]any
		f.api(i).MustCall(t, http.StatusOK, http.MethodGet, "/connectors/"+f.names[0], nil, &info)
		if first == nil {
			first = info
		} else if fmt.Sprint(info) != fmt.Sprint(first) {
			t.Errorf("member %d answers %v, member 0 %v", i, info, first)
		}
	}

	// PUT pause to a member that does not own the connector pauses it; resume through another.
	name := f.names[0]
	owner := where[name]
	other, third := (owner+1)%3, (owner+2)%3
	f.api(other).MustCall(t, http.StatusAccepted, http.MethodPut, "/connectors/"+name+"/pause", nil, nil)
	f.api(third).WaitState(t, name, "PAUSED")
	f.api(owner).WaitState(t, name, "PAUSED")
	f.api(third).MustCall(t, http.StatusAccepted, http.MethodPut, "/connectors/"+name+"/resume", nil, nil)
	f.api(other).WaitState(t, name, "RUNNING")

	// A connector created through one member is listed by all.
	extra := NewPostgresDB(t)
	mustExec(t, extra.Conn(t), `CREATE TABLE t (id int PRIMARY KEY)`)
	extraName := f.prefix + "_extra"
	f.api(other).MustCall(t, http.StatusCreated, http.MethodPost, "/connectors",
		map[string]any{"name": extraName, "config": PostgresAPIConfig(extra, extraName, extraName, "public.t")}, nil)
	for i := range f.members {
		WaitFor(t, time.Minute, fmt.Sprintf("member %d listing %s", i, extraName), func() error {
			var names []string
			f.api(i).MustCall(t, http.StatusOK, http.MethodGet, "/connectors", nil, &names)
			if !slices.Contains(names, extraName) {
				return fmt.Errorf("connectors %v", names)
			}
			return nil
		})
	}
	f.api(third).WaitState(t, extraName, "RUNNING")
	f.api(owner).MustCall(t, http.StatusOK, http.MethodDelete, "/connectors/"+extraName+"?purge=true", nil, nil)
	f.waitSpread(t)

	// Rolling restart, one member at a time.
	watch := watchDowntime(t, f)
	for i, m := range f.members {
		started := time.Now()
		if code := m.Stop(time.Minute); code != 0 {
			t.Fatalf("member %d exited %d on SIGTERM", i, code)
		}
		m.CDCD = m.Restart()
		f.api(i).WaitReady(t)
		f.waitSpread(t)
		t.Logf("member %d restarted; the group was whole again %s after its SIGTERM", i, time.Since(started).Round(time.Millisecond))
	}
	down := watch.end()
	for _, name := range f.names {
		t.Logf("rolling restart: connector %s ran nowhere for about %s (sampled every 200 ms)", name, down[name].Round(100*time.Millisecond))
	}
	total := f.checkExactlyOnce(t, consumer, byTopic, stopLoad)
	t.Logf("%d changes on three connectors through three restarts, each read once", total)
	checkNoDoubleRun(t, f.members)
}

// TestGroupFrozenMemberIsFenced freezes a member (SIGSTOP) under load for longer than its
// session: the other member takes its connectors. When it wakes (SIGCONT), it has not heard the
// coordinator for longer than its session, so it stops its connectors before anything else
// (its watchdog), and any transaction its pipelines still try is fenced by the new owner's
// transactional producer; it rejoins and gets its share back. Every change arrives exactly
// once.
func TestGroupFrozenMemberIsFenced(t *testing.T) {
	f := newGroupFixture(t, 2, 0, 2)
	consumer, byTopic := f.consumer, f.records
	stopLoad := startGroupLoad(t, f.sources)
	f.waitEach(t, consumer, byTopic, counterKeys+10)

	frozen := f.members[0]
	if err := syscall.Kill(frozen.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	// The group gives member 1 both connectors once the frozen member's session has expired.
	// (Member 1 cannot stream the frozen member's PostgreSQL slot yet: the frozen process
	// still holds its replication connection, until PostgreSQL's wal_sender_timeout or until
	// it wakes and stops its connectors.)
	WaitFor(t, 2*time.Minute, "the group to give member 1 both connectors", func() error {
		var c struct {
			Members []struct {
				Worker     string   `json:"worker"`
				Connectors []string `json:"connectors"`
			} `json:"members"`
		}
		code, raw, err := quickGet(t, f.members[1].API+"/cluster")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET /cluster: %d %s %v", code, raw, err)
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		if len(c.Members) != 1 || len(c.Members[0].Connectors) != len(f.names) {
			return fmt.Errorf("cluster %s", raw)
		}
		return nil
	})
	t.Logf("the group gave the frozen member's connectors to member 1 %s after SIGSTOP", time.Since(stopped).Round(time.Millisecond))
	if err := syscall.Kill(frozen.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	f.waitSpread(t)
	if !frozen.LogsContain("no answer from the group coordinator") && !frozen.LogsContain("dropped from the group") {
		t.Errorf("the woken member did not say it stopped its connectors")
	}
	if frozen.LogsContain("INVALID_PRODUCER_EPOCH") {
		t.Logf("the woken member's open Kafka transaction was fenced by the new owner's producer")
	}
	// The awake member heard the coordinator all along, its join included (keepalive).
	if f.members[1].LogsContain("no answer from the group coordinator") {
		t.Errorf("the awake member stopped its connectors for want of an answer from the coordinator")
	}
	total := f.checkExactlyOnce(t, consumer, byTopic, stopLoad)
	t.Logf("%d changes through a frozen member, each read once", total)
	checkNoDoubleRun(t, f.members)
}
