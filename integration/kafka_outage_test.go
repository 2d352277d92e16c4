package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/internal/procmem"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// kafkaOutage is how long the broker stays down: the 60 s. It is also the default
// transaction timeout and PostgreSQL's default wal_sender_timeout, so the outage outlives the
// open Kafka transaction (the broker aborts it when it returns) and would end a walsender whose
// client stopped answering keepalives. With the broker's stop and start, cdcd's build and the
// drain, the test takes about two minutes.
const kafkaOutage = 60 * time.Second

// The buffers the test configures, below their defaults so that the bound is the test's own:
// the source queue's bytes and the Kafka producer's (the encode queue keeps its default).
const (
	outageQueueBytes    = 4 << 20
	outageProducerBytes = 32 << 20
)

// outageBufferBound is what cdcd's configured buffers may hold (docs/configuration.md,
// "Memory"): the source queue, the encode queue and the Kafka producer's buffer, in bytes. The
// record-count limits bound the same memory more tightly for small rows, so the byte limits
// are the bound.
func outageBufferBound() int64 {
	return outageQueueBytes + pipeline.DefaultEncodeQueueBytes + outageProducerBytes
}

// outageRSSBound is the resident memory cdcd may reach during the outage: the baseline plus
// twice what the buffers may hold, as Go's collector (GOGC=100) lets the heap grow to twice the
// live data before it collects.
func outageRSSBound(baseline int64) int64 { return baseline + 2*outageBufferBound() }

// outagePlateauGrowth bounds how much the resident memory may still grow over the second half
// of the outage: by then every buffer is full and the source waits, so memory is flat. The
// bound above is loose for this workload's small rows (a leak of a few hundred bytes per change
// would stay under it for minutes); this one catches memory that keeps growing with the WAL.
const outagePlateauGrowth = 16 << 20

// outageFirstCommit bounds the time from the broker's return (it answers metadata requests
// again) to cdcd's first Kafka commit: the client tries a dead broker again every second, and a
// transaction the broker aborted meanwhile costs one restart of the pipeline at its shortest
// backoff.
const outageFirstCommit = 10 * time.Second

