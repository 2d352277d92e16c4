package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// The servers of the chaos suite (docs/reliability.md): a toxiproxy running inside the test
// process, and private PostgreSQL (privatepostgres.go), MariaDB and Kafka servers that a fault
// may restart, stop or kill. The shared stack's servers, which every other test uses, only ever sit behind a proxy.

// ChaosProxies is a toxiproxy server run inside the test process (the module is pinned in
// go.mod; no binary is downloaded). Its proxies listen on free loopback ports.
type ChaosProxies struct {
	server *toxiproxy.ApiServer
}

// NewChaosProxies starts an empty toxiproxy; its proxies stop when the test ends.
func NewChaosProxies(t testing.TB) *ChaosProxies {
	t.Helper()
	// The server needs a metrics container even when none is exported.
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	t.Cleanup(func() { _ = server.Collection.Clear() })
	return &ChaosProxies{server: server}
}

// ChaosProxy is one proxy: cdcd connects to Addr, the proxy to the upstream server.
type ChaosProxy struct {
	proxy *toxiproxy.Proxy
	// Addr is the proxy's host:port.
	Addr string
}

// Proxy starts a proxy from a free loopback port to upstream. listen may name the port
// ("127.0.0.1:N"), for a broker that must advertise it before the proxy starts; "" picks one.
func (p *ChaosProxies) Proxy(t testing.TB, name, listen, upstream string) *ChaosProxy {
	t.Helper()
	if listen == "" {
		listen = FreeAddr(t)
	}
	proxy := toxiproxy.NewProxy(p.server, name, listen, upstream)
	if err := p.server.Collection.Add(proxy, true); err != nil {
		t.Fatalf("starting the proxy %s from %s to %s: %v", name, listen, upstream, err)
	}
	return &ChaosProxy{proxy: proxy, Addr: proxy.Listen}
}

// AddToxic adds a toxic to the proxy's connections, present and future. kind is a toxiproxy
// toxic type (latency, bandwidth, reset_peer, timeout...), stream "upstream" or "downstream",
// attributes its JSON attributes.
func (x *ChaosProxy) AddToxic(t testing.TB, name, kind, stream, attributes string) {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, kind, stream, attributes)
	if _, err := x.proxy.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
		t.Fatalf("adding the toxic %s to %s: %v", body, x.proxy.Name, err)
	}
}

// RemoveToxics removes every toxic. A timeout toxic closes the connections it held when it goes,
// as a firewall that dropped a connection's packets ends by resetting it.
func (x *ChaosProxy) RemoveToxics() {
	x.proxy.Toxics.ResetToxics(context.Background())
}

// Disable closes the listener and every connection through the proxy: a connection attempt is
// refused until Enable.
func (x *ChaosProxy) Disable(t testing.TB) {
	t.Helper()
	if err := x.proxy.Update(&toxiproxy.Proxy{Listen: x.proxy.Listen, Upstream: x.proxy.Upstream, Enabled: false}); err != nil {
		t.Fatalf("disabling the proxy %s: %v", x.proxy.Name, err)
	}
}

// Enable listens again on the same port.
func (x *ChaosProxy) Enable(t testing.TB) {
	t.Helper()
	err := Eventually(30*time.Second, func() error {
		return x.proxy.Update(&toxiproxy.Proxy{Listen: x.proxy.Listen, Upstream: x.proxy.Upstream, Enabled: true})
	})
	if err != nil {
		t.Fatalf("enabling the proxy %s: %v", x.proxy.Name, err)
	}
}

// PrivateMariaDB is a MariaDB server of the calling test's own (deploy/dev/mariadb.sh on a
// private folder and a free port), which a fault may restart.
type PrivateMariaDB struct {
	stack *privateStack
	// Addr is the server's host:port.
	Addr string
}

