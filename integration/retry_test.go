package integration

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/connectors/mysql"
	"github.com/cdcd-dev/cdcd/pipeline"
)

// hangingProxy is a TCP endpoint in front of a server that either forwards connections to it or,
// while hung, accepts them and never answers: a network partition, or a server slow to come
// back from a failover, as a client sees them.
type hangingProxy struct {
	ln     net.Listener
	target string
	hung   atomic.Bool

	mu    sync.Mutex
	conns []net.Conn // every connection, forwarded or held, closed by hang and at the end
	held  atomic.Int64
}

// startHangingProxy forwards to target until hang is called.
func startHangingProxy(t *testing.T, target string) *hangingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangingProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.closeAll()
	})
	return p
}

// port is the proxy's port.
func (p *hangingProxy) port(t *testing.T) uint16 {
	t.Helper()
	_, port, _ := net.SplitHostPort(p.ln.Addr().String())
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

func (p *hangingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		if p.hung.Load() {
			p.held.Add(1)
			continue // accepted, never answered
		}
		go p.forward(c)
	}
}

func (p *hangingProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.track(s)
	go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
	_, _ = io.Copy(c, s)
	_ = c.Close()
}

func (p *hangingProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

func (p *hangingProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// hang cuts every open connection and holds the new ones without an answer.
func (p *hangingProxy) hang() {
	p.hung.Store(true)
	p.closeAll()
}

// heal forwards new connections again; the held ones are cut, as a client's timeout would.
func (p *hangingProxy) heal() {
	p.hung.Store(false)
	p.closeAll()
}

// TestPGConnectTimeoutIsRetried cuts a running PostgreSQL connector off its server, and has
// every new connection hang (accepted, never answered) until the connect timeout: a network
// partition or a slow failover. The pipeline must keep retrying (a connect timeout is as
// retryable as "connection refused"), and stream again once the server answers. It failed
// before: pipeline.IsRetryable took pgconn's timeout, which wraps context.DeadlineExceeded, for
// a cancellation, and RunWithRestarts ended with it.
func TestPGConnectTimeoutIsRetried(t *testing.T) {
	env := newPipelineEnv(t)
	db := NewPostgresDB(t)
	conn := db.Conn(t)
	mustExec(t, conn, `CREATE TABLE hang (id int PRIMARY KEY)`)
	proxy := startHangingProxy(t, StackFromEnv().PostgresAddr)
	cfg := pgSourceConfig(t, db, "public.hang")
	cfg.Port = proxy.port(t)
	cfg.ConnectTimeout = 500 * time.Millisecond
	src := openPGSource(t, cfg)
	p := env.pipeline(t, src, pipeline.RestartBackoff(50*time.Millisecond, 200*time.Millisecond))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = p.RunWithRestarts(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	committed := func(what string, n int64) {
		t.Helper()
		WaitFor(t, 2*time.Minute, what, func() error {
			select {
			case <-done:
				t.Fatalf("RunWithRestarts ended while waiting for %s: %v", what, runErr)
			default:
			}
			if got := p.Metrics().Stats().Records; got < n {
				return errors.New(strconv.FormatInt(got, 10) + " records committed")
			}
			return nil
		})
	}
	mustExec(t, conn, `INSERT INTO hang VALUES (1)`)
	committed("the first insert committed", 1)

	// The partition: every connection cut, every new one hangs until its timeout. The source's
	// reconnections time out again and again; a few of them must have been tried.
	proxy.hang()
	mustExec(t, conn, `INSERT INTO hang VALUES (2)`)
	WaitFor(t, 2*time.Minute, "three connection attempts held past their timeout", func() error {
		select {
		case <-done:
			t.Fatalf("the connector stopped on the partition instead of retrying: %v", runErr)
		default:
		}
		if n := proxy.held.Load(); n < 3 {
			return errors.New(strconv.FormatInt(n, 10) + " held")
		}
		return nil
	})

	proxy.heal()
	mustExec(t, conn, `INSERT INTO hang VALUES (3)`)
	committed("the inserts after the partition committed", 3)
}

// TestMySQLPurgedPositionFailsTheConnector stores a position, then purges the binary logs that
// hold it: with the default snapshot mode (initial), which does not snapshot again, the
// connector must stop with ErrPositionPurged (FAILED), not retry forever. It failed before:
// the mysql source never marked its permanent errors, so the pipeline retried them.
func TestMySQLPurgedPositionFailsTheConnector(t *testing.T) {
	m := NewMariaDB(t)
	mustExecMySQL(t, m.DB, "CREATE TABLE t (id INT PRIMARY KEY)")
	mustExecMySQL(t, m.DB, "INSERT INTO t SELECT seq FROM seq_1_to_3")
	cfg := mysqlSourceConfig(t, m, m.Name+".t")
	env := newPipelineEnv(t)
	open := func() *mysql.Source {
		t.Helper()
		src, err := mysql.Open(t.Context(), cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return src
	}
	backoff := pipeline.RestartBackoff(50*time.Millisecond, 200*time.Millisecond)

	// A first run: the snapshot, then a streamed insert, whose position is committed.
	p := env.pipeline(t, open(), backoff)
	_, stop := runPipeline(t, p)
	WaitFor(t, 2*time.Minute, "the snapshot committed", func() error {
		if s := p.Metrics().Stats(); s.Records < 3 || strings.Contains(string(s.LastCommitted.Source), `"snapshot"`) {
			return errors.New("snapshot not committed: " + s.LastCommitted.String())
		}
		return nil
	})
	before := p.Metrics().Stats().Records
	mustExecMySQL(t, m.DB, "INSERT INTO t VALUES (1001)")
	WaitFor(t, 2*time.Minute, "the insert committed", func() error {
		if p.Metrics().Stats().Records <= before {
			return errors.New("not yet")
		}
		return nil
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel = %v", err)
	}

	// More writes, then the binary logs up to them are purged: the stored position's are gone.
	mustExecMySQL(t, m.DB, "INSERT INTO t VALUES (1002)")
	purgeBinlogs(t, m.DB)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	err := env.pipeline(t, open(), backoff).RunWithRestarts(ctx)
	if ctx.Err() != nil {
		t.Fatalf("the connector was still retrying after 2 minutes (%v); want it stopped with ErrPositionPurged", err)
	}
	if !errors.Is(err, mysql.ErrPositionPurged) || pipeline.IsRetryable(err) {
		t.Fatalf("RunWithRestarts = %v, want the permanent ErrPositionPurged", err)
	}
	t.Logf("stopped with: %v", err)
}