// TestKafkaOutagePausesReadingWithFlatMemory stops cdcd's Kafka broker (a private one) for a
// minute under a steady write load, in the middle of a commit (held there on purpose, see
// commitGate): cdcd must stop reading the slot (its confirmed_flush_lsn stands still while the
// server's WAL grows) but keep the replication connection alive by answering keepalives, its
// resident memory must stay within what its buffers allow, its first commit must come within
// outageFirstCommit of the broker's return, and every change must then arrive exactly once,
// with the schemas registered before the outage unchanged. The broker aborts the transaction
// the outage kept open past its timeout: cdcd must say so, not speak of another process.
func TestKafkaOutagePausesReadingWithFlatMemory(t *testing.T) {
	gate := newCommitGate(t)
	kafka := StartPrivateKafka(t)
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE counters (id int PRIMARY KEY, v bigint NOT NULL)`)
	c := NewPostgresConnector(t, db, "public.counters")
	c.ConnectorExtra = []string{
		fmt.Sprintf("max_queue_size_in_bytes: %d", outageQueueBytes),
		fmt.Sprintf("producer_buffer_bytes: %d", outageProducerBytes),
	}
	t.Setenv("GOTRACEBACK", "all")
	cdcd := startPlainCDCD(t, kafka.UseIn(t, c.Config()))
	dumpGoroutinesOnFailure(t, cdcd)
	logStallStateOnFailure(t, kafka, conn, c.Name, c.Topic("counters"))
	c.WaitStreaming(t, conn)
	if want := fmt.Sprintf(`"buffer_bytes":%d`, outageBufferBound()); !strings.Contains(cdcd.Logs(), want) {
		t.Errorf("cdcd's log does not state its buffer bound %s", want)
	}
	mustExec(t, conn, `INSERT INTO counters SELECT i, 0 FROM generate_series(1, $1) i`, counterKeys)

	writer := startCounterWriter(t, pgIncrement(db.Conn(t)))
	consumer := kafka.NewAvroConsumer(t, c.RegistryURL(), c.Topic("counters"))
	records := consumer.Collect(t, 1000, time.Minute)
	schemasBefore := registeredSchemas(t, c.RegistryURL())
	baseline := residentMemory(t, cdcd.Pid())

	// The broker goes away while a commit is in flight: its records flushed, its transaction
	// not yet ended.
	gate.hold(t, cdcd)
	kafka.Stop(t)
	gate.release(t)
	writtenAtStop := writer.written.Load()
	samples := sampleOutage(t, cdcd, conn, c.Name, kafkaOutage)
	writtenDuringOutage := writer.written.Load() - writtenAtStop
	kafka.Start(t)
	restarted := time.Now()

	checkOutageMemory(t, samples, baseline)
	checkReadingPaused(t, samples)
	if writtenDuringOutage == 0 {
		t.Fatal("the writer committed nothing during the outage: the test measured no backpressure")
	}

	// The changes of the outage, and those committed since, arrive once the broker is back.
	target := counterKeys + int(writer.written.Load())
	records = append(records, consumer.Collect(t, target-len(records), 2*time.Minute)...)
	drain := time.Since(restarted)
	expected := writer.stop(t)
	records = collectCountersExplained(t, consumer, conn, records, expected)
	checkCounters(t, records, expected)
	after := residentMemory(t, cdcd.Pid())
	t.Logf("RSS: baseline %d MiB, max during the outage %d MiB (bound %d MiB), after recovery %d MiB; "+
		"%d changes written during the %s outage, %d in all; drained %s after the broker's restart",
		baseline>>20, maxRSS(samples)>>20, outageRSSBound(baseline)>>20, after>>20,
		writtenDuringOutage, kafkaOutage, expected, drain.Round(time.Millisecond))
	logs := cdcd.Logs()
	if !strings.Contains(logs, outageUnknownOutcome) {
		t.Fatalf("cdcd's log does not tell of the commit the outage interrupted: the test did not stop the broker during a commit")
	}
	first := firstCommitAfterOutage(t, logs)
	t.Logf("first commit %s after the broker's return", first.Sub(restarted.Truncate(time.Second)))
	if first.Sub(restarted.Truncate(time.Second)) > outageFirstCommit {
		t.Errorf("the first commit after the broker's return came at %s, %s after it, want within %s",
			first.Format(time.TimeOnly), first.Sub(restarted).Round(time.Second), outageFirstCommit)
	}
	// The broker aborts the transaction the outage kept open past its timeout, if its timer
	// ran before the commit reached it: cdcd restarts its pipeline from the committed position
	// once, and says why.
	restarts := strings.Count(logs, "pipeline failed, restarting")
	t.Logf("cdcd restarted its pipeline %d times", restarts)
	if strings.Contains(logs, "fenced by another process") {
		t.Errorf("cdcd's log speaks of fencing by another process; there was none, only the outage")
	}
	if restarts > 1 {
		t.Errorf("cdcd restarted its pipeline %d times, want at most once (for the transaction the broker aborted)", restarts)
	}

	if after := registeredSchemas(t, c.RegistryURL()); !equalSchemas(after, schemasBefore) {
		t.Errorf("the registry's schemas changed across the outage: before %v, after %v", schemasBefore, after)
	}
	checkSchemasInTopic(t, kafka, c.Prefix+"_schemas", schemasBefore)
	if code := cdcd.Stop(time.Minute); code != 0 {
		t.Errorf("cdcd exited with %d after SIGTERM", code)
	}
}

// dumpGoroutinesOnFailure makes a failed test leave cdcd's goroutines in its log (SIGQUIT, with
// GOTRACEBACK=all), which the log printed at the cleanup then shows: a pipeline that stalls
// without an error says where. Registered after startPlainCDCD, it runs before that cleanup.
func dumpGoroutinesOnFailure(t *testing.T, cdcd *CDCD) {
	t.Cleanup(func() {
		if !t.Failed() || cdcd.Exited() {
			return
		}
		if err := syscall.Kill(cdcd.Pid(), syscall.SIGQUIT); err != nil {
			t.Logf("SIGQUIT to cdcd: %v", err)
			return
		}
		cdcd.Wait(30 * time.Second)
	})
}

// commitGate holds one commit of a cdcd built with the cdcd_testhooks tag (see
// pipeline/testhook.go) so that the test stops the broker while that commit is in flight.
type commitGate struct{ dir string }

// commitGateEnv is the environment variable of pipeline/testhook.go.
const commitGateEnv = "CDCD_TEST_COMMIT_GATE"

// newCommitGate makes the folder of the gate and names it to the cdcd processes the test starts
// next (they inherit the test's environment).
func newCommitGate(t *testing.T) *commitGate {
	t.Helper()
	g := &commitGate{dir: t.TempDir()}
	t.Setenv(commitGateEnv, g.dir)
	return g
}

// hold makes the next commit wait, and returns once one does.
func (g *commitGate) hold(t *testing.T, cdcd *CDCD) {
	t.Helper()
	writeFile(t, filepath.Join(g.dir, "hold"), "")
	WaitFor(t, time.Minute, "a commit held in flight", func() error {
		if cdcd.Exited() {
			t.Fatalf("cdcd exited; log:\n%s", cdcd.Logs())
		}
		_, err := os.Stat(filepath.Join(g.dir, "held"))
		return err
	})
}

// release lets the held commit go on.
func (g *commitGate) release(t *testing.T) {
	t.Helper()
	if err := os.Remove(filepath.Join(g.dir, "hold")); err != nil {
		t.Fatal(err)
	}
}

// outageUnknownOutcome starts the warning cdcd logs when the outage interrupts a commit.
const outageUnknownOutcome = "the commit of the Kafka transaction has an unknown outcome"

// firstCommitAfterOutage returns the time of the first Kafka commit cdcd logged (at debug level)
// after the warning that the outage interrupted a commit: the first one once the broker
// answered again. zerolog's timestamps have whole seconds.
func firstCommitAfterOutage(t *testing.T, logs string) time.Time {
	t.Helper()
	interrupted := false
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, outageUnknownOutcome) {
			interrupted = true
			continue
		}
		if !interrupted || !strings.Contains(line, `"kafka transaction committed"`) {
			continue
		}
		var entry struct {
			Time time.Time `json:"time"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &entry); err != nil {
			t.Fatalf("cdcd's log line %q: %v", line, err)
		}
		return entry.Time
	}
	t.Fatalf("cdcd logged no commit after the warning %q", outageUnknownOutcome)
	return time.Time{}
}