// StartPrivateMariaDB starts a private MariaDB, stopped when the test ends.
func StartPrivateMariaDB(t testing.TB) *PrivateMariaDB {
	t.Helper()
	stack, addr := startPrivateServer(t, "MariaDB", "mariadb.sh", "CDCD_MARIADB_PORT")
	return &PrivateMariaDB{stack: stack, Addr: addr}
}

// Start starts the server (again, with its data) and returns once it answers.
func (m *PrivateMariaDB) Start(t testing.TB) {
	t.Helper()
	if err := m.stack.script("mariadb.sh", "up"); err != nil {
		t.Fatalf("starting the private MariaDB: %v", err)
	}
}

// Stop stops the server cleanly (SIGTERM) and returns once its process has exited.
func (m *PrivateMariaDB) Stop(t testing.TB) {
	t.Helper()
	if err := m.stack.script("mariadb.sh", "down"); err != nil {
		t.Fatalf("stopping the private MariaDB: %v", err)
	}
}

// NewDB creates a database on this server. The server is thrown away with its databases.
func (m *PrivateMariaDB) NewDB(t testing.TB) *MariaDB {
	t.Helper()
	db := &MariaDB{Name: Name(t, "db"), addr: m.Addr}
	admin := openMariaDB(t, db.dsn(""))
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+db.Name); err != nil {
		t.Fatalf("creating database %s on the private MariaDB %s: %v", db.Name, m.Addr, err)
	}
	db.DB = openMariaDB(t, db.dsn(db.Name))
	return db
}

// ChaosKafka is a private broker (deploy/dev/kafka.sh) that advertises a proxy's address, so
// that every connection of its clients, not only the bootstrap one, passes through the proxy.
type ChaosKafka struct {
	*PrivateKafka
	stack *privateStack
	// Proxy stands between the clients and the broker.
	Proxy *ChaosProxy
}

// StartChaosKafka starts a proxy and a private broker behind it, both stopped when the test ends.
func StartChaosKafka(t testing.TB, proxies *ChaosProxies) *ChaosKafka {
	t.Helper()
	ports := map[string]string{}
	for _, name := range []string{"broker", "controller", "proxy", "sasl"} {
		addr := FreeAddr(t)
		for _, taken := range ports {
			for "127.0.0.1:"+taken == addr {
				addr = FreeAddr(t)
			}
		}
		_, ports[name], _ = strings.Cut(addr, ":")
	}
	stack := newPrivateStack(t,
		"CDCD_KAFKA_PORT="+ports["broker"],
		"CDCD_KAFKA_CONTROLLER_PORT="+ports["controller"],
		"CDCD_KAFKA_ADVERTISED_PORT="+ports["proxy"],
		// The SASL_SSL listener, unused here, on a port of its own rather than the default.
		"CDCD_KAFKA_SASL_PORT="+ports["sasl"],
		"CDCD_KAFKA_HEAP=-Xms256m -Xmx512m",
	)
	// The proxy first: the start script's readiness probe follows the advertised address.
	proxy := proxies.Proxy(t, "kafka", "127.0.0.1:"+ports["proxy"], "127.0.0.1:"+ports["broker"])
	k := &ChaosKafka{PrivateKafka: &PrivateKafka{addr: proxy.Addr, env: stack.env}, stack: stack, Proxy: proxy}
	t.Cleanup(func() {
		if err := stack.script("kafka.sh", "down"); err != nil {
			t.Errorf("stopping the private Kafka: %v", err)
		}
	})
	k.Start(t)
	return k
}

// Kill sends SIGKILL to the broker and returns once its process has gone.
func (k *ChaosKafka) Kill(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k.stack.dir, "kafka", "kafka.pid"))
	if err != nil {
		t.Fatalf("reading the private broker's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("the private broker's pid file holds %q", b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the private broker (pid %d): %v", pid, err)
	}
	WaitFor(t, time.Minute, "the killed broker to exit", func() error {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		if fields := strings.Fields(string(stat)); len(fields) > 2 && (fields[2] == "Z" || fields[2] == "X") {
			return nil
		}
		return fmt.Errorf("pid %d still runs", pid)
	})
}
