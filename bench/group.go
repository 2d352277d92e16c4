package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// measureGroup runs only when named: two daemons as one group (docs/operations.md "Group
// mode"), the throughput of both, then the failover after a SIGKILL of one.
const measureGroup = "group"

// ErrGroup is wrapped by every failure of the group phase itself.
var ErrGroup = errors.New("group")

// Group settings of the phase: the broker's shortest session, for a quick failover, as the
// integration tests use.
const (
	groupSessionMS   = 6000
	groupHeartbeatMS = 1000
)

// groupRegistryYAML is the config of the daemon outside the group whose embedded registry the
// members share (a group needs registry.url). It has no connector, so it needs its API (a
// daemon with neither has nothing to do and refuses to start).
func groupRegistryYAML(brokers, name, registryListen, apiListen string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  offsets_topic: %s_offsets
  config_topic: %s_configs
registry:
  listen: %s
  topic: %s_schemas
log:
  level: info
  format: json
api:
  listen: %s
`, brokers, name, name, registryListen, name, apiListen)
}

// groupMemberYAML is the config of a member of group name, its API on apiListen; the
// connectors come from the config topic, created through the API.
func groupMemberYAML(brokers, name, registryURL, apiListen string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  offsets_topic: %s_offsets
  config_topic: %s_configs
  status_topic: %s_status
registry:
  url: %s
log:
  level: info
  format: json
api:
  listen: %s
group:
  id: %s
  session_timeout_ms: %d
  heartbeat_interval_ms: %d
`, brokers, name, name, name, registryURL, apiListen, name, groupSessionMS, groupHeartbeatMS)
}

// groupConnectorConfig is the flat API configuration of a connector named name on src.
func groupConnectorConfig(name string, src pgSource) map[string]string {
	return map[string]string{
		"type": "postgres", "topic_prefix": name,
		"postgres.host": src.host, "postgres.port": strconv.Itoa(src.port), "postgres.user": "postgres",
		"postgres.database": src.database, "postgres.slot": src.slot, "postgres.publication": src.publication,
		"postgres.tables": "public." + benchTable, "postgres.snapshot_mode": "no_data",
	}
}

// connectorOwner reads a GET /connectors/{name}/status answer: the member (its API address)
// that runs the connector, "" when it runs nowhere.
func connectorOwner(status []byte) (string, error) {
	var st struct {
		Connector struct {
			State    string `json:"state"`
			WorkerID string `json:"worker_id"`
		} `json:"connector"`
	}
	if err := json.Unmarshal(status, &st); err != nil {
		return "", fmt.Errorf("%w: reading a status: %w", ErrGroup, err)
	}
	if st.Connector.State != "RUNNING" {
		return "", nil
	}
	return st.Connector.WorkerID, nil
}

// eventsPerSecond is n events over d, 0 for no time.
func eventsPerSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// groupResult is what the group phase measured.
type groupResult struct {
	events     int64
	elapsed    time.Duration
	toRunning  time.Duration // SIGKILL to the survivor's status saying it runs the connector
	toEvents   time.Duration // SIGKILL to the first row written after it arriving
	failedOver int64         // rows of the killed member's connector, each seen once
}

func (b *bench) measureGroup(ctx context.Context, t *table) error {
	r, err := b.runGroup(ctx)
	if err != nil {
		return err
	}
	t.add("group throughput", eventsPerSecond(r.events, r.elapsed), "events/s", fmt.Sprintf(
		"two members, one connector each, %d rows in all written in transactions of %d, from the first write to the last row read", r.events, b.s.txRows))
	t.add("group failover to running", r.toRunning.Seconds(), "s", fmt.Sprintf(
		"SIGKILL of the owner to the other member's status running it (session %d ms)", groupSessionMS))
	t.add("group failover to events", r.toEvents.Seconds(), "s", fmt.Sprintf(
		"SIGKILL of the owner to the first row written after it read; %d rows of that connector, each once", r.failedOver))
	return nil
}

// groupMemberProc is one member: its process and API.
type groupMemberProc struct {
	proc *cdcdProcess
	api  string // host:port, the worker id in its status answers
}