// outageSample is what one second of the outage looked like.
type outageSample struct {
	at  time.Duration
	rss int64
	// confirmed is the slot's confirmed_flush_lsn, current the server's WAL insert position.
	confirmed, current pglogrepl.LSN
	// walsender is the pid of the slot's walsender (0 if none); replyTime the last time it
	// heard from cdcd.
	walsender int32
	replyTime time.Time
}

// sampleOutage samples cdcd's memory and the slot's state once a second for outage. The
// second is the sampling rate, not a synchronisation: every sample is checked afterwards.
func sampleOutage(t *testing.T, cdcd *CDCD, conn *pgx.Conn, slot string, outage time.Duration) []outageSample {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var samples []outageSample
	for {
		if cdcd.Exited() {
			t.Fatalf("cdcd exited during the outage; log:\n%s", cdcd.Logs())
		}
		s := outageSample{at: time.Since(start), rss: residentMemory(t, cdcd.Pid())}
		var confirmed, current string
		var pid *int32
		var reply *time.Time
		err := conn.QueryRow(t.Context(), `SELECT s.confirmed_flush_lsn::text, pg_current_wal_lsn()::text,
				r.pid, r.reply_time
			FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
			WHERE s.slot_name = $1`, slot).Scan(&confirmed, &current, &pid, &reply)
		if err != nil {
			t.Fatalf("reading slot %s: %v", slot, err)
		}
		if s.confirmed, err = pglogrepl.ParseLSN(confirmed); err != nil {
			t.Fatalf("confirmed_flush_lsn %q: %v", confirmed, err)
		}
		if s.current, err = pglogrepl.ParseLSN(current); err != nil {
			t.Fatalf("pg_current_wal_lsn %q: %v", current, err)
		}
		if pid != nil {
			s.walsender = *pid
		}
		if reply != nil {
			s.replyTime = *reply
		}
		samples = append(samples, s)
		if s.at >= outage {
			return samples
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-tick.C:
		}
	}
}

// checkOutageMemory asserts that the resident memory stayed under the buffers' bound throughout
// the outage, and flat over its second half.
func checkOutageMemory(t *testing.T, samples []outageSample, baseline int64) {
	t.Helper()
	if peak, bound := maxRSS(samples), outageRSSBound(baseline); peak > bound {
		t.Errorf("RSS reached %d MiB during the outage, over the bound of %d MiB (baseline %d MiB + 2 × %d MiB of buffers)",
			peak>>20, bound>>20, baseline>>20, outageBufferBound()>>20)
	}
	half := len(samples) / 2
	firstHalf, secondHalf := maxRSS(samples[:half]), maxRSS(samples[half:])
	if growth := secondHalf - firstHalf; growth > outagePlateauGrowth {
		t.Errorf("RSS grew by %d MiB over the second half of the outage (max %d MiB, then %d MiB): memory grows with the backlog",
			growth>>20, firstHalf>>20, secondHalf>>20)
	}
}

// outageAckGrace is how long after the broker's stop the slot may still be acknowledged: the
// last Kafka commit before the stop is acknowledged to PostgreSQL right after it.
const outageAckGrace = 3 * time.Second

// checkReadingPaused asserts that cdcd stopped acknowledging the slot while the server's WAL
// grew, and that the same walsender served the slot throughout, hearing from cdcd (keepalives
// answered) to the end.
func checkReadingPaused(t *testing.T, samples []outageSample) {
	t.Helper()
	var ref *outageSample
	for i := range samples {
		s := &samples[i]
		if s.walsender == 0 || s.walsender != samples[0].walsender {
			t.Fatalf("%s into the outage the slot's walsender is %d, was %d: the replication connection was lost",
				s.at.Round(time.Second), s.walsender, samples[0].walsender)
		}
		if s.at < outageAckGrace {
			continue
		}
		if ref == nil {
			ref = s
			continue
		}
		if s.confirmed != ref.confirmed {
			t.Errorf("%s into the outage the slot's confirmed_flush_lsn is %s, was %s at %s: acknowledged while Kafka was down",
				s.at.Round(time.Second), s.confirmed, ref.confirmed, ref.at.Round(time.Second))
		}
	}
	first, last := samples[0], samples[len(samples)-1]
	if ref == nil || last.current <= ref.current {
		t.Errorf("the server's WAL did not grow during the outage (%s to %s): the writer was not writing", first.current, last.current)
	}
	// cdcd sends a standby status every 10 s at least (DefaultStatusInterval), so the last
	// reply must be recent; a reader that stopped answering would leave it at the stop.
	if last.replyTime.Before(first.replyTime.Add(kafkaOutage / 2)) {
		t.Errorf("the walsender last heard from cdcd at %s, the outage began at %s and lasted %s: keepalives not answered",
			last.replyTime.Format(time.TimeOnly), first.replyTime.Format(time.TimeOnly), kafkaOutage)
	}
}