func (b *bench) runGroup(ctx context.Context) (groupResult, error) {
	var res groupResult
	name := b.name("group")
	regAddr, err := freeAddr()
	if err != nil {
		return res, err
	}
	regAPI, err := freeAddr()
	if err != nil {
		return res, err
	}
	regProc, err := b.startCDCDYAML(name+"_registry", groupRegistryYAML(b.s.kafka, name+"_registry", regAddr, regAPI))
	if err != nil {
		return res, err
	}
	if err := b.waitGroup(ctx, &groupMemberProc{proc: regProc, api: regAPI}, "the registry", func() error {
		code, _, err := groupCall(ctx, http.MethodGet, "http://"+regAddr+"/subjects", nil)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("GET /subjects answers %d", code)
		}
		return err
	}); err != nil {
		return res, err
	}
	var targets []*pgTarget
	var names []string
	for _, part := range []string{"a", "b"} {
		tg, err := b.newPGTarget(ctx, "group_"+part)
		if err != nil {
			return res, err
		}
		targets, names = append(targets, tg), append(names, name+"_"+part)
	}
	var members []*groupMemberProc
	for i := range 2 {
		api, err := freeAddr()
		if err != nil {
			return res, err
		}
		p, err := b.startCDCDYAML(fmt.Sprintf("%s_m%d", name, i), groupMemberYAML(b.s.kafka, name, "http://"+regAddr, api))
		if err != nil {
			return res, err
		}
		members = append(members, &groupMemberProc{proc: p, api: api})
	}
	for _, m := range members {
		if err := b.waitGroup(ctx, m, "ready", func() error {
			code, _, err := groupCall(ctx, http.MethodGet, "http://"+m.api+"/readyz", nil)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("/readyz answers %d", code)
			}
			return err
		}); err != nil {
			return res, err
		}
	}
	for i, tg := range targets {
		body := map[string]any{"name": names[i], "config": groupConnectorConfig(names[i], tg.source().(pgSource))}
		code, raw, err := groupCall(ctx, http.MethodPost, "http://"+members[0].api+"/connectors", body)
		if err == nil && code != http.StatusCreated {
			err = fmt.Errorf("%w: creating %s: %d %s", ErrGroup, names[i], code, raw)
		}
		if err != nil {
			return res, err
		}
	}
	owners := make([]string, len(names))
	if err := b.waitGroup(ctx, members[0], "the connectors spread over both members", func() error {
		for i, n := range names {
			_, raw, err := groupCall(ctx, http.MethodGet, "http://"+members[0].api+"/connectors/"+n+"/status", nil)
			if err != nil {
				return err
			}
			if owners[i], err = connectorOwner(raw); err != nil {
				return err
			}
			if owners[i] == "" {
				return fmt.Errorf("%s runs nowhere", n)
			}
			if ok, err := targets[i].streaming(ctx, cdcdConfig{}); err != nil || !ok {
				return fmt.Errorf("%s not streaming (%v)", n, err)
			}
		}
		if owners[0] == owners[1] {
			return fmt.Errorf("both connectors run on %s", owners[0])
		}
		return nil
	}); err != nil {
		return res, err
	}
	b.progress("group: %s on %s, %s on %s", names[0], owners[0], names[1], owners[1])

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := make([]*rowSet, len(names))
	done := make(chan struct{}, len(names))
	for i, n := range names {
		client, err := kgo.NewClient(kgo.SeedBrokers(b.s.kafka), kgo.ConsumeTopics(n+".public."+benchTable),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			return res, fmt.Errorf("creating a Kafka client: %w", err)
		}
		defer client.Close()
		seen[i] = newRowSet()
		go func() { defer func() { done <- struct{}{} }(); _ = seen[i].consume(ctx, client) }()
	}
	defer func() {
		cancel()
		for range names {
			<-done
		}
	}()
	alive := func() error {
		for i, m := range members {
			if err := m.proc.exitError(); err != nil {
				return err
			}
			if err := seen[i].failed(); err != nil {
				return err
			}
		}
		return nil
	}

	// Throughput: the fixed workload on both tables at once, in transactions of -tx-rows.
	rows := int64(b.s.groupRows)
	start := time.Now()
	writeErrs := make(chan error, len(targets))
	for _, tg := range targets {
		go func() {
			for from := int64(1); from <= rows; from += int64(b.s.txRows) {
				if err := tg.insert(ctx, from, min(from+int64(b.s.txRows)-1, rows)); err != nil {
					writeErrs <- err
					return
				}
			}
			writeErrs <- nil
		}()
	}
	for range targets {
		if err := <-writeErrs; err != nil {
			return res, fmt.Errorf("writing the workload: %w", err)
		}
	}
	for i := range names {
		if err := b.waitRows(ctx, seen[i], rows, alive); err != nil {
			return res, fmt.Errorf("the group's throughput: %w", err)
		}
	}
	res.elapsed, res.events = time.Since(start), 2*rows
	b.progress("group: %d rows in %s", res.events, res.elapsed.Round(time.Millisecond))

	// Failover: kill the owner of the first connector, go on writing to its table.
	var victim, survivor *groupMemberProc
	for _, m := range members {
		if m.api == owners[0] {
			victim = m
		} else {
			survivor = m
		}
	}
	if victim == nil || survivor == nil {
		return res, fmt.Errorf("%w: %s runs on %s, no member of %s, %s", ErrGroup, names[0], owners[0], members[0].api, members[1].api)
	}
	var written atomic.Int64
	written.Store(rows)
	stopWriting, wrote := make(chan struct{}), make(chan struct{})
	var writeErr error
	go func() { defer close(wrote); writeErr = b.writeUntil(ctx, targets[0], stopWriting, &written) }()
	if err := b.waitRows(ctx, seen[0], rows+int64(b.s.outageRate), alive); err != nil {
		close(stopWriting)
		<-wrote
		return res, fmt.Errorf("before the kill: %w", err)
	}
	if err := victim.proc.cmd.Process.Kill(); err != nil {
		close(stopWriting)
		<-wrote
		return res, fmt.Errorf("killing member %s: %w", victim.api, err)
	}
	killed, atKill := time.Now(), written.Load()
	b.progress("group: SIGKILL of %s, which ran %s", victim.api, names[0])
	for res.toRunning == 0 || res.toEvents == 0 {
		if err := survivor.proc.exitError(); err != nil {
			return res, err
		}
		if err := seen[0].failed(); err != nil {
			return res, err
		}
		if res.toEvents == 0 && seen[0].count() > atKill {
			res.toEvents = time.Since(killed)
		}
		if res.toRunning == 0 {
			if _, raw, err := groupCall(ctx, http.MethodGet, "http://"+survivor.api+"/connectors/"+names[0]+"/status", nil); err == nil {
				if owner, err := connectorOwner(raw); err == nil && owner == survivor.api {
					res.toRunning = time.Since(killed)
				}
			}
		}
		if time.Since(killed) > b.s.stall {
			return res, fmt.Errorf("%w: %s not back %s after the kill", ErrGroup, names[0], b.s.stall)
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	close(stopWriting)
	<-wrote
	if writeErr != nil {
		return res, fmt.Errorf("writing: %w", writeErr)
	}
	res.failedOver = written.Load()
	survivorAlive := func() error {
		if err := survivor.proc.exitError(); err != nil {
			return err
		}
		return seen[0].failed()
	}
	if err := b.waitRows(ctx, seen[0], res.failedOver, survivorAlive); err != nil {
		return res, fmt.Errorf("after the failover: %w", err)
	}
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(extraQuiet):
	}
	if err := seen[0].failed(); err != nil {
		return res, err
	}
	if n := seen[0].count(); n != res.failedOver {
		return res, fmt.Errorf("%w: %d rows of %s arrived, %d written", ErrGroup, n, names[0], res.failedOver)
	}
	b.progress("group: %s ran on %s %s after the kill, rows flowed again after %s", names[0], survivor.api,
		res.toRunning.Round(time.Millisecond), res.toEvents.Round(time.Millisecond))
	return res, survivor.proc.stop()
}

// waitGroup polls check until it passes, failing once m exits or after the stall duration.
func (b *bench) waitGroup(ctx context.Context, m *groupMemberProc, what string, check func() error) error {
	deadline := time.Now().Add(b.s.stall)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if exit := m.proc.exitError(); exit != nil {
			return exit
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: waiting for %s: %w", ErrGroup, what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// groupCall sends a request with body as JSON (none when nil), giving up after 5 s, and returns
// the status and the answer.
func groupCall(ctx context.Context, method, url string, body any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encoding a request: %w", err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	return resp.StatusCode, raw, nil
}