func maxRSS(samples []outageSample) int64 {
	var peak int64
	for _, s := range samples {
		peak = max(peak, s.rss)
	}
	return peak
}

// residentMemory returns the VmRSS of process pid, in bytes.
func residentMemory(t testing.TB, pid int) int64 {
	t.Helper()
	rss, err := procmem.Resident(pid)
	if err != nil {
		t.Fatal(err)
	}
	return rss
}

// buildPlainOnce builds cdcd without the race detector: its shadow memory would multiply the
// resident memory this test bounds. It has the test hooks (the cdcd_testhooks tag), which do
// nothing unless their environment variables are set.
var buildPlainOnce = sync.OnceValues(func() (string, error) {
	dir, err := binaryDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cdcd")
	if out, err := exec.Command("go", "build", "-tags", "cdcd_testhooks", "-o", bin, "../cmd/cdcd").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/cdcd: %w\n%s", err, out)
	}
	return bin, nil
})

// startPlainCDCD is [StartCDCD] with a binary built without the race detector.
func startPlainCDCD(t *testing.T, config string) *CDCD {
	t.Helper()
	bin, err := buildPlainOnce()
	if err != nil {
		t.Fatalf("building cdcd: %v", err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cdcd.yaml")
	writeFile(t, cfgPath, config)
	return startCDCD(t, bin, filepath.Join(dir, "cdcd.log"), "run", "--config", cfgPath)
}

// registeredSchemas returns, per subject of the registry, the schema id of each version.
func registeredSchemas(t *testing.T, registryURL string) map[string][]int {
	t.Helper()
	var subjects []string
	getJSON(t, registryURL+"/subjects", &subjects)
	if len(subjects) == 0 {
		t.Fatal("the registry holds no subject")
	}
	out := map[string][]int{}
	for _, subject := range subjects {
		var versions []int
		getJSON(t, registryURL+"/subjects/"+subject+"/versions", &versions)
		for _, v := range versions {
			var version struct {
				ID int `json:"id"`
			}
			getJSON(t, fmt.Sprintf("%s/subjects/%s/versions/%d", registryURL, subject, v), &version)
			out[subject] = append(out[subject], version.ID)
		}
	}
	return out
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	var body []byte
	WaitFor(t, time.Minute, "GET "+url, func() error {
		var err error
		body, err = httpGetBody(t.Context(), url)
		return err
	})
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: decoding %s: %v", url, body, err)
	}
}

func equalSchemas(a, b map[string][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for subject, ids := range a {
		if fmt.Sprint(ids) != fmt.Sprint(b[subject]) {
			return false
		}
	}
	return true
}

// checkSchemasInTopic reads the registry's topic on the restarted broker and asserts that it
// holds a schema record for each subject and id registered before the outage: the schemas
// survived in Kafka, not only in cdcd's memory.
func checkSchemasInTopic(t *testing.T, kafka *PrivateKafka, topic string, want map[string][]int) {
	t.Helper()
	client := kafka.Client(t,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	found := map[string]map[int]bool{}
	missing := func() error {
		for subject, ids := range want {
			for _, id := range ids {
				if !found[subject][id] {
					return fmt.Errorf("no record of subject %s id %d in %s", subject, id, topic)
				}
			}
		}
		return nil
	}
	WaitFor(t, time.Minute, "the schemas in topic "+topic, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		for _, r := range client.PollFetches(ctx).Records() {
			var v struct {
				Subject string `json:"subject"`
				ID      int    `json:"id"`
			}
			if r.Value == nil || json.Unmarshal(r.Value, &v) != nil || v.Subject == "" {
				continue // a tombstone, a config record or the id watermark
			}
			if found[v.Subject] == nil {
				found[v.Subject] = map[int]bool{}
			}
			found[v.Subject][v.ID] = true
		}
		return missing()
	})
}
